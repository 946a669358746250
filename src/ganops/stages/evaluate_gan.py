"""The `evaluate_gan@VARIANT` stage: FID/IS/KID/PR of one generator against the real test split."""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.data.dataset import load_split
from ganops.evaluation.metrics import generation_metrics
from ganops.evaluation.networks import feature_networks
from ganops.image.export import load_generator, sample_images
from ganops.tracking import runs as tracking


def run(
    cfg: Params, variant: str, data: Path, evaluator: Path, generator: Path, out: Path
) -> dict[str, float]:
    G, meta = load_generator(generator)
    real, _ = load_split(data, "test")
    nets = feature_networks(cfg.evaluate, evaluator)
    params_used = {"seed": cfg.seed, "evaluate": cfg.evaluate.model_dump()}
    with tracking.stage_run("evaluate_gan", cfg.registry.experiment, params_used, {"variant": variant}):
        fake = sample_images(
            G, meta, cfg.evaluate.num_images, seed=cfg.seed + 1, batch_size=cfg.evaluate.batch_size
        )
        metrics: dict[str, float] = {}
        for net in nets:
            metrics |= generation_metrics(net, fake, real, cfg.evaluate, cfg.seed)
        atomic.write_json(out, metrics)
        mlflow.log_metrics(metrics)
    return metrics
