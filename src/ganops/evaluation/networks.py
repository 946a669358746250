"""The feature networks named in `evaluate.networks`: the domain evaluator and/or FID Inception."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganops.config.params import EvaluateConfig


def feature_networks(cfg: EvaluateConfig, evaluator: Path) -> list:
    """The networks in `cfg.networks` order. Inception takes the domain evaluator's image shape;
    missing weights raise FileNotFoundError saying where to put the file, a wrong file ValueError."""
    from ganops.evaluation.evaluator import load_evaluator
    from ganops.evaluation.inception import load_inception

    domain = load_evaluator(evaluator)
    return [
        domain if name == "domain" else load_inception(domain.image_shape, cfg.inception_weights)
        for name in cfg.networks
    ]
