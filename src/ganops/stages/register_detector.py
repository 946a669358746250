"""The `register_detector` stage: the best detector (test TPR at 1% FPR) under the champion rule."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.artifacts import DETECTOR
from ganops.detection.metrics import AUC, TPR_AT_FPR_1PCT
from ganops.detection.report import LOO_MEAN_AUC
from ganops.tracking import candidates
from ganops.tracking import runs as tracking
from ganops.tracking.detector_model import DETECTOR as DETECTOR_CODE

PRIMARY_METRIC = TPR_AT_FPR_1PCT  # registry rule: higher is better
MODEL_DESCRIPTION = (
    "Real-vs-fake image detector trained by ganops on real images vs every GAN variant's fakes. Each "
    "version is the candidate (one LoggedModel per trained detector) with the highest test TPR at 1% FPR; "
    "alias `champion` moves to it only when that beats the champion's (`ganops rollback detector` undoes "
    "it). Input: float32 images (N, C, H, W) in [0, 1]; output: `p_fake` and `verdict` per image."
)


def best_detector(metrics: dict, detectors: list[str]) -> str:
    """The detector with the highest test TPR at 1% FPR (ties: higher AUC, then params order)."""
    missing = [name for name in detectors if name not in metrics]
    if missing:
        raise ValueError(f"no test metrics for detector(s) {', '.join(missing)}; run `dvc repro evaluate_detector`")
    return max(detectors, key=lambda n: (metrics[n]["test"][PRIMARY_METRIC], metrics[n]["test"][AUC]))


def run(cfg: Params, metrics_path: Path, models_dir: Path, out: Path) -> dict:
    """Register the best detector as detector.model_name under the champion/challenger rule."""
    if not metrics_path.is_file():
        raise FileNotFoundError(f"{metrics_path}: no detector metrics; run `dvc repro evaluate_detector` first")
    metrics = json.loads(metrics_path.read_text())
    best = best_detector(metrics, list(cfg.detector.detectors))
    weights = models_dir / best / DETECTOR
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: detector weights missing; run `dvc repro train_detector` first")
    candidate_metrics = {k: float(v) for k, v in metrics[best]["test"].items()}
    if LOO_MEAN_AUC in metrics[best]:
        candidate_metrics[LOO_MEAN_AUC] = float(metrics[best][LOO_MEAN_AUC])
    if "jpeg_q75" in metrics[best].get("robustness_auc", {}):
        candidate_metrics["auc_jpeg_q75"] = float(metrics[best]["robustness_auc"]["jpeg_q75"])
    tags = {"detector": best, **tracking.provenance_tags(Path.cwd())}
    params_used = {
        "model_name": cfg.detector.model_name,
        "primary_metric": PRIMARY_METRIC,
        "candidates": list(cfg.detector.detectors),
    }
    with tracking.stage_run("register_detector", cfg.registry.experiment, params_used, tags):
        mlflow.log_metrics(
            {
                f"{n}.{PRIMARY_METRIC}": metrics[n]["test"][PRIMARY_METRIC]
                for n in metrics
                if n in cfg.detector.detectors
            }
        )
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(candidate_metrics.items()))
        others = ", ".join(
            f"`{n}` {metrics[n]['test'][PRIMARY_METRIC]:.4g}" for n in cfg.detector.detectors if n != best
        )
        decision = candidates.register_chosen(
            "detector", best, weights, DETECTOR_CODE, candidate_metrics, tags,
            model=(cfg.detector.model_name, MODEL_DESCRIPTION), rule=(PRIMARY_METRIC, False),
            description=f"Detector `{best}`, chosen for the highest test `{PRIMARY_METRIC}` "
            f"(others: {others or 'none'}).\n\nTest metrics: {shown}.",
            item_tag="detector",
        )  # fmt: skip
        atomic.write_json(out, decision)
    return decision
