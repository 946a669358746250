"""The `evaluate_detector` stage: every detector on test reals vs never-seen test fakes.

Test metrics with bootstrap intervals, per generator, leave-one-generator-out, robustness to platform
transforms, the pixel-statistics leakage check and ROC curves; the DVC metrics file is the compact view.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.artifacts import DETECTOR
from ganops.data.dataset import load_split, load_splits
from ganops.detection.fakes import load_fakes
from ganops.detection.metrics import AUC, TPR_AT_FPR_1PCT, detection_metrics
from ganops.detection.report import LOO_MEAN_AUC, leak_fired, report_markdown
from ganops.tracking import candidates, datasets
from ganops.tracking import runs as tracking
from ganops.tracking.detector_model import DETECTOR as DETECTOR_CODE


def _roc_rows(labels: np.ndarray, p_fake: np.ndarray) -> str:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, p_fake)
    return "fpr,tpr\n" + "".join(f"{f:.6g},{t:.6g}\n" for f, t in zip(fpr, tpr, strict=True))


def evaluate_detectors(
    cfg: Params,
    data_dir: Path,
    fakes_dir: Path,
    models_dir: Path,
    device: str,
    progress: Callable[[str], None] = print,
) -> tuple[dict, dict, dict[str, str]]:
    """Judge every detector on test reals vs never-seen test fakes.

    Returns (details, dvc_metrics, roc csv text per detector). `details` holds every number:
    {detector: {test, per_generator, leave_one_out, robustness}, leakage: {...}}; `dvc_metrics` is
    the compact view of the same numbers for `dvc metrics show` (test metrics, and AUC elsewhere).
    """
    from ganops.detection.perturbations import robustness_tables
    from ganops.detection.training import leakage_check, leave_one_out

    dcfg, variants = cfg.detector, list(cfg.gan.variants)
    real_train, _ = load_splits(data_dir, dcfg.real_splits)
    real_test, _ = load_split(data_dir, "test")
    fakes_train = load_fakes(fakes_dir, variants, "train")
    fakes_test = load_fakes(fakes_dir, variants, "test")
    fake_test = np.concatenate([fakes_test[v] for v in variants])  # (N_fake, C, H, W)
    labels = np.concatenate([np.zeros(len(real_test), np.int64), np.ones(len(fake_test), np.int64)])

    warn = dcfg.leak_warn_auc
    leakage = {
        "train": leakage_check(real_train, np.concatenate(list(fakes_train.values())), cfg.seed, warn),
        "test": leakage_check(real_test, fake_test, cfg.seed, warn),
        "per_generator": {v: leakage_check(real_test, fakes_test[v], cfg.seed, warn) for v in variants},
    }
    details: dict = {"leakage": leakage, "generators": variants, "detectors": list(dcfg.detectors)}
    compact: dict = {"leakage": {k: leakage[k] for k in ("train", "test")}}
    rocs = {}
    detectors = _load_detectors(models_dir, dcfg.detectors, tuple(real_test.shape[1:]), device)
    robustness = robustness_tables(detectors, real_test, fake_test, seed=cfg.seed)
    for name, trained in detectors.items():
        p_real = trained.score(real_test)  # (N_real,)
        p_fakes = {v: trained.score(fakes_test[v]) for v in variants}
        p_fake = np.concatenate([p_real, *(p_fakes[v] for v in variants)])
        entry = {
            "test": detection_metrics(labels, p_fake, trained.threshold, dcfg.bootstrap_resamples, cfg.seed),
            "per_generator": {
                v: detection_metrics(
                    np.repeat([0, 1], [len(p_real), len(p_fakes[v])]),
                    np.concatenate([p_real, p_fakes[v]]),
                    trained.threshold,
                    dcfg.bootstrap_resamples,
                    cfg.seed,
                )
                for v in variants
            },
            "robustness": robustness[name],
        }
        progress(f"{name}: test AUC {entry['test'][AUC]:.4f}, TPR@1%FPR {entry['test'][TPR_AT_FPR_1PCT]:.4f}")
        if dcfg.leave_one_out and len(variants) >= 2:
            entry["leave_one_out"] = leave_one_out(
                name, real_train, fakes_train, real_test, fakes_test, dcfg, cfg.seed, device=device
            )
            entry[LOO_MEAN_AUC] = float(np.mean([m[AUC] for m in entry["leave_one_out"].values()]))
            progress(f"{name}: leave-one-generator-out mean AUC {entry[LOO_MEAN_AUC]:.4f}")
        details[name] = entry
        compact[name] = {
            "test": entry["test"],
            "per_generator_auc": {v: m[AUC] for v, m in entry["per_generator"].items()},
            "robustness_auc": {p: m[AUC] for p, m in entry["robustness"].items()},
        }
        if "leave_one_out" in entry:
            compact[name]["leave_one_out_auc"] = {v: m[AUC] for v, m in entry["leave_one_out"].items()}
            compact[name][LOO_MEAN_AUC] = entry[LOO_MEAN_AUC]
        rocs[name] = _roc_rows(labels, p_fake)
    return details, compact, rocs


def _load_detectors(models_dir: Path, names: list[str], image_shape: tuple[int, ...], device: str) -> dict:
    """{name: TrainedDetector} for `names`, each checked to take images of `image_shape` (C, H, W)."""
    from ganops.detection.io import load_detector

    detectors = {name: load_detector(models_dir / name, device=device) for name in names}
    for name, trained in detectors.items():
        if trained.image_shape != image_shape:
            raise ValueError(
                f"{models_dir / name}: expects images {trained.image_shape}, the test split holds "
                f"{image_shape}; run `dvc repro train_detector`"
            )
    return detectors


def _numbers(value: dict) -> dict[str, float]:
    """Flat {dotted.key: float} of every finite number (bools excluded) for MLflow."""
    return {
        key: float(v)
        for key, v in tracking.flatten("", value).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def log_per_detector(cfg: Params, data_dir: Path, models_dir: Path, compact: dict) -> None:
    """Each detector's test numbers on its own LoggedModel, from a nested run `evaluate_detector/NAME`
    (same keys for every detector, so the Models tab lines them up)."""
    real_test, labels = load_split(data_dir, "test")
    for name in cfg.detector.detectors:
        with mlflow.start_run(run_name=f"evaluate_detector/{name}", nested=True, tags={"detector": name}):
            test = datasets.log_prepared(data_dir, "test", real_test, labels, context="evaluation")
            model_id = candidates.candidate_id("detector", name, models_dir / name / DETECTOR, DETECTOR_CODE,
                                               {"detector": name})  # fmt: skip
            candidates.log_model_metrics(model_id, _numbers(compact[name]), dataset=test)


def run(
    cfg: Params,
    data_dir: Path,
    fakes_dir: Path,
    models_dir: Path,
    metrics_out: Path,
    details_out: Path,
    report_out: Path,
    roc_dir: Path,
    device: str,
) -> dict:
    """Evaluate every detector, then write metrics json, details json, markdown report and ROC csvs."""
    dcfg = cfg.detector
    params_used = {
        "seed": cfg.seed,
        "device": device,
        "generators": list(cfg.gan.variants),
        "detector": dcfg.model_dump(exclude={"num_fakes", "model_name"}),
    }
    with tracking.stage_run("evaluate_detector", cfg.registry.experiment, params_used, {}):
        details, compact, rocs = evaluate_detectors(
            cfg, data_dir, fakes_dir, models_dir, device, progress=lambda s: print(s, flush=True)
        )
        report = report_markdown(details, dcfg.leak_warn_auc)
        with atomic.atomic_dir(roc_dir) as tmp:
            for name, text in rocs.items():
                (tmp / f"{name}.csv").write_text(text)
        atomic.write_json(details_out, details)
        atomic.write_text(report_out, report)
        atomic.write_json(metrics_out, compact)
        mlflow.log_metrics(_numbers(compact))
        log_per_detector(cfg, data_dir, models_dir, compact)
        fired = leak_fired(details["leakage"])
        mlflow.set_tag("leak_warning", ", ".join(fired) if fired else "none")
        for path in (report_out, details_out):
            mlflow.log_artifact(str(path))
    if fired:
        print(
            "\n" + "!" * 78 + f"\nWARNING: LEAKAGE CHECK FIRED ({', '.join(fired)}): pixel mean/std alone "
            "separate real from fake.\nCheck that both classes were stored and scaled alike before "
            f"trusting these detectors; see {report_out}.\n" + "!" * 78,
            file=sys.stderr,
            flush=True,
        )
    return details
