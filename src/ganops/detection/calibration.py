"""Turning a detector's raw score into a calibrated p_fake and a decision threshold.

The detector's training images are split (seeded, stratified by class) into a *fit* part, on which
the detector learns, and a *validation* part, on which Platt scaling (a 1-D logistic regression on
the raw score) and the threshold are chosen. The test set is never touched here.

Threshold rules (`detector.threshold_rule`):
- `fpr` (default): the threshold with the highest TPR whose FPR on validation reals is at most
  `detector.target_fpr` (0.5%: half the 1% goal, as the estimate is noisy): a trust & safety default,
  since flagging a real user's photo is the expensive mistake. With few validation reals the
  achievable FPR is coarse (steps of 1/num_real).
- `balanced`: the threshold maximising balanced accuracy (Youden's J) on validation.

Either rule is then raised, if needed, so that the validation reals degraded by each of
`detector.threshold_perturbations` (blur, downscale, JPEG, noise: what an upload platform does to a
real photo) are flagged at most `target_fpr` of the time too (`threshold_for_fpr`). Without it a
threshold set on pristine reals flagged 12-31 % of resized or noisy reals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

THRESHOLD_RULES = ("fpr", "balanced")
_ABOVE_ONE = float(np.nextafter(1.0, 2.0))  # a threshold no probability reaches: flag nothing


def split_fit_validation(
    real: np.ndarray, fake: np.ndarray, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(real_fit, fake_fit, real_val, fake_val): each class split separately with a seeded shuffle."""
    rng = np.random.default_rng([seed, 1])
    parts = []
    for images in (real, fake):
        order = rng.permutation(len(images))
        num_val = min(max(1, round(len(images) * validation_fraction)), len(images) - 1)
        parts.append((images[order[num_val:]], images[order[:num_val]]))
    (real_fit, real_val), (fake_fit, fake_val) = parts
    return real_fit, fake_fit, real_val, fake_val


@dataclass(frozen=True)
class PlattScaling:
    """p_fake = sigmoid(coef * raw_score + intercept)."""

    coef: float
    intercept: float

    def logit(self, raw_score: np.ndarray) -> np.ndarray:
        return self.coef * np.asarray(raw_score, dtype=np.float64) + self.intercept

    def __call__(self, raw_score: np.ndarray) -> np.ndarray:
        return expit(self.logit(raw_score))


def fit_platt(raw_score: np.ndarray, labels: np.ndarray) -> PlattScaling:
    """Fit Platt scaling on validation scores (N,) and labels (N,) with scikit-learn.

    L2-regularised (C=1) so a perfectly separated validation set gives a finite slope instead of
    probabilities saturated at exactly 0 and 1, which would tie every image and break ranking.
    """
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(np.asarray(raw_score, dtype=np.float64).reshape(-1, 1), labels)
    return PlattScaling(float(model.coef_[0, 0]), float(model.intercept_[0]))


def choose_threshold(labels: np.ndarray, p_fake: np.ndarray, rule: str = "fpr", target_fpr: float = 0.01) -> float:
    """Decision threshold on validation p_fake: flag as fake when p_fake >= threshold."""
    from sklearn.metrics import roc_curve

    if rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)} (got {rule!r})")
    fpr, tpr, thresholds = roc_curve(labels, p_fake, drop_intermediate=False)
    if rule == "fpr":
        allowed = np.flatnonzero(fpr <= target_fpr + 1e-12)  # ROC points are sorted by rising FPR
        best = allowed[np.argmax(tpr[allowed])]
    else:
        best = int(np.argmax(tpr - fpr))
    return min(float(thresholds[best]), _ABOVE_ONE)  # roc_curve's first threshold is +inf


def threshold_for_fpr(p_real: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold that flags at most `target_fpr` of these real images' p_fake (N,)."""
    ranked = np.sort(np.asarray(p_real, dtype=np.float64))[::-1]  # (N,) most fake-looking first
    allowed = int(np.floor(target_fpr * len(ranked) + 1e-9))  # real images that may be flagged
    if allowed >= len(ranked):
        return 0.0
    return min(float(np.nextafter(ranked[allowed], np.inf)), _ABOVE_ONE)
