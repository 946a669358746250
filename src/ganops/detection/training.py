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

from ganops.detection.calibration import PlattScaling, choose_threshold, fit_platt, split_fit_validation
from ganops.detection.detectors import DETECTORS
from ganops.detection.metrics import detection_metrics

if TYPE_CHECKING:
    from ganops.config.params import DetectorConfig

LEAK_AUC = "leak_auc"
LEAK_WARNING = "leak_warning"
MIN_IMAGES_PER_CLASS = 10
_RANGE_SLACK = 1e-4  # float round-off of generators that map tanh output to [0, 1]


def _describe(array: np.ndarray) -> str:
    text = f"{tuple(array.shape)} {array.dtype}"
    if array.size and np.issubdtype(array.dtype, np.number):
        if not np.isfinite(array).all():
            return text + " containing NaN or inf"
        text += f" in [{array.min():g}, {array.max():g}]"
    return text


def check_images(images: Any, image_shape: tuple[int, int, int], what: str = "images") -> np.ndarray:
    """Validate user images against a model's (C, H, W); return float32 (N, C, H, W) in [0, 1].

    Accepts numpy arrays or torch tensors, any float dtype, and (N, H, W) for 1-channel models.
    Raises ValueError naming the expected and the received layout otherwise.
    """
    if hasattr(images, "detach"):  # torch.Tensor; bfloat16/float16 widened, other dtypes kept
        images = images.detach().cpu()
        images = (images.float() if images.is_floating_point() else images).numpy()
    array = np.asarray(images)
    c, h, w = image_shape
    expected = f"(N, {h}, {w}) or (N, 1, {h}, {w})" if c == 1 else f"(N, {c}, {h}, {w})"
    shape_ok = (array.ndim == 4 and array.shape[1:] == (c, h, w)) or (
        c == 1 and array.ndim == 3 and array.shape[1:] == (h, w)
    )
    float_ok = np.issubdtype(array.dtype, np.floating)
    range_ok = float_ok and (
        array.size == 0
        or (np.isfinite(array).all() and array.min() >= -_RANGE_SLACK and array.max() <= 1 + _RANGE_SLACK)
    )
    if not (shape_ok and range_ok):
        numeric = array.size and np.issubdtype(array.dtype, np.number) and np.isfinite(array).all()
        hint = " (divide 8-bit pixels by 255)" if numeric and array.max() > 1 else ""
        raise ValueError(
            f"{what}: expected float array {expected} with values in [0, 1], got {_describe(array)}{hint}"
        )
    return np.clip(array.reshape(-1, c, h, w), 0.0, 1.0).astype(np.float32, copy=False)


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
        return self.platt(self.model.raw_score(check_images(images, self.image_shape)))

    def predict(self, images: Any, threshold: float | None = None) -> np.ndarray:
        """(N,) bool: flagged as fake."""
        return self.score(images) >= (self.threshold if threshold is None else threshold)


def _check_pair(real: np.ndarray, fake: np.ndarray, min_count: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Both classes in one layout (N, C, H, W) float in [0, 1], never a different format per class."""
    real = np.asarray(real)
    if real.ndim != 4:
        raise ValueError(f"real images: expected a float array (N, C, H, W), got {_describe(real)}")
    shape = tuple(real.shape[1:])
    real, fake = check_images(real, shape, "real images"), check_images(fake, shape, "fake images")
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
    real, fake = _check_pair(real, fake, MIN_IMAGES_PER_CLASS)
    real_fit, fake_fit, real_val, fake_val = split_fit_validation(real, fake, cfg.validation_fraction, seed)
    model = DETECTORS[name](getattr(cfg, name, None), device).fit(real_fit, fake_fit, seed)

    val_labels = _labels(len(real_val), len(fake_val))
    raw_val = model.raw_score(np.concatenate([real_val, fake_val]))  # (N_val,)
    platt = fit_platt(raw_val, val_labels)
    p_val = platt(raw_val)
    threshold = choose_threshold(val_labels, p_val, cfg.threshold_rule, cfg.target_fpr)
    meta = {
        "generators": sorted(generators or []),
        "seed": int(seed),
        "threshold_rule": cfg.threshold_rule,
        "target_fpr": float(cfg.target_fpr),
        "num_fit_real": len(real_fit),
        "num_fit_fake": len(fake_fit),
        "num_val_real": len(real_val),
        "num_val_fake": len(fake_val),
        "train_seconds": float(model.train_seconds),
        # Optimistic: the threshold was chosen on these same images. Judge on the test split.
        "validation": detection_metrics(val_labels, p_val, threshold, bootstrap_resamples=0),
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
    return detection_metrics(
        _labels(len(real), len(fake)), p_fake, trained.threshold, bootstrap_resamples, seed
    )


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
    results = {}
    for held_out in sorted(fakes_train):
        seen = [g for g in sorted(fakes_train) if g != held_out]
        fake = np.concatenate([fakes_train[g] for g in seen])
        trained = train_detector(name, real_train, fake, cfg, seed, generators=seen, device=device)
        results[held_out] = evaluate_detector(
            trained, real_test, fakes_test[held_out], cfg.bootstrap_resamples, seed
        )
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
