"""The `evaluate_video_reference` stage: where any video generator sits between real and broken clips.

Rows, each scored against the real test clips exactly like a generator's clips: real detector_train
clips (the floor), static clips (one of their frames repeated), their frames shuffled, uniform noise.
"""

from __future__ import annotations

from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.tracking import runs as tracking
from ganops.video.evaluate import reference_rows
from ganops.video.evaluator import load_video_judges
from ganops.video.prepare import load_clips


def run(cfg: Params, data: Path, evaluator: Path, out: Path) -> dict:
    num = cfg.video.evaluate.num_clips
    test = load_clips(data, "test", num).clips  # what evaluate_video scores generators against
    other = load_clips(data, "detector_train", num).clips  # the floor's second real set
    params_used = {"seed": cfg.seed, "video.evaluate": cfg.video.evaluate.model_dump()}
    with tracking.stage_run("evaluate_video_reference", cfg.registry.experiment, params_used, {}):
        rows = reference_rows(load_video_judges(evaluator, cfg.video.evaluate), test, other, cfg.seed)
        atomic.write_json(out, rows)
        mlflow.log_metrics({f"{metric}_{row}": value for row, m in rows.items() for metric, value in m.items()})
    return rows
