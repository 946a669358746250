"""How good is a real-vs-fake detector, judged like a trust & safety team (label 1 = fake).

Ranking (AUC, average precision), the operating points that matter when false accusations are
expensive (TPR at 1% and 0.1% FPR, read honestly off the ROC curve), the decision at the chosen
threshold (balanced accuracy, FPR on reals, TPR on fakes), and calibration of `p_fake` (Brier
score, 15-bin expected calibration error), with seeded, stratified bootstrap 95% intervals.

TPR at a target FPR is the best TPR among ROC points whose FPR is at most the target, never an
interpolation past it. With fewer than 1/target reals the only such points have FPR 0, so
`tpr_at_fpr_0p1pct` on 500 reals is really "TPR with no false positive"; `num_real` is reported
beside it so the reader can see the resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

AUC = "auc"
AVERAGE_PRECISION = "average_precision"
TPR_AT_FPR_1PCT = "tpr_at_fpr_1pct"
TPR_AT_FPR_0P1PCT = "tpr_at_fpr_0p1pct"
BALANCED_ACCURACY = "balanced_accuracy"  # at the detector's threshold
FPR_AT_THRESHOLD = "fpr_real_at_threshold"  # share of real images flagged as fake
TPR_AT_THRESHOLD = "tpr_fake_at_threshold"  # share of fakes caught
BRIER = "brier"
ECE = "ece_15bin"
NUM_REAL = "num_real"
NUM_FAKE = "num_fake"
THRESHOLD = "threshold"
BOOTSTRAPPED = (AUC, AVERAGE_PRECISION, TPR_AT_FPR_1PCT, BALANCED_ACCURACY)
ECE_BINS = 15


def ci_keys(key: str) -> tuple[str, str]:
    """Metric keys of the bootstrap 95% interval for `key`."""
    return f"{key}_ci95_low", f"{key}_ci95_high"


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    """Highest TPR among ROC points with FPR <= `target_fpr` (no interpolation beyond the target)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(tpr[fpr <= target_fpr + 1e-12].max())


def expected_calibration_error(labels: np.ndarray, p_fake: np.ndarray, num_bins: int = ECE_BINS) -> float:
    """Mean |fraction of fakes - mean p_fake| over equal-width probability bins, weighted by bin size.

    Written here because scikit-learn has only `calibration_curve` (no weights); bins are assigned
    as in that function, so the two agree. This is the calibration error of p_fake itself (the
    reliability diagram of the positive class), not the top-label variant.
    """
    p_fake = np.asarray(p_fake, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    bins = np.searchsorted(edges[1:-1], p_fake)  # (N,) in 0..num_bins-1, as in calibration_curve
    sum_p = np.bincount(bins, weights=p_fake, minlength=num_bins)
    sum_y = np.bincount(bins, weights=labels, minlength=num_bins)
    return float(np.abs(sum_y - sum_p).sum() / max(len(p_fake), 1))


def _point_metrics(labels: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

    flagged = p_fake >= threshold
    return {
        AUC: float(roc_auc_score(labels, p_fake)),
        AVERAGE_PRECISION: float(average_precision_score(labels, p_fake)),
        TPR_AT_FPR_1PCT: tpr_at_fpr(labels, p_fake, 0.01),
        BALANCED_ACCURACY: float(balanced_accuracy_score(labels, flagged)),
    }


@dataclass(frozen=True)
class PointMetrics:
    """The BOOTSTRAPPED metrics at `threshold`, as a `bootstrap_ci` metric (labels 0/1, 1 = fake).

    Calling it scores one sample with scikit-learn; `bootstrap_ci` recognises it and scores all
    resamples at once instead (`_batched_point_metrics`), with the same result.
    """

    threshold: float

    def __call__(self, labels: np.ndarray, p_fake: np.ndarray) -> dict[str, float]:
        return _point_metrics(labels, p_fake, self.threshold)


def _stratified_resamples(labels: np.ndarray, num_resamples: int, seed: int) -> np.ndarray:
    """(num_resamples, num_real + num_fake) item indices: per row, the reals drawn with replacement, then the fakes."""
    rng = np.random.default_rng(seed)
    real_idx, fake_idx = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    resamples = np.empty((num_resamples, len(real_idx) + len(fake_idx)), dtype=np.int64)
    for row in resamples:  # this draw order fixes the intervals for a seed: keep it
        row[: len(real_idx)] = rng.choice(real_idx, len(real_idx))
        row[len(real_idx) :] = rng.choice(fake_idx, len(fake_idx))
    return resamples


def _batched_point_metrics(
    labels: np.ndarray, p_fake: np.ndarray, threshold: float, resamples: np.ndarray
) -> dict[str, np.ndarray]:
    """`_point_metrics` of every resample (rows of item indices), as {key: (R,)} arrays.

    Written here because scikit-learn scores one sample per call and has no batch of weight vectors:
    calling it four times per resample was most of evaluate_detector's time. A resample only
    changes how often each item counts, so the scores are sorted once and each metric is read off
    cumulative counts over the distinct scores, for all resamples at once. Same definitions as
    scikit-learn and `tpr_at_fpr` (ties count half in AUC; average precision is the un-interpolated
    step sum), equal to them up to float rounding (~1e-16).
    """
    num_resamples = len(resamples)
    ascending, inverse = np.unique(p_fake, return_inverse=True)
    distinct, rank = ascending[::-1], len(ascending) - 1 - inverse  # (K,) highest first; (N,) item -> position
    keys = np.arange(num_resamples)[:, None] * len(distinct) + rank[resamples]  # (R, n) resample and score
    num_real_columns = int((labels == 0).sum())  # each row holds its reals first, then its fakes

    def counts(columns: np.ndarray) -> np.ndarray:  # (R, K) items drawn at each distinct score
        return np.bincount(columns.ravel(), minlength=num_resamples * len(distinct)).reshape(num_resamples, -1)

    reals, fakes = counts(keys[:, :num_real_columns]), counts(keys[:, num_real_columns:])
    tp, fp = np.cumsum(fakes, axis=1), np.cumsum(reals, axis=1)  # (R, K) flagged when cut at distinct[k]
    num_fake, num_real = tp[:, -1], fp[:, -1]  # (R,), the same in every row (stratified)
    reals_below = num_real[:, None] - fp
    # 0/0 only above the highest score drawn, where no fake adds to the sum
    precision = np.divide(tp, tp + fp, out=np.zeros(tp.shape), where=tp + fp > 0)
    within_fpr = fp / num_real[:, None] <= 0.01 + 1e-12  # as tpr_at_fpr compares roc_curve's fpr
    flagged = distinct >= threshold  # (K,) the decision: a prefix of `distinct`
    return {
        AUC: (fakes * (reals_below + 0.5 * reals)).sum(axis=1) / (num_fake * num_real),
        AVERAGE_PRECISION: (fakes * precision).sum(axis=1) / num_fake,
        TPR_AT_FPR_1PCT: np.where(within_fpr, tp, 0.0).max(axis=1) / num_fake,
        BALANCED_ACCURACY: (reals[:, ~flagged].sum(axis=1) / num_real + fakes[:, flagged].sum(axis=1) / num_fake) / 2,
    }


def bootstrap_ci(
    labels: np.ndarray,
    scores: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], dict[str, float]],
    num_resamples: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of every value `metric(labels, scores)` returns.

    Reals and fakes are resampled separately (stratified), so every resample holds both classes
    in the original proportion. Seeded: the same inputs and seed give the same interval. A
    `PointMetrics` metric is computed for all resamples at once; any other callable once per resample.
    """
    resamples = _stratified_resamples(labels, num_resamples, seed)
    if isinstance(metric, PointMetrics) and num_resamples > 0:
        samples = _batched_point_metrics(labels, scores, metric.threshold, resamples)
    else:
        looped: dict[str, list[float]] = {}
        for idx in resamples:
            for key, value in metric(labels[idx], scores[idx]).items():
                looped.setdefault(key, []).append(value)
        samples = {key: np.asarray(values) for key, values in looped.items()}
    tail = (1.0 - confidence) / 2.0 * 100.0
    return {
        key: (float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail)))
        for key, values in samples.items()
    }


def detection_metrics(
    labels: np.ndarray,
    p_fake: np.ndarray,
    threshold: float,
    bootstrap_resamples: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """All detector metrics for calibrated `p_fake` (N,) against `labels` (N,) (1 = fake).

    An image is flagged as fake when p_fake >= threshold. `bootstrap_resamples=0` skips intervals.
    """
    from sklearn.metrics import brier_score_loss

    labels = np.asarray(labels).astype(np.int64)
    p_fake = np.asarray(p_fake, dtype=np.float64)
    if labels.shape != p_fake.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and p_fake {p_fake.shape} must be equal 1-D shapes")
    num_real, num_fake = int((labels == 0).sum()), int((labels == 1).sum())
    if num_real == 0 or num_fake == 0 or num_real + num_fake != len(labels):
        raise ValueError(f"need labels 0 (real) and 1 (fake), both present; got {num_real} real, {num_fake} fake")
    flagged = p_fake >= threshold
    out = _point_metrics(labels, p_fake, threshold)
    out |= {
        TPR_AT_FPR_0P1PCT: tpr_at_fpr(labels, p_fake, 0.001),
        FPR_AT_THRESHOLD: float(flagged[labels == 0].mean()),
        TPR_AT_THRESHOLD: float(flagged[labels == 1].mean()),
        BRIER: float(brier_score_loss(labels, p_fake)),
        ECE: expected_calibration_error(labels, p_fake),
        THRESHOLD: float(threshold),
        NUM_REAL: float(num_real),
        NUM_FAKE: float(num_fake),
    }
    if bootstrap_resamples > 0:
        intervals = bootstrap_ci(labels, p_fake, PointMetrics(threshold), bootstrap_resamples, seed)
        for key in BOOTSTRAPPED:
            low_key, high_key = ci_keys(key)
            out[low_key], out[high_key] = intervals[key]
    return out
