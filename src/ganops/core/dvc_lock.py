"""Read what `dvc.lock` recorded, without DVC (its Python API is not public) and without paying for it twice.

dvc.lock is plain YAML that grows with the DAG (~84 KB for the default pipeline) and a stage asks it more
than once, so it is parsed once per file version (path, mtime, size), with the C loader (core.yaml_io).

DVC rewrites dvc.lock in place (open "w+", then many small writes), so a stage that reads it while
another DVC process records a finished stage (`ganops repro --jobs 2`, the retrain flow) can see half a
file. DVC itself writes it only while holding its repo lock, `.dvc/tmp/lock` (an exclusive `flock`
taken by zc.lockfile; released while a stage command runs), so we read it under a *shared* flock on
that same file: never during a write, and DVC waits the milliseconds a read takes (it retries for
seconds, forever with `--wait-for-lock`). With `core.hardlink_lock: true` (DVC's NFS mode) its lock is
a link, not a flock: there a read can still meet a write in progress.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from ganops.core.flock import LockTimeout, flocked
from ganops.core.yaml_io import read_yaml

DVC_REPO_LOCK = Path(".dvc/tmp/lock")  # DVC's own repo lock (dvc/lock.py: zc.lockfile on this path)
T = TypeVar("T")
READ_WAIT_S = 300.0  # DVC holds its lock for seconds (hashing outputs); longer means something is stuck


class LockFileBusy(RuntimeError):
    """dvc.lock stayed locked by a DVC process for longer than a read would wait."""


def _parse_md5s(text: str) -> dict[str, str]:
    stages = (read_yaml(text) or {}).get("stages") or {}
    return {
        entry["path"]: entry["md5"]
        for stage in stages.values()
        for entry in stage.get("outs", [])
        if "path" in entry and "md5" in entry
    }


@lru_cache(maxsize=8)
def _md5s_of_version(path: str, _mtime_ns: int, _size: int) -> dict[str, str]:
    """The parsed outputs of one file version: the one cache, keyed by (path, mtime, size)."""
    return _parse_md5s(Path(path).read_text())


def _under_repo_lock(root: Path, read: Callable[[Path], T], on_wait: Callable[[], None] | None = None) -> T:
    """read(dvc.lock path), called under a shared flock on DVC's repo lock (waits up to READ_WAIT_S)."""
    lock = Path(root) / "dvc.lock"
    repo_lock = Path(root) / DVC_REPO_LOCK
    if not repo_lock.parent.is_dir():  # not a DVC project (a stage started by hand): nothing writes beside us
        return read(lock)
    with open(repo_lock, "a") as handle:
        try:
            with flocked(handle, shared=True, wait_s=READ_WAIT_S, on_wait=on_wait):
                return read(lock)
        except LockTimeout as exc:
            raise LockFileBusy(
                f"{lock} could not be read: a DVC process has held {repo_lock} for {exc.waited:.0f}s. "
                "Wait for it to finish (or stop it) and run the stage again"
            ) from None


def _text(lock: Path) -> str | None:
    try:
        return lock.read_text()
    except FileNotFoundError:
        return None


def _md5s(lock: Path) -> dict[str, str] | None:
    try:
        stat = lock.stat()
    except FileNotFoundError:
        return None
    return _md5s_of_version(str(lock), stat.st_mtime_ns, stat.st_size)


def lock_file_text(root: Path, on_wait: Callable[[], None] | None = None) -> str | None:
    """dvc.lock's text under `root` as DVC last wrote it whole, or None before the first one is written.

    Waits (up to READ_WAIT_S) while a DVC process holds the repo lock; `on_wait` is called once if it does.
    """
    return _under_repo_lock(root, _text, on_wait)


def locked_md5(root: Path, out: str) -> str | None:
    """The md5 dvc.lock records for the output `out` (a folder or file path, relative to `root`), whichever
    stage made it; None before the first lock is written or when no stage has that output."""
    md5s = _under_repo_lock(root, _md5s)
    return None if md5s is None else md5s.get(out)
