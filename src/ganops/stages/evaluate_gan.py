"""The `evaluate_gan@VARIANT` stage: FID/IS/KID/PR of one generator against the real test split.

The numbers go to metrics/gan/VARIANT.json (DVC), to this run, and to the generator's own MLflow
LoggedModel (the candidate train_gan logged, found by its weights' sha256), so the Models tab shows
each candidate with its params and its test metrics side by side.
"""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import atomic
from ganops.data.dataset import load_split
from ganops.evaluation.metrics import generation_metrics
from ganops.evaluation.networks import feature_networks
from ganops.image.export import load_generator, sample_images
from ganops.tracking import candidates, datasets
from ganops.tracking import runs as tracking
from ganops.tracking.generator_model import GENERATOR as GENERATOR_CODE


def run(cfg: Params, variant: str, data: Path, evaluator: Path, generator: Path, out: Path) -> dict[str, float]:
    G, meta = load_generator(generator)
    real, labels = load_split(data, "test")
    nets = feature_networks(cfg.evaluate, evaluator)
    params_used = {"seed": cfg.seed, "evaluate": cfg.evaluate.model_dump()}
    with tracking.stage_run("evaluate_gan", cfg.registry.experiment, params_used, {"variant": variant}):
        test = datasets.log_prepared(data, "test", real, labels, context="evaluation")
        model_id = candidates.candidate_id("generator", variant, generator, GENERATOR_CODE,
                                           {"variant": meta.get("variant_config", {})})  # fmt: skip
        fake = sample_images(G, meta, cfg.evaluate.num_images, seed=cfg.seed + 1, batch_size=cfg.evaluate.batch_size)
        metrics: dict[str, float] = {}
        for net in nets:
            metrics |= generation_metrics(net, fake, real, cfg.evaluate, cfg.seed)
        atomic.write_json(out, metrics)
        candidates.log_model_metrics(model_id, metrics, dataset=test)
    return metrics
