"""Atomic writes: outputs appear whole or not at all, so a failed run never clobbers a good one.

Everything is written to a temporary sibling first and moved into place with `os.replace`, which is
atomic on one filesystem. Directories are swapped as a whole (old one removed only after the new one
is complete; a run killed between the two renames finds the old one and puts it back). Temporary
names start with a dot and end in `.tmp` / `.old`, so DVC can be told to ignore them (.dvcignore).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temp file path beside `final`; on success it replaces `final`, on error it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty temp directory beside `final`; on success it replaces `final` as a whole."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".{final.name}.old")
    if old.exists() and not final.exists():  # killed between the two renames below: put it back
        os.replace(old, final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        moved = final.exists()
        if moved:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        if moved:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_torch(path: str | Path, payload: dict) -> None:
    """`torch.save` a plain dict atomically, byte-identical for identical payloads.

    Saving through a file handle matters: given a *path*, torch names the archive inside the file
    after it, and our temp names are random, so the same weights would hash differently each time
    (and the registry, which identifies models by sha256, would register duplicates).
    """
    import torch  # not at module level: atomic.py is used by stages that never touch torch

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)
