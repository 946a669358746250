"""The `register_video` stage: the variant with the lowest FVD_domain under the champion rule.

Registers `video.model_name` (ganops-video-generator): the version is the candidate LoggedModel its
train_video run logged (`models:/<model_id>`, a pyfunc from code, tracking/video_pyfunc.py) with its test
metrics, signature, input example and a description of how it was chosen. Logs every variant's metrics
in one MLflow run and writes the side-by-side table (metrics/video_report.md) with the reference rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.artifacts import GENERATOR
from ganops.tracking import candidates, registry
from ganops.tracking import runs as tracking
from ganops.tracking.video_model import VIDEO_GENERATOR as VIDEO_CODE
from ganops.video.evaluate import report_markdown
from ganops.video.metrics import FVD_DOMAIN

PRIMARY_METRIC = FVD_DOMAIN  # lower is better
MODEL_DESCRIPTION = (
    "Video generator trained by ganops (`dvc repro`). Each version is the candidate (one LoggedModel per "
    "trained MoCoGAN / 3D-conv variant) with the lowest test FVD_domain among the variants of one pipeline "
    "run; alias `champion` moves to it only when that FVD beats the champion's, `previous-champion` keeps "
    "the one before (`ganops rollback video`). Input: a DataFrame with an integer `seed` column (one clip "
    "per row) and, for conditional generators, an optional `label`; output: float32 clips (N, T, C, H, W) "
    "in [0, 1]."
)


def run(cfg: Params, metrics_dir: Path, models_dir: Path, reference: Path, out: Path, report: Path) -> dict:
    all_metrics = candidates.variant_metrics(metrics_dir, list(cfg.video.variants), "evaluate_video")
    best = min(all_metrics, key=lambda v: all_metrics[v].get(PRIMARY_METRIC, float("inf")))
    weights = models_dir / best / GENERATOR
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: video generator missing; run `dvc repro train_video` first")
    tags = {"variant": best, "family": cfg.video.variants[best].arch, **tracking.provenance_tags(Path.cwd())}
    params_used = {
        "model_name": cfg.video.model_name,
        "primary_metric": PRIMARY_METRIC,
        "candidates": list(all_metrics),
    }
    with tracking.stage_run("register_video", cfg.registry.experiment, params_used, tags):
        mlflow.log_metrics({f"{v}.{k}": float(x) for v, m in all_metrics.items() for k, x in m.items()})
        note = (
            f"Family: {tags['family']}. Clips: the `export.gif` / `export.mp4` artifacts of its train_video run "
            f"(`{models_dir / best / 'export.gif'}` in the workspace); its params are on the LoggedModel this "
            "version points at."
        )
        decision = candidates.register_chosen(
            "video_generator", best, weights, VIDEO_CODE, all_metrics[best], tags,
            model=(cfg.video.model_name, MODEL_DESCRIPTION), rule=(PRIMARY_METRIC, True),
            description=registry.chosen_description("Video generator", best, PRIMARY_METRIC, all_metrics, True, note),
        )  # fmt: skip
        rows = json.loads(reference.read_text()) if reference.is_file() else {}
        markdown = "# Video GAN variants\n\n" + report_markdown(all_metrics, rows, chosen=best)
        atomic.write_text(report, markdown + candidates.decision_line(decision))
        atomic.write_json(out, decision)
    return decision
