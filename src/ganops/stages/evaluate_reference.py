"""The `evaluate_reference` stage: real-data floor/ceiling and a noise generator, per feature network.

Where any model sits between the two: keys like `fid_floor_real_domain`, one set per network in
`evaluate.networks`.
"""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.data.dataset import load_split
from ganops.evaluation.metrics import reference_metrics
from ganops.evaluation.networks import feature_networks
from ganops.tracking import datasets
from ganops.tracking import runs as tracking


def run(cfg: Params, data: Path, evaluator: Path, out: Path) -> dict[str, float]:
    real_a, labels_a = load_split(data, "detector_train")
    real_b, labels_b = load_split(data, "test")
    params_used = {"seed": cfg.seed, "evaluate": cfg.evaluate.model_dump()}
    with tracking.stage_run("evaluate_reference", cfg.registry.experiment, params_used, {}):
        datasets.log_prepared(data, "detector_train", real_a, labels_a, context="reference")
        datasets.log_prepared(data, "test", real_b, labels_b, context="evaluation")
        metrics: dict[str, float] = {}
        for net in feature_networks(cfg.evaluate, evaluator):
            metrics |= reference_metrics(net, real_a, real_b, cfg.evaluate, cfg.seed)
        atomic.write_json(out, metrics)
        mlflow.log_metrics(metrics)  # the real-data floors and ceilings, beside the models' numbers
    return metrics
