"""The `detect_video` stage: do the image detectors catch generated clips? (label 1 = fake)

Fakes: `video.detector.num_fakes` clips from every video variant's exported generator, split
train/test in the proportion of the real detector_train : test clips. Each detector in
`video.detector.detectors` is trained (ganops.detection.video) on detector_train reals vs the train
fakes, with the image `detector` section's validation split, threshold rule and per-detector settings,
and judged on the test reals vs test fakes: frame-pooled and temporal clip scores, leave-one-out rows.
"""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.artifacts import GENERATOR
from ganops.detection.video import report_markdown, video_detection
from ganops.tracking import runs as tracking
from ganops.video.export import load_video_generator, sample_clips
from ganops.video.prepare import load_clips, load_video_manifest


def _fakes(cfg: Params, models: Path, train_share: float) -> tuple[dict, dict]:
    fakes_train, fakes_test = {}, {}
    num = cfg.video.detector.num_fakes
    cut = int(round(num * train_share))
    for k, variant in enumerate(cfg.video.variants):
        G, meta = load_video_generator(models / variant / GENERATOR)
        clips = sample_clips(G, meta, num, seed=cfg.seed + 100 + k)
        fakes_train[variant], fakes_test[variant] = clips[:cut], clips[cut:]
    return fakes_train, fakes_test


def run(cfg: Params, data: Path, models: Path, metrics_out: Path, report: Path) -> dict:
    dcfg = cfg.video.detector
    counts = load_video_manifest(data)["counts"]
    real_train, real_test = load_clips(data, "detector_train").clips, load_clips(data, "test").clips
    train_share = counts["detector_train"] / (counts["detector_train"] + counts["test"])
    fakes_train, fakes_test = _fakes(cfg, models, train_share)
    params_used = {"seed": cfg.seed, "video.detector": dcfg.model_dump()}
    with tracking.stage_run("detect_video", cfg.registry.experiment, params_used, {}):
        results = {
            name: video_detection(
                name,
                real_train,
                real_test,
                fakes_train,
                fakes_test,
                cfg.detector,
                dcfg.frames_per_clip,
                dcfg.clip_model,
                dcfg.leave_one_out,
                cfg.seed,
            )  # fmt: skip
            for name in dcfg.detectors
        }
        markdown = report_markdown(results)
        atomic.write_json(metrics_out, results)
        atomic.write_text(report, markdown)
        mlflow.log_metrics({f"{name}.{pooling}.{key}": float(value) for name, r in results.items()
                            for pooling, m in r["test"].items() for key, value in m.items()})  # fmt: skip
        mlflow.log_artifact(str(report))
    return results
