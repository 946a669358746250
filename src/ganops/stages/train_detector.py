"""The `train_detector@NAME` stage: one detector on the `detector.real_splits` reals vs every variant's train fakes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.artifacts import DETECTOR, DETECTOR_META
from ganops.data.dataset import load_split
from ganops.detection.fakes import load_fakes
from ganops.tracking import candidates, datasets
from ganops.tracking import runs as tracking
from ganops.tracking.detector_model import DETECTOR as DETECTOR_CODE

if TYPE_CHECKING:
    from ganops.detection.training import TrainedDetector


def run(cfg: Params, name: str, data_dir: Path, fakes_dir: Path, out_dir: Path, device: str) -> TrainedDetector:
    """Train detector `name` on the detector.real_splits reals vs every variant's train fakes; save to out_dir."""
    from ganops.detection.io import save_detector
    from ganops.detection.training import train_detector

    if name not in cfg.detector.detectors:
        raise ValueError(f"detector.detectors: {name!r} is not listed (listed: {', '.join(cfg.detector.detectors)})")
    variants = list(cfg.gan.variants)
    dcfg = cfg.detector
    reals = {split: load_split(data_dir, split)[0] for split in dcfg.real_splits}
    real = np.concatenate(list(reals.values()))
    fakes = load_fakes(fakes_dir, variants, "train")
    params_used = {
        "seed": cfg.seed,
        "detector": name,
        "device": device,
        "generators": variants,
        "real_splits": list(dcfg.real_splits),
        "validation_fraction": dcfg.validation_fraction,
        "threshold_rule": dcfg.threshold_rule,
        "target_fpr": dcfg.target_fpr,
        name: getattr(dcfg, name).model_dump(),
    }
    with tracking.stage_run("train_detector", cfg.registry.experiment, params_used, {"detector": name}):
        logged = [datasets.log_prepared(data_dir, s, x, None, context="training") for s, x in reals.items()]
        # what the detector learnt from (and drew its validation images from): every real split together
        learnt_from = (
            logged[0] if len(reals) == 1
            else datasets.log_split(f"prepared/{'+'.join(reals)}", real, None, data_dir, "training")
        )  # fmt: skip
        for variant, images in fakes.items():
            datasets.log_split(f"fakes/{variant}/train", images, None, fakes_dir / variant, context="training")
        trained = train_detector(
            name,
            real,
            np.concatenate(list(fakes.values())),
            dcfg,
            cfg.seed,
            generators=variants,
            device=device,
        )
        # Wall-clock time goes to MLflow, not into detector.pt: the same data, params and seed must give
        # the same bytes, so the registry (keyed by the file's sha256) does not register a retrain twice.
        train_seconds = trained.meta.pop("train_seconds", float("nan"))
        with atomic.atomic_dir(out_dir) as tmp:
            save_detector(trained, tmp)
        validation = trained.meta["validation"]
        # The candidate: one LoggedModel per trained detector, with the params that made it.
        model_id = candidates.log_candidate("detector", name, out_dir / DETECTOR, DETECTOR_CODE, params_used,
                                            {"detector": name})  # fmt: skip
        candidates.log_model_metrics(model_id, {f"validation.{k}": float(v) for k, v in validation.items()},
                                     dataset=learnt_from)  # fmt: skip
        mlflow.log_metrics({"train_seconds": train_seconds, "threshold": trained.threshold})
        trained.meta["train_seconds"] = train_seconds
        mlflow.log_artifact(str(out_dir / DETECTOR_META))
    return trained
