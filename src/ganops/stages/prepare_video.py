"""The `prepare_video` stage: render or read the clips, split them three ways, write data/video."""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import paths
from ganops.tracking import runs as tracking
from ganops.video.prepare import prepare_clips


def run(cfg: Params, out: Path) -> dict:
    """Write `out` (atomically) and return its manifest (counts, clip shape, skipped files)."""
    data_params = cfg.video.model_dump(exclude={"variants", "evaluate", "evaluator", "detector"})  # what it reads
    params_used = {"seed": cfg.seed, "video": data_params}
    with tracking.stage_run("prepare_video", cfg.registry.experiment, params_used, {}):  # its time in `ganops timings`
        manifest = prepare_clips(cfg.video, cfg.seed, out, paths.repo_root())
        tracking.log_manifest(manifest, suffix="_clips")
    return manifest
