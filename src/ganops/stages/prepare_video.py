"""The `prepare_video` stage: render or read the clips, split them three ways, write data/video."""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import paths
from ganops.video.prepare import prepare_clips


def run(cfg: Params, out: Path) -> dict:
    """Write `out` (atomically) and return its manifest (counts, clip shape, skipped files)."""
    return prepare_clips(cfg.video, cfg.seed, out, paths.repo_root())
