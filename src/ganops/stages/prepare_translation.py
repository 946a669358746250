"""The `prepare_translation` stage: domain A and B images in three disjoint splits (+ CycleGAN's unpaired view)."""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import paths
from ganops.tracking import runs as tracking
from ganops.translation.prepared import prepare_translation


def run(cfg: Params, out: Path) -> dict:
    """Write data/translation (atomically) and return its manifest (counts, skipped files)."""
    data_params = cfg.translation.model_dump(exclude={"variants", "evaluator", "detector"})  # what it reads
    params_used = {"seed": cfg.seed, "translation": data_params}
    with tracking.stage_run("prepare_translation", cfg.registry.experiment, params_used, {}):  # in `ganops timings`
        manifest = prepare_translation(cfg.translation, cfg.seed, out, paths.repo_root())
        tracking.log_manifest(manifest)  # counts {split: {domain: n}}: num_SPLIT_DOMAIN
    return manifest
