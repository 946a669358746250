"""The `train_video_evaluator` stage: the clip feature net (FVD_domain) and the frame classifier,
trained on real gan_train clips; their test accuracies are DVC metrics."""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.tracking import runs as tracking
from ganops.video.evaluator import save_judges, train_video_judges
from ganops.video.prepare import load_clips, load_video_manifest


def run(cfg: Params, data: Path, out: Path, metrics_out: Path) -> dict:
    manifest = load_video_manifest(data)
    train, test = load_clips(data, "gan_train"), load_clips(data, "test")
    params_used = {"seed": cfg.seed, "video.evaluator": cfg.video.evaluator.model_dump()}
    with tracking.stage_run("train_video_evaluator", cfg.registry.experiment, params_used, {}):
        clip_net, frame_net, metrics = train_video_judges(cfg.video.evaluator, train, test, manifest, cfg.seed)
        save_judges(out, clip_net, frame_net)
        atomic.write_json(metrics_out, metrics)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
    return metrics
