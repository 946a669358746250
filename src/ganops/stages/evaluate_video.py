"""The `evaluate_video@VARIANT` stage: every video metric of one exported generator vs real test clips.

`video.evaluate.num_clips` clips are sampled (seed + 1) and scored by ganops.video.evaluate exactly
like the reference rows of `evaluate_video_reference`. The numbers reach MLflow through register_video
(one run holding every variant's metrics); this stage imports no tracker, to start fast.
"""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import atomic
from ganops.video.evaluate import score_clips
from ganops.video.evaluator import load_video_judges
from ganops.video.export import load_video_generator, sample_clips
from ganops.video.prepare import load_clips


def run(cfg: Params, variant: str, data: Path, evaluator: Path, generator: Path, out: Path) -> dict[str, float]:
    G, meta = load_video_generator(generator)
    num = cfg.video.evaluate.num_clips
    real = load_clips(data, "test", num).clips
    fake = sample_clips(G, meta, num, seed=cfg.seed + 1)
    metrics = score_clips(load_video_judges(evaluator, cfg.video.evaluate), real, fake, cfg.seed)
    metrics["num_clips"] = float(num)
    atomic.write_json(out, metrics)
    return metrics
