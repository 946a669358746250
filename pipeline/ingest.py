"""Ingest: move validated images from `data/incoming/` into the DVC-tracked `data/raw/` (and a translation
source's two domains from `data/incoming_translation/{A,B}/` into `data/raw_translation/{A,B}/`: `ROUTES`).

Each file gets the same checks as a `folder:` source (`ganops.data.images.read_image`: pixel budget
from the header, Pillow verify + full decode, known image extension) plus the layout `prepare` reads
(flat, or one level of class sub-folders, never both). Good files move into `data/raw/` keeping their
class sub-folder; bad ones move to `data/quarantine/` beside a `<name>.reason.txt`. Nothing is deleted
and nothing is overwritten: every file ends up in exactly one of the two, under a free name.

What could poison `data/raw` never enters it: symbolic links (`dvc add` would copy whatever they point
at, inside the repo or not), names that are not valid UTF-8 (`dvc add` fails on them, on this and every
later run) and names ending in our own `.reason.txt`. Such files are quarantined under a safe name
(undecodable bytes as %XX), and the same happens to links and such names put into `data/raw` by hand.

A content sha256 ledger (`data/raw/.ingested.json`, versioned with the data
by `dvc add`; hidden, so `prepare` does not read it) makes a re-run skip what is already there: a file
whose bytes were ingested before is quarantined as a duplicate instead of being added twice.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ganops.core import atomic
from ganops.data.dataset import file_sha256
from ganops.data.images import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, display_name, name_problem, read_image

LEDGER = ".ingested.json"
REASON_SUFFIX = ".reason.txt"


@dataclass(frozen=True)
class Route:
    """Where one kind of new image arrives, where it goes, and which folder `dvc add` versions."""

    incoming: str
    raw: str
    quarantine: str
    dvc_folder: str


# The image family's class folders, and the two domains of a `folder:` translation source
# (translation.source: folder:data/raw_translation/A,folder:data/raw_translation/B; paired when names match).
ROUTES = (
    Route("data/incoming", "data/raw", "data/quarantine", "data/raw"),
    Route(
        "data/incoming_translation/A", "data/raw_translation/A", "data/quarantine_translation/A", "data/raw_translation"
    ),
    Route(
        "data/incoming_translation/B", "data/raw_translation/B", "data/quarantine_translation/B", "data/raw_translation"
    ),
)


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
    """`dest`, or `stem-<tag>[-n].ext` beside it when that name (or its reason sidecar) is taken."""

    def taken(path: Path) -> bool:
        return path.exists() or path.is_symlink() or path.with_name(path.name + REASON_SUFFIX).exists()

    if not taken(dest):
        return dest
    candidate = dest.with_name(f"{dest.stem}-{tag}{dest.suffix}")
    n = 1
    while taken(candidate):
        candidate = dest.with_name(f"{dest.stem}-{tag}-{n}{dest.suffix}")
        n += 1
    return candidate


def safe_part(name: str) -> str:
    """A file or folder name that is valid UTF-8 and never one of our sidecars (`x.reason.txt`)."""
    if name_problem(name) is not None:
        name = urllib.parse.quote(os.fsencode(name), safe=" !#$&'()+,;=@[]^`{}~-._")
    if name.endswith(REASON_SUFFIX):
        name = name.removesuffix(REASON_SUFFIX) + ".reason-user.txt"
    return name


def _entry_problem(path: Path, rel_parts: tuple[str, ...], sidecar: bool = True) -> str | None:
    """Why a file may not enter data/raw whatever its contents (link, name DVC cannot record, sidecar)."""
    if path.is_symlink():
        return "a symbolic link (ingest takes regular files only; copy the file itself in)"
    if any(name_problem(part) for part in rel_parts):
        return "the file name is not valid UTF-8 (DVC, JSON and CSV cannot record it); rename it"
    if sidecar and rel_parts[-1].endswith(REASON_SUFFIX):
        return f"the name ends in {REASON_SUFFIX}, which quarantine uses for its own notes; rename it"
    return None


def _raw_layout(raw: Path) -> str | None:
    """'classes' or 'flat' for what `raw` holds already; None while it holds no visible entry."""
    entries = [p for p in raw.iterdir() if not p.name.startswith(".")] if raw.is_dir() else []
    if any(p.is_dir() for p in entries):
        return "classes"
    return "flat" if entries else None


def has_files(folder: Path) -> bool:
    """Whether `folder` holds any visible file (hidden ones such as the ledger do not count)."""
    return folder.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in folder.rglob("*"))


def _check_image(path: Path, folder: Path, max_pixels: int) -> str | None:
    """None if `path` passes the folder-source checks, else the reason it does not."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file (extension {path.suffix!r}; expected one of {', '.join(IMAGE_EXTENSIONS)})"
    try:
        read_image(path, "rgb", max_pixels=max_pixels, root=folder)
    except ValueError as exc:  # not an image, corrupt or truncated, over the pixel budget
        return str(exc).removeprefix(f"{display_name(path)}: ")
    return None


def _load_ledger(raw: Path, root: Path, dvc_folder: str) -> dict[str, dict]:
    """sha256 -> entry for everything in `raw`, including files put there by hand (hashed here)."""
    path = raw / LEDGER
    ledger: dict[str, dict] = {}
    if path.is_file():
        try:
            ledger = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); restore it with `dvc checkout {dvc_folder}`") from None
    known = {entry["dest"] for entry in ledger.values()}
    found = f"found in {_rel(raw, root)}"
    for file in sorted(raw.rglob("*")) if raw.is_dir() else []:
        rel = _rel(file, root)
        if file.is_file() and not file.name.startswith(".") and rel not in known:
            ledger.setdefault(file_sha256(file), {"dest": rel, "source": found, "at": None})
    return ledger


@dataclass
class _Quarantine:
    """Moves files into the quarantine folder with a `<name>.reason.txt`; never overwrites anything."""

    root: Path
    folder: Path
    tag: str  # the run's timestamp, for names that are taken
    result: IngestResult

    def put(self, file: Path, rel_parts: tuple[str, ...], reason: str) -> None:
        dest = _free_name(self.folder.joinpath(*map(safe_part, rel_parts)), self.tag)
        dest.parent.mkdir(parents=True, exist_ok=True)
        source = display_name(_rel(file, self.root))
        shutil.move(file, dest)  # a symlink moves as the link itself, never its target
        _write_new(dest.with_name(dest.name + REASON_SUFFIX), f"{source}: {reason}\n")
        self.result.quarantined.append({"source": source, "dest": _rel(dest, self.root), "reason": reason})


def _write_new(path: Path, text: str) -> None:
    """Write `path` whole, failing rather than replacing a file that already has that name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.link(tmp, path)  # FileExistsError instead of an overwrite
    finally:
        os.unlink(tmp)


def _visible_entries(folder: Path) -> list[Path]:
    """Files and symbolic links (to anything) below `folder`, sorted; links are never descended."""
    return sorted(p for p in folder.rglob("*") if p.is_symlink() or p.is_file())


def _purge_raw(raw_dir: Path, raw: str, quarantine: _Quarantine) -> None:
    """Move out of `raw` what `dvc add` cannot or must not track (links, undecodable names)."""
    for file in _visible_entries(raw_dir):
        rel_parts = file.relative_to(raw_dir).parts
        if (reason := _entry_problem(file, rel_parts, sidecar=False)) is not None:
            quarantine.put(file, ("found-in-raw", *rel_parts), f"found in {raw}: {reason}")


def _layout_problem(rel_parts: tuple[str, ...], layout: str, raw: str, incoming: str) -> str | None:
    if len(rel_parts) > 2:
        return "nested folder (only one level of class folders is read)"
    if layout == "classes" and len(rel_parts) == 1:
        return f"{raw} uses class sub-folders; put the file in {incoming}/<class>/"
    if layout == "flat" and len(rel_parts) == 2:
        return f"{raw} holds images directly (no class folders); put the file in {incoming}/"
    return None


def ingest_incoming(
    root: Path,
    incoming: str = "data/incoming",
    raw: str = "data/raw",
    quarantine: str = "data/quarantine",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    dvc_folder: str | None = None,
) -> IngestResult:
    """Move every visible file under `incoming` into `raw` (valid, new) or `quarantine` (with a reason);
    `dvc_folder` is the DVC-tracked folder that holds `raw` (default: `raw` itself), named in repair hints."""
    root = Path(root).resolve()
    src_dir, raw_dir = root / incoming, root / raw
    result = IngestResult()
    if not src_dir.is_dir():
        return result
    raw_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    bad = _Quarantine(root, root / quarantine, now.replace(":", ""), result)
    _purge_raw(raw_dir, raw, bad)
    ledger = _load_ledger(raw_dir, root, dvc_folder or raw)
    # an empty data/raw takes the layout of the first files that arrive
    layout = _raw_layout(raw_dir) or _raw_layout(src_dir) or "flat"
    for file in _visible_entries(src_dir):
        rel_parts = file.relative_to(src_dir).parts
        if any(part.startswith(".") for part in rel_parts) and not file.is_symlink():
            result.left.append(display_name(_rel(file, root)))
            continue
        try:
            reason = (
                _entry_problem(file, rel_parts)
                or _layout_problem(rel_parts, layout, raw, incoming)
                or _check_image(file, src_dir, max_pixels)
            )
            sha = file_sha256(file) if reason is None else ""
            if reason is None and sha in ledger:
                reason = f"duplicate: the same bytes were ingested before as {ledger[sha]['dest']}"
        except Exception as exc:  # one odd file must not stop the rest: it is quarantined with the error
            reason, sha = f"could not be checked: {type(exc).__name__}: {exc}".splitlines()[0], ""
        if reason is not None:
            bad.put(file, rel_parts, reason)
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
