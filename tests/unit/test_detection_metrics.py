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


def _reference_bootstrap_ci(labels, scores, metric, num_resamples, seed, confidence=0.95):
    """bootstrap_ci as it was before the batched path: one `metric` call per resample."""
    rng = np.random.default_rng(seed)
    real_idx, fake_idx = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    samples = {}
    for _ in range(num_resamples):
        idx = np.concatenate([rng.choice(real_idx, len(real_idx)), rng.choice(fake_idx, len(fake_idx))])
        for key, value in metric(labels[idx], scores[idx]).items():
            samples.setdefault(key, []).append(value)
    tail = (1.0 - confidence) / 2.0 * 100.0
    return {
        key: (float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail)))
        for key, values in samples.items()
    }


def _shuffled_scores(num_real, num_fake, seed, decimals):
    labels, scores = _scores(num_real, num_fake, seed)
    if decimals is not None:  # ties, within and across the classes
        scores = np.round(scores, decimals)
    order = np.random.default_rng(seed + 100).permutation(len(labels))  # classes interleaved, not in blocks
    return labels[order], scores[order]


@pytest.mark.parametrize(
    ("num_real", "num_fake", "decimals", "threshold"),
    [
        (300, 200, None, 0.5),
        (300, 200, 2, 0.6),  # ~100 distinct scores
        (1000, 40, 1, 0.7),  # imbalanced, 11 distinct scores; 1% FPR allows 10 reals
        (25, 400, None, 0.3),  # imbalanced the other way: 1% FPR allows no real
        (7, 5, 1, 0.5),  # tiny
        (200, 150, 0, 0.5),  # scores 0 and 1 only
        (120, 80, 3, 1.5),  # threshold above every score: nothing flagged
        (120, 80, 3, 0.0),  # everything flagged
    ],
)
@pytest.mark.parametrize("seed", [0, 11])
def test_batched_bootstrap_equals_the_per_resample_loop(num_real, num_fake, decimals, threshold, seed):
    labels, scores = _shuffled_scores(num_real, num_fake, seed, decimals)
    fast = dm.bootstrap_ci(labels, scores, dm.PointMetrics(threshold), 30, seed)
    slow = _reference_bootstrap_ci(labels, scores, lambda y, s: dm._point_metrics(y, s, threshold), 30, seed)
    assert fast.keys() == slow.keys() == set(dm.BOOTSTRAPPED)
    for key in dm.BOOTSTRAPPED:
        assert fast[key] == pytest.approx(slow[key], abs=1e-12, rel=0), key


def test_batched_resamples_equal_the_loop_one_by_one():
    # Every resample's metrics, not only the two percentiles.
    labels, scores = _shuffled_scores(400, 300, seed=5, decimals=2)
    resamples = dm._stratified_resamples(labels, 100, seed=5)
    batched = dm._batched_point_metrics(labels, scores, 0.55, resamples)
    looped = [dm._point_metrics(labels[idx], scores[idx], 0.55) for idx in resamples]
    for key in dm.BOOTSTRAPPED:
        np.testing.assert_allclose(batched[key], [m[key] for m in looped], rtol=0, atol=1e-12)
    # PointMetrics is a plain callable too: the reference loop calls it once per resample.
    fast = dm.bootstrap_ci(labels, scores, dm.PointMetrics(0.55), 30, seed=9, confidence=0.8)
    slow = _reference_bootstrap_ci(labels, scores, dm.PointMetrics(0.55), 30, seed=9, confidence=0.8)
    for key in dm.BOOTSTRAPPED:
        assert fast[key] == pytest.approx(slow[key], abs=1e-12, rel=0), key


def test_detection_metrics_intervals_equal_the_per_resample_loop():
    labels, scores = _shuffled_scores(500, 250, seed=6, decimals=2)
    out = dm.detection_metrics(labels, scores, 0.6, bootstrap_resamples=50, seed=3)
    slow = _reference_bootstrap_ci(labels, scores, lambda y, s: dm._point_metrics(y, s, 0.6), 50, seed=3)
    for key in dm.BOOTSTRAPPED:
        assert (out[dm.ci_keys(key)[0]], out[dm.ci_keys(key)[1]]) == pytest.approx(slow[key], abs=1e-12, rel=0)


def test_bootstrap_ci_still_loops_over_any_callable():
    labels, scores = _shuffled_scores(60, 40, seed=7, decimals=None)

    def metric(y, s):
        return {"mean_fake_score": float(s[y == 1].mean()), "num_fake": float(y.sum())}

    out = dm.bootstrap_ci(labels, scores, metric, num_resamples=30, seed=2)
    assert out == _reference_bootstrap_ci(labels, scores, metric, 30, seed=2)
    assert out["num_fake"] == (40.0, 40.0)  # stratified: every resample keeps the 40 fakes
    assert dm.bootstrap_ci(labels, scores, dm.PointMetrics(0.5), num_resamples=0) == {}


def test_point_metrics_intervals_never_call_scikit_learn_per_resample(monkeypatch):
    labels, scores = _shuffled_scores(60, 40, seed=8, decimals=1)
    expected = dm.bootstrap_ci(labels, scores, dm.PointMetrics(0.5), num_resamples=20, seed=1)

    def fail(*args):
        raise AssertionError("per-resample scikit-learn call")

    monkeypatch.setattr(dm, "_point_metrics", fail)
    assert dm.bootstrap_ci(labels, scores, dm.PointMetrics(0.5), num_resamples=20, seed=1) == expected


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
