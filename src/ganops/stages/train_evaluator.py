"""The `train_evaluator` stage: the domain feature network (FID/IS features) on real gan_train images."""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.devices import pick_device
from ganops.data.dataset import load_manifest, load_split
from ganops.evaluation.evaluator import save_evaluator, train_evaluator
from ganops.tracking import datasets
from ganops.tracking import runs as tracking


def run(cfg: Params, data: Path, out: Path, metrics_out: Path) -> dict:
    manifest = load_manifest(data)
    train_x, train_y = load_split(data, "gan_train")
    test_x, test_y = load_split(data, "test")
    params_used = {"seed": cfg.seed, "evaluator": cfg.evaluator.model_dump()}
    with tracking.stage_run("train_evaluator", cfg.registry.experiment, params_used, {}):
        datasets.log_prepared(data, "gan_train", train_x, train_y, context="training")
        datasets.log_prepared(data, "test", test_x, test_y, context="evaluation")
        model, metrics = train_evaluator(
            cfg.evaluator, train_x, train_y, test_x, test_y, cfg.seed, device=pick_device(cfg.gan.device)
        )
        save_evaluator(model, out, {"class_names": manifest.get("class_names", [])})
        atomic.write_json(metrics_out, metrics)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
    return metrics
