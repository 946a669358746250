"""The `train_translation_evaluator` stage: the domain-B classifier that judges every translator.

The image family's evaluator network and training (evaluation.evaluator), trained on the *real B*
images of gan_train and tested on those of test: label preservation, FID and KID of the translators
are all measured in it. An unlabelled B domain trains the rotation task instead (no label preservation).
"""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.devices import pick_device
from ganops.evaluation.evaluator import save_evaluator, train_evaluator
from ganops.tracking import runs as tracking
from ganops.translation.prepared import load_translation_split


def run(cfg: Params, data: Path, out: Path, metrics_out: Path) -> dict:
    train, test = load_translation_split(data, "gan_train"), load_translation_split(data, "test")
    params_used = {"seed": cfg.seed, "evaluator": cfg.translation.evaluator.model_dump()}
    tags = {"domain": "translation_b"}
    with tracking.stage_run("train_translation_evaluator", cfg.registry.experiment, params_used, tags):
        model, metrics = train_evaluator(
            cfg.translation.evaluator, train.b, train.labels_b, test.b, test.labels_b, cfg.seed,
            device=pick_device(cfg.gan.device),
        )  # fmt: skip
        save_evaluator(model, out, {"class_names": train.class_names, "domain": "b"})
        atomic.write_json(metrics_out, metrics)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
    return metrics
