"""Read what `dvc.lock` recorded, without DVC (its Python API is not public) and without paying for it twice.

dvc.lock is plain YAML that grows with the DAG (~84 KB for the default pipeline) and a stage asks it more
than once, so it is parsed once per file version (path, mtime, size), with the C loader (core.yaml_io).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ganops.core.yaml_io import read_yaml


@lru_cache(maxsize=8)
def _out_md5s(path: str, _mtime_ns: int, _size: int) -> dict[str, str]:
    stages = (read_yaml(Path(path).read_text()) or {}).get("stages") or {}
    return {
        entry["path"]: entry["md5"]
        for stage in stages.values()
        for entry in stage.get("outs", [])
        if "path" in entry and "md5" in entry
    }


def locked_md5(root: Path, out: str) -> str | None:
    """The md5 dvc.lock records for the output `out` (a folder or file path, relative to `root`), whichever
    stage made it; None before the first lock is written or when no stage has that output."""
    lock = Path(root) / "dvc.lock"
    try:
        stat = lock.stat()
    except FileNotFoundError:
        return None
    return _out_md5s(str(lock), stat.st_mtime_ns, stat.st_size).get(out)
