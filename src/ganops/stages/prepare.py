"""The `prepare` stage: load the image source, validate it, split it into three disjoint sets."""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import paths
from ganops.data.prepare import prepare_dataset
from ganops.tracking import runs as tracking


def run(cfg: Params, out: Path) -> dict:
    """Write data/prepared (atomically) and return its manifest (counts, skipped files)."""
    params_used = {"seed": cfg.seed, "data": cfg.data.model_dump()}
    with tracking.stage_run("prepare", cfg.registry.experiment, params_used, {}):
        manifest = prepare_dataset(cfg.data, cfg.seed, out, paths.repo_root())
        tracking.log_manifest(manifest)
    return manifest
