"""The `evaluate_reference` stage: real-data floor/ceiling and a noise generator, per feature network.

Where any model sits between the two: keys like `fid_floor_real_domain`, one set per network in
`evaluate.networks`.
"""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import atomic
from ganops.data.dataset import load_split
from ganops.evaluation.metrics import reference_metrics
from ganops.evaluation.networks import feature_networks


def run(cfg: Params, data: Path, evaluator: Path, out: Path) -> dict[str, float]:
    real_a, _ = load_split(data, "detector_train")
    real_b, _ = load_split(data, "test")
    metrics: dict[str, float] = {}
    for net in feature_networks(cfg.evaluate, evaluator):
        metrics |= reference_metrics(net, real_a, real_b, cfg.evaluate, cfg.seed)
    atomic.write_json(out, metrics)
    return metrics
