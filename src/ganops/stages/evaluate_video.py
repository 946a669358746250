"""The `evaluate_video@VARIANT` stage: every video metric of one exported generator vs real test clips.

`video.evaluate.num_clips` clips are sampled (seed + 1) and scored by ganops.video.evaluate exactly
like the reference rows of `evaluate_video_reference`. The numbers go to metrics/video/VARIANT.json
(DVC), to this run, and to the generator's own MLflow LoggedModel (the candidate train_video logged,
found by its weights' sha256), so the Models tab lines the video candidates up with their metrics.
"""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import atomic
from ganops.tracking import candidates
from ganops.tracking import runs as tracking
from ganops.tracking.video_model import VIDEO_GENERATOR as VIDEO_CODE
from ganops.video.evaluate import score_clips
from ganops.video.evaluator import load_video_judges
from ganops.video.export import load_video_generator, sample_clips
from ganops.video.prepare import load_clips


def run(cfg: Params, variant: str, data: Path, evaluator: Path, generator: Path, out: Path) -> dict[str, float]:
    G, meta = load_video_generator(generator)
    num = cfg.video.evaluate.num_clips
    params_used = {"seed": cfg.seed, "evaluate": cfg.video.evaluate.model_dump()}
    tags = {"variant": variant, "family": meta["arch"]}
    with tracking.stage_run("evaluate_video", cfg.registry.experiment, params_used, tags):
        model_id = candidates.candidate_id("video_generator", variant, generator, VIDEO_CODE,
                                           {"variant": meta.get("config", {})})  # fmt: skip
        real = load_clips(data, "test", num).clips
        fake = sample_clips(G, meta, num, seed=cfg.seed + 1)
        metrics = score_clips(load_video_judges(evaluator, cfg.video.evaluate), real, fake, cfg.seed)
        metrics["num_clips"] = float(num)
        atomic.write_json(out, metrics)
        candidates.log_model_metrics(model_id, metrics)
    return metrics
