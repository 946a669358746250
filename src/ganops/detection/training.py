"""Train, calibrate and judge a detector: the library behind the detector stage (label 1 = fake).

`train_detector` splits the detector's training images into fit / validation parts (seeded,
stratified), fits the detector on the first, Platt scaling and the threshold on the second
(see calibration.py), and bundles them with the image shape they expect as a `TrainedDetector`.
`evaluate_detector` then judges it on held-out images, `leave_one_out` on a generator it never saw,
and `leakage_check` asks whether trivial pixel statistics alone separate the classes (a sign that
the two classes were stored or preprocessed differently, not that the detector sees artefacts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ganops.data.validate import check_image_batch, describe_array
from ganops.detection.calibration import (
    PlattScaling,
    choose_threshold,
    fit_platt,
    split_fit_validation,
    threshold_for_fpr,
)
from ganops.detection.detectors import DETECTORS
from ganops.detection.metrics import detection_metrics
from ganops.detection.perturbations import PERTURBATIONS, apply_perturbation

if TYPE_CHECKING:
    from ganops.config.params import DetectorConfig

LEAK_AUC = "leak_auc"
LEAK_WARNING = "leak_warning"
MIN_IMAGES_PER_CLASS = 10


@dataclass
class TrainedDetector:
    """A fitted detector with its calibration and decision threshold (flag when p_fake >= threshold)."""

    name: str
    model: Any  # a DETECTORS class instance
    platt: PlattScaling
    threshold: float
    image_shape: tuple[int, int, int]  # (C, H, W) the model expects
    meta: dict = field(default_factory=dict)  # generators seen, rule, counts, validation metrics, ...

    def score(self, images: Any) -> np.ndarray:
        """Calibrated p_fake (N,) float64 for float images (N, C, H, W) in [0, 1]."""
        return self.platt(self.model.raw_score(check_image_batch(images, self.image_shape)))

    def predict(self, images: Any, threshold: float | None = None) -> np.ndarray:
        """(N,) bool: flagged as fake."""
        return self.score(images) >= (self.threshold if threshold is None else threshold)


def _check_pair(real: np.ndarray, fake: np.ndarray, min_count: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Both classes in one layout (N, C, H, W) float in [0, 1], never a different format per class."""
    real = np.asarray(real)
    if real.ndim != 4:
        raise ValueError(f"real images: expected a float array (N, C, H, W), got {describe_array(real)}")
    shape = tuple(real.shape[1:])
    real, fake = check_image_batch(real, shape, "real images"), check_image_batch(fake, shape, "fake images")
    for what, images in (("real", real), ("fake", fake)):
        if len(images) < min_count:
            raise ValueError(f"{what} images: need at least {min_count}, got {len(images)}")
    return real, fake


def _labels(num_real: int, num_fake: int) -> np.ndarray:
    return np.concatenate([np.zeros(num_real, np.int64), np.ones(num_fake, np.int64)])


def train_detector(
    name: str,
    real: np.ndarray,
    fake: np.ndarray,
    cfg: DetectorConfig,
    seed: int,
    generators: list[str] | None = None,
    device: str = "cpu",
) -> TrainedDetector:
    """Fit detector `name` on real vs fake (N, C, H, W) float in [0, 1]; calibrate on a held-out part."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; registered: {', '.join(sorted(DETECTORS))}")
    unknown = [p for p in cfg.threshold_perturbations if p not in PERTURBATIONS]
    if unknown:
        raise ValueError(
            f"detector.threshold_perturbations: unknown {', '.join(unknown)}; "
            f"registered: {', '.join(sorted(PERTURBATIONS))}"
        )
    real, fake = _check_pair(real, fake, MIN_IMAGES_PER_CLASS)
    real_fit, fake_fit, real_val, fake_val = split_fit_validation(real, fake, cfg.validation_fraction, seed)
    model = DETECTORS[name](getattr(cfg, name, None), device).fit(real_fit, fake_fit, seed)

    val_labels = _labels(len(real_val), len(fake_val))
    raw_val = model.raw_score(np.concatenate([real_val, fake_val]))  # (N_val,)
    platt = fit_platt(raw_val, val_labels)
    p_val = platt(raw_val)
    threshold = choose_threshold(val_labels, p_val, cfg.threshold_rule, cfg.target_fpr)
    # Raised until degraded validation reals are flagged no more often than target_fpr either.
    p_real_degraded = {
        p: platt(model.raw_score(apply_perturbation(p, real_val, seed))) for p in cfg.threshold_perturbations
    }
    threshold = max([threshold, *(threshold_for_fpr(p, cfg.target_fpr) for p in p_real_degraded.values())])
    meta = {
        "generators": sorted(generators or []),
        "seed": int(seed),
        "threshold_rule": cfg.threshold_rule,
        "target_fpr": float(cfg.target_fpr),
        "threshold_perturbations": list(cfg.threshold_perturbations),
        "num_fit_real": len(real_fit),
        "num_fit_fake": len(fake_fit),
        "num_val_real": len(real_val),
        "num_val_fake": len(fake_val),
        "train_seconds": float(model.train_seconds),
        # Optimistic: the threshold was chosen on these same images. Judge on the test split.
        "validation": detection_metrics(val_labels, p_val, threshold, bootstrap_resamples=0),
        "validation_fpr_degraded": {p: float(np.mean(v >= threshold)) for p, v in p_real_degraded.items()},
    }
    return TrainedDetector(name, model, platt, threshold, tuple(int(s) for s in real.shape[1:]), meta)


def evaluate_detector(
    trained: TrainedDetector,
    real: np.ndarray,
    fake: np.ndarray,
    bootstrap_resamples: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """detection_metrics of `trained` on held-out real and fake images, at its own threshold."""
    real, fake = _check_pair(real, fake)
    p_fake = np.concatenate([trained.score(real), trained.score(fake)])
    return detection_metrics(_labels(len(real), len(fake)), p_fake, trained.threshold, bootstrap_resamples, seed)


def leave_one_out_config(name: str, cfg: DetectorConfig) -> DetectorConfig:
    """`cfg` with detector `name`'s `leave_one_out_epochs` (when set) in place of its `epochs`.

    The held-out models only have to show whether an unseen generator is caught, not to ship, so
    they may train shorter than the main detector; each one still starts from scratch and never
    sees the held-out generator."""
    section = getattr(cfg, name, None)
    epochs = getattr(section, "leave_one_out_epochs", None)
    if epochs is None or epochs >= section.epochs:  # never longer than the main detector
        return cfg
    return cfg.model_copy(update={name: section.model_copy(update={"epochs": epochs})})


def leave_one_out(
    name: str,
    real_train: np.ndarray,
    fakes_train: dict[str, np.ndarray],
    real_test: np.ndarray,
    fakes_test: dict[str, np.ndarray],
    cfg: DetectorConfig,
    seed: int,
    device: str = "cpu",
) -> dict[str, dict[str, float]]:
    """For each generator: train on the others' fakes, test on its own (never seen) fakes vs real_test."""
    if len(fakes_train) < 2 or set(fakes_train) != set(fakes_test):
        raise ValueError(
            "leave_one_out needs the same >= 2 generators in fakes_train and fakes_test, got "
            f"{sorted(fakes_train)} and {sorted(fakes_test)}"
        )
    loo_cfg = leave_one_out_config(name, cfg)
    results = {}
    for held_out in sorted(fakes_train):
        seen = [g for g in sorted(fakes_train) if g != held_out]
        fake = np.concatenate([fakes_train[g] for g in seen])
        trained = train_detector(name, real_train, fake, loo_cfg, seed, generators=seen, device=device)
        results[held_out] = evaluate_detector(trained, real_test, fakes_test[held_out], cfg.bootstrap_resamples, seed)
    return results


def leakage_check(real: np.ndarray, fake: np.ndarray, seed: int, warn_auc: float = 0.75) -> dict:
    """Cross-validated AUC of a logistic regression on per-channel pixel mean and std alone.

    Above `warn_auc`, the classes differ in plain brightness/contrast: check that both went through
    the same loading, scaling and resizing before trusting any detector trained on them. It is a
    prompt to look, not proof: a generator whose images are truly blurrier or dimmer fires it too.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    real, fake = _check_pair(real, fake, min_count=5)  # 5-fold cross-validation
    images = np.concatenate([real, fake]).astype(np.float64)
    features = np.concatenate([images.mean(axis=(2, 3)), images.std(axis=(2, 3))], axis=1)  # (N, 2C)
    labels = _labels(len(real), len(fake))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    p_fake = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(labels, p_fake))
    return {LEAK_AUC: auc, LEAK_WARNING: bool(auc > warn_auc)}
