"""The `prepare_translation` stage: domain A and B images in three disjoint splits (+ CycleGAN's unpaired view)."""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import paths
from ganops.translation.prepared import prepare_translation


def run(cfg: Params, out: Path) -> dict:
    """Write data/translation (atomically) and return its manifest (counts, skipped files)."""
    return prepare_translation(cfg.translation, cfg.seed, out, paths.repo_root())
