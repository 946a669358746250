"""Atomic writes: outputs appear whole or not at all, so a failed or killed run never clobbers a good one.

Everything is written to a temporary sibling first and moved into place with `os.replace`, which is
atomic on one filesystem. A directory is swapped in one step where the kernel can (Linux
`renameat2(RENAME_EXCHANGE)`); elsewhere the old one is moved aside, the new one moved in and the old
one removed, and a run killed between those two renames finds the old one and puts it back.

Temporary names start with a dot, carry the writer's pid and end in `.tmp` / `.old`, so DVC is told to
ignore them (.dvcignore) and the next write of the same path removes the ones a killed process
(`kill -9`, OOM killer) left behind. Just before an output is replaced, the audit event
`ganops.atomic.replace` (temp path, final path) is raised (PEP 578): the observable point where a kill
would hurt most, which tests/integration/test_kill_stages.py uses to kill stages there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganops.core.processes import pid_alive

REPLACE_EVENT = "ganops.atomic.replace"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _temp_prefix(final: Path) -> str:
    return f".{final.name}.{os.getpid()}."


def remove_stale_temps(final: Path) -> list[Path]:
    """Remove the temp siblings of `final` whose writer process is gone; returns what was removed.

    Only names this module makes (`.NAME.PID.XXXXXXXX.tmp`) are touched, and only when PID is not a
    live process on this machine; a live writer's temp (or a reused pid) is left alone.
    """
    pattern = re.compile(rf"\.{re.escape(final.name)}\.(\d+)\.[^.]+\.tmp")
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(final.parent):
            found = pattern.fullmatch(entry.name)
            if found is None or pid_alive(int(found[1])):
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temp file path beside `final`; on success it replaces `final`, on error it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        sys.audit(REPLACE_EVENT, str(tmp), str(final))
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step; False where the OS or filesystem cannot.

    Python has no binding for renameat2 (os.rename/os.replace cannot exchange), hence ctypes.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc >= 2.28
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False  # old kernel, or a filesystem without exchange (EPERM: some FUSE/overlay setups)
    raise OSError(err, os.strerror(err), str(a), None, str(b))


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty temp directory beside `final`; on success it replaces `final` as a whole.

    At no moment is `final` missing or partly written where the kernel can exchange two paths
    (Linux); elsewhere a kill between the two renames leaves `.NAME.old`, which the next call restores.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".{final.name}.old")
    if old.exists() and not final.exists():  # killed between the two renames below: put it back
        os.replace(old, final)
    remove_stale_temps(final)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(final), suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        sys.audit(REPLACE_EVENT, str(tmp), str(final))
        if final.exists() and _exchange(tmp, final):
            return  # tmp now holds the previous version; removed below
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
