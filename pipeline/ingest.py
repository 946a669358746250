"""Ingest: move validated images from `data/incoming/` into the DVC-tracked `data/raw/`.

Each file gets the same checks as a `folder:` source (`ganops.data.dataset.read_image`: Pillow verify +
full decode, known image extension) plus the layout `prepare` reads (flat, or one level of class
sub-folders, never both). Good files move into `data/raw/` keeping their class sub-folder; bad ones
move to `data/quarantine/` beside a `<name>.reason.txt`. Nothing is deleted: every file ends up in
exactly one of the two. A content sha256 ledger (`data/raw/.ingested.json`, versioned with the data
by `dvc add`; hidden, so `prepare` does not read it) makes a re-run skip what is already there: a file
whose bytes were ingested before is quarantined as a duplicate instead of being added twice.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ganops.core import atomic
from ganops.data.dataset import IMAGE_EXTENSIONS, file_sha256, read_image

LEDGER = ".ingested.json"


@dataclass
class IngestResult:
    ingested: list[dict] = field(default_factory=list)  # {"source", "dest", "sha256"} (repo-relative)
    quarantined: list[dict] = field(default_factory=list)  # {"source", "dest", "reason"}
    left: list[str] = field(default_factory=list)  # hidden files left in incoming (.gitkeep, .DS_Store)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _free_name(dest: Path, tag: str) -> Path:
    """`dest`, or `stem-<tag>[-n].ext` beside it when a different file already has that name."""
    if not dest.exists():
        return dest
    candidate = dest.with_name(f"{dest.stem}-{tag}{dest.suffix}")
    n = 1
    while candidate.exists():
        candidate = dest.with_name(f"{dest.stem}-{tag}-{n}{dest.suffix}")
        n += 1
    return candidate


def _raw_layout(raw: Path) -> str | None:
    """'classes' or 'flat' for what `raw` holds already; None while it holds no visible entry."""
    entries = [p for p in raw.iterdir() if not p.name.startswith(".")] if raw.is_dir() else []
    if any(p.is_dir() for p in entries):
        return "classes"
    return "flat" if entries else None


def has_files(folder: Path) -> bool:
    """Whether `folder` holds any visible file (hidden ones such as the ledger do not count)."""
    return folder.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in folder.rglob("*"))


def _check_image(path: Path) -> str | None:
    """None if `path` passes the folder-source checks, else the reason it does not."""
    from PIL import UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file (extension {path.suffix!r}; expected one of {', '.join(IMAGE_EXTENSIONS)})"
    try:
        read_image(path, "rgb")
    except UnidentifiedImageError:
        return "not an image (Pillow cannot identify its format)"
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...)
        return f"corrupt or truncated image: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _load_ledger(raw: Path, root: Path) -> dict[str, dict]:
    """sha256 -> entry for everything in `raw`, including files put there by hand (hashed here)."""
    path = raw / LEDGER
    ledger: dict[str, dict] = {}
    if path.is_file():
        try:
            ledger = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path}: not valid JSON ({exc}); restore it with `dvc checkout data/raw`"
            ) from None
    known = {entry["dest"] for entry in ledger.values()}
    for file in sorted(raw.rglob("*")) if raw.is_dir() else []:
        rel = _rel(file, root)
        if file.is_file() and not file.name.startswith(".") and rel not in known:
            ledger.setdefault(file_sha256(file), {"dest": rel, "source": "found in data/raw", "at": None})
    return ledger


def ingest_incoming(
    root: Path,
    incoming: str = "data/incoming",
    raw: str = "data/raw",
    quarantine: str = "data/quarantine",
) -> IngestResult:
    """Move every visible file under `incoming` into `raw` (valid, new) or `quarantine` (with a reason)."""
    root = Path(root).resolve()
    src_dir, raw_dir, bad_dir = root / incoming, root / raw, root / quarantine
    result = IngestResult()
    if not src_dir.is_dir():
        return result
    raw_dir.mkdir(parents=True, exist_ok=True)
    ledger = _load_ledger(raw_dir, root)
    # an empty data/raw takes the layout of the first files that arrive
    layout = _raw_layout(raw_dir) or _raw_layout(src_dir) or "flat"
    now = datetime.now(UTC).isoformat(timespec="seconds")

    def to_quarantine(file: Path, reason: str) -> None:
        dest = _free_name(bad_dir / file.relative_to(src_dir), now.replace(":", ""))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(file, dest)
        atomic.write_text(dest.with_name(dest.name + ".reason.txt"), f"{_rel(file, root)}: {reason}\n")
        result.quarantined.append({"source": _rel(file, root), "dest": _rel(dest, root), "reason": reason})

    for file in sorted(p for p in src_dir.rglob("*") if p.is_file()):
        rel_parts = file.relative_to(src_dir).parts
        if any(part.startswith(".") for part in rel_parts):
            result.left.append(_rel(file, root))
            continue
        if len(rel_parts) > 2:
            to_quarantine(file, "nested folder (only one level of class folders is read)")
            continue
        if layout == "classes" and len(rel_parts) == 1:
            to_quarantine(file, f"{raw} uses class sub-folders; put the file in {incoming}/<class>/")
            continue
        if layout == "flat" and len(rel_parts) == 2:
            to_quarantine(
                file, f"{raw} holds images directly (no class folders); put the file in {incoming}/"
            )
            continue
        if (reason := _check_image(file)) is not None:
            to_quarantine(file, reason)
            continue
        sha = file_sha256(file)
        if sha in ledger:
            to_quarantine(file, f"duplicate: the same bytes were ingested before as {ledger[sha]['dest']}")
            continue
        dest = _free_name(raw_dir.joinpath(*rel_parts), sha[:8])
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(file, dest)
        entry = {"dest": _rel(dest, root), "source": _rel(file, root), "at": now}
        ledger[sha] = entry
        result.ingested.append({**entry, "sha256": sha})
    if result.ingested:
        atomic.write_json(raw_dir / LEDGER, ledger)
    return result
