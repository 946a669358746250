"""Detector metrics and calibration against scikit-learn and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    roc_auc_score,
)

from ganops.detection import metrics as dm
from ganops.detection.calibration import (
    choose_threshold,
    fit_platt,
    split_fit_validation,
    threshold_for_fpr,
)


def _scores(num_real: int = 300, num_fake: int = 200, seed: int = 0, ties: bool = False):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.zeros(num_real, np.int64), np.ones(num_fake, np.int64)])
    scores = 1 / (1 + np.exp(-(rng.normal(size=len(labels)) + 1.5 * labels)))
    if ties:
        scores = np.round(scores, 1)
    return labels, scores


def _brute_tpr_at_fpr(labels, scores, target):
    best = 0.0
    for t in np.concatenate([np.unique(scores), [np.inf]]):
        flagged = scores >= t
        fpr, tpr = flagged[labels == 0].mean(), flagged[labels == 1].mean()
        if fpr <= target:
            best = max(best, tpr)
    return best


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("target", [0.001, 0.01, 0.1, 0.3])
def test_tpr_at_fpr_matches_brute_force(ties, target):
    labels, scores = _scores(ties=ties)
    assert dm.tpr_at_fpr(labels, scores, target) == pytest.approx(_brute_tpr_at_fpr(labels, scores, target))


def test_tpr_at_fpr_never_reads_past_target():
    # 10 reals: the lowest non-zero FPR is 10%, so a 1% target allows FPR 0 only.
    labels = np.array([0] * 10 + [1] * 4)
    scores = np.array([0.1] * 9 + [0.95] + [0.9, 0.96, 0.97, 0.98])
    assert dm.tpr_at_fpr(labels, scores, 0.01) == pytest.approx(0.75)
    assert dm.tpr_at_fpr(labels, scores, 0.1) == pytest.approx(1.0)


def test_detection_metrics_agree_with_sklearn():
    labels, scores = _scores(seed=1)
    threshold = 0.6
    out = dm.detection_metrics(labels, scores, threshold, bootstrap_resamples=0)
    assert out[dm.AUC] == pytest.approx(roc_auc_score(labels, scores))
    assert out[dm.AVERAGE_PRECISION] == pytest.approx(average_precision_score(labels, scores))
    assert out[dm.BRIER] == pytest.approx(brier_score_loss(labels, scores))
    flagged = scores >= threshold
    assert out[dm.BALANCED_ACCURACY] == pytest.approx(balanced_accuracy_score(labels, flagged))
    assert out[dm.FPR_AT_THRESHOLD] == pytest.approx(flagged[labels == 0].mean())
    assert out[dm.TPR_AT_THRESHOLD] == pytest.approx(flagged[labels == 1].mean())
    assert out[dm.NUM_REAL] == 300 and out[dm.NUM_FAKE] == 200
    assert dm.ci_keys(dm.AUC)[0] not in out  # no bootstrap asked


def test_ece_matches_calibration_curve_weighted_by_bin_counts():
    labels, scores = _scores(seed=2)
    prob_true, prob_pred = calibration_curve(labels, scores, n_bins=15, strategy="uniform")
    counts, _ = np.histogram(scores, bins=np.linspace(0, 1, 16))
    expected = np.sum(np.abs(prob_true - prob_pred) * counts[counts > 0]) / len(scores)
    assert dm.expected_calibration_error(labels, scores) == pytest.approx(expected)


def test_ece_is_zero_when_calibrated_and_large_when_overconfident():
    # One bin: 20 images at p = 0.65 of which 13 (65%) are fake is perfectly calibrated.
    labels = np.array([1] * 13 + [0] * 7)
    assert dm.expected_calibration_error(labels, np.full(20, 0.65)) == pytest.approx(0.0)
    assert dm.expected_calibration_error(labels, np.full(20, 0.99)) == pytest.approx(0.99 - 0.65)


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate():
    labels, scores = _scores(seed=3)
    a = dm.detection_metrics(labels, scores, 0.5, bootstrap_resamples=60, seed=7)
    b = dm.detection_metrics(labels, scores, 0.5, bootstrap_resamples=60, seed=7)
    c = dm.detection_metrics(labels, scores, 0.5, bootstrap_resamples=60, seed=8)
    assert a == b
    low, high = dm.ci_keys(dm.AUC)
    assert a[low] < a[dm.AUC] < a[high] and a[high] - a[low] < 0.2
    assert (a[low], a[high]) != (c[low], c[high])
    for key in dm.BOOTSTRAPPED:
        assert a[dm.ci_keys(key)[0]] <= a[dm.ci_keys(key)[1]]


def test_detection_metrics_rejects_one_class_and_bad_shapes():
    with pytest.raises(ValueError, match="both present"):
        dm.detection_metrics(np.zeros(5), np.linspace(0, 1, 5), 0.5)
    with pytest.raises(ValueError, match="1-D"):
        dm.detection_metrics(np.array([0, 1]), np.array([0.1, 0.2, 0.3]), 0.5)


def test_split_fit_validation_is_stratified_disjoint_and_seeded():
    real = np.arange(100, dtype=np.float32)[:, None]
    fake = np.arange(1000, 1040, dtype=np.float32)[:, None]
    parts = split_fit_validation(real, fake, 0.25, seed=0)
    real_fit, fake_fit, real_val, fake_val = parts
    assert (len(real_fit), len(real_val), len(fake_fit), len(fake_val)) == (75, 25, 30, 10)
    assert not set(real_fit.ravel()) & set(real_val.ravel())
    assert set(real_fit.ravel()) | set(real_val.ravel()) == set(real.ravel())
    again = split_fit_validation(real, fake, 0.25, seed=0)
    other = split_fit_validation(real, fake, 0.25, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(parts, again, strict=True))
    assert not np.array_equal(real_val, other[2])


def test_fit_platt_recovers_a_logistic_link():
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 2, size=20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-(0.5 * raw - 1.0)))).astype(int)
    platt = fit_platt(raw, labels)
    assert platt.coef == pytest.approx(0.5, abs=0.05)
    assert platt.intercept == pytest.approx(-1.0, abs=0.1)
    assert np.all(np.diff(platt(np.sort(raw))) >= 0)  # monotone: ranking is kept


def test_threshold_fpr_rule_keeps_validation_fpr_under_target():
    labels, scores = _scores(num_real=1000, num_fake=500, seed=4)
    threshold = choose_threshold(labels, scores, "fpr", 0.01)
    flagged = scores >= threshold
    assert flagged[labels == 0].mean() <= 0.01
    assert flagged[labels == 1].mean() == pytest.approx(_brute_tpr_at_fpr(labels, scores, 0.01))


def test_threshold_balanced_rule_maximises_balanced_accuracy():
    labels, scores = _scores(seed=5)
    threshold = choose_threshold(labels, scores, "balanced")
    best = max(balanced_accuracy_score(labels, scores >= t) for t in np.unique(scores))
    assert balanced_accuracy_score(labels, scores >= threshold) == pytest.approx(best)
    with pytest.raises(ValueError, match="threshold rule"):
        choose_threshold(labels, scores, "youden")


def test_threshold_flags_nothing_when_the_top_validation_image_is_real():
    labels, scores = np.array([0, 1, 1, 0]), np.array([0.9, 0.5, 0.4, 0.1])
    threshold = choose_threshold(labels, scores, "fpr", 0.01)  # any flag would be a 50% FPR
    assert threshold > 1.0 and not np.any(scores >= threshold)


@pytest.mark.parametrize("target", [0.0, 0.004, 0.01, 0.05, 0.5])
def test_threshold_for_fpr_is_the_lowest_that_keeps_real_fpr_under_target(target):
    p_real = np.random.default_rng(0).random(250)
    threshold = threshold_for_fpr(p_real, target)
    assert np.mean(p_real >= threshold) <= target + 1e-12
    flagged_one_more = np.mean(p_real >= np.max(p_real[p_real < threshold]))  # next lower cut
    assert flagged_one_more > target
    assert threshold_for_fpr(p_real, 1.0) == 0.0  # everything may be flagged
