"""The metric suite: hand-computed KID / IS, torchmetrics cross-checks, keys, input validation."""

import itertools
import math

import numpy as np
import pytest
import torch

from ganops.config.params import EvaluateConfig
from ganops.evaluation import metric_keys as K
from ganops.evaluation.evaluator import build_evaluator
from ganops.evaluation.metrics import (
    DomainFeatureExtractor,
    check_images,
    class_coverage,
    compute_features,
    fid_from_features,
    generation_metrics,
    generation_metrics_from_features,
    inception_score_from_logits,
    kid_from_features,
    precision_recall,
)

SMALL = EvaluateConfig(num_images=100, batch_size=64, kid_subsets=5, kid_subset_size=1000, is_splits=2)


@pytest.fixture(scope="module")
def tiny_evaluator():
    torch.manual_seed(0)
    return build_evaluator((1, 8, 8), num_classes=3, feature_dim=8).eval()


def images(count, seed, shape=(1, 8, 8)):
    return np.random.default_rng(seed).random((count, *shape), dtype=np.float32)


# --- keys ---


def test_metric_keys_name_count_and_network():
    assert K.metric_key(K.FID, 5000) == "fid_5k_domain"
    assert K.metric_key(K.KID_STD, 2500, K.INCEPTION) == "kid_std_2k_inception"
    assert K.fid_key(300) == "fid_300_domain"
    with pytest.raises(ValueError):
        K.count_tag(0)


# --- hand-computed values ---


def test_kid_matches_hand_computed_unbiased_mmd():
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)) + 1.0
    kernel = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    m = len(real)
    xx = sum(kernel(real[i], real[j]) for i, j in itertools.permutations(range(m), 2))
    yy = sum(kernel(fake[i], fake[j]) for i, j in itertools.permutations(range(m), 2))
    xy = sum(kernel(real[i], fake[j]) for i in range(m) for j in range(m))
    expected = (xx + yy) / (m * (m - 1)) - 2 * xy / m**2
    # subset_size is clipped to the set size, so every subset is the whole set: std 0
    mean, std = kid_from_features(real, fake, subsets=3, subset_size=1000, seed=0)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_matches_hand_computed_value():
    logits = np.log(np.array([[0.8, 0.2], [0.2, 0.8]]))
    kl = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)
    mean, std = inception_score_from_logits(logits, splits=1, seed=0)
    assert mean == pytest.approx(math.exp(kl), rel=1e-10)
    assert std == 0.0
    confident = np.eye(4)[np.arange(40) % 4] * 50.0  # 4 classes, certain and balanced: IS = 4
    assert inception_score_from_logits(confident, splits=1, seed=1)[0] == pytest.approx(4.0, rel=1e-6)
    split_scores = inception_score_from_logits(confident, splits=4, seed=1)  # shuffled splits: unbalanced
    assert 1.0 < split_scores[0] < 4.0 and split_scores[1] > 0
    assert inception_score_from_logits(np.zeros((10, 4)), splits=1, seed=0)[0] == pytest.approx(1.0)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_shift():
    features = np.random.default_rng(0).standard_normal((200, 8))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-9)
    assert fid_from_features(features, features + 1.0) == pytest.approx(8.0, rel=1e-9)


def test_precision_recall_extremes():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((100, 4))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    collapsed = real[:1].repeat(100, axis=0) + 1e-3 * rng.standard_normal((100, 4))
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.1  # faithful but without diversity


def test_class_coverage_sees_mode_collapse():
    real = np.eye(10)[np.arange(1000) % 10]
    assert class_coverage(real, real) == (10, pytest.approx(0.0, abs=1e-12))
    collapsed = np.eye(10)[np.full(1000, 3)]
    covered, kl = class_coverage(collapsed, real)
    assert covered == 1
    assert kl == pytest.approx(math.log(10), rel=0.02)  # log K, less the 0.5 pseudo-counts


# --- torchmetrics with the evaluator as feature extractor ---


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchmetrics: feature buffers, std of one split
def test_torchmetrics_agree_with_our_suite(tiny_evaluator):
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = torch.from_numpy(images(60, 1)), torch.from_numpy(images(60, 2) * 0.2)
    real_features, real_logits = compute_features(tiny_evaluator, real)
    fake_features, fake_logits = compute_features(tiny_evaluator, fake)

    fid = FrechetInceptionDistance(feature=DomainFeatureExtractor(tiny_evaluator))
    fid.update(real, real=True)
    fid.update(fake, real=False)
    ours = fid_from_features(fake_features, real_features)
    assert ours > 0
    assert float(fid.compute()) == pytest.approx(ours, rel=1e-4)

    kid = KernelInceptionDistance(feature=DomainFeatureExtractor(tiny_evaluator), subsets=1, subset_size=60)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    ours_kid = kid_from_features(real_features, fake_features, 1, 60, 0)[0]
    # torchmetrics keeps float32 features; MMD² ~1e-5 here is a difference of O(1) kernel sums
    assert float(kid.compute()[0]) == pytest.approx(ours_kid, rel=1e-2)

    inception = InceptionScore(feature=DomainFeatureExtractor(tiny_evaluator, output="logits"), splits=1)
    inception.update((fake * 255).to(torch.uint8))  # uint8 inputs are scaled back to [0, 1]
    ours_is = inception_score_from_logits(compute_features(tiny_evaluator, (fake * 255).round() / 255)[1], 1, 0)
    assert float(inception.compute()[0]) == pytest.approx(ours_is[0], rel=1e-4)
    assert fake_logits.shape == (60, 3)


# --- the suite and its input checks ---


def test_inception_features_get_their_own_keys_and_no_class_coverage():
    rng = np.random.default_rng(0)
    fake = (rng.random((50, 16)).astype(np.float32), rng.standard_normal((50, 1008)).astype(np.float32))
    real = (rng.random((40, 16)).astype(np.float32), rng.standard_normal((40, 1008)).astype(np.float32))
    out = generation_metrics_from_features(fake, real, SMALL, seed=0, network=K.INCEPTION)
    assert "fid_50_inception" in out and "is_50_inception" in out
    assert not any("classes_covered" in key or "class_kl" in key for key in out)
    assert K.reference_key(K.FID_FLOOR_REAL) == K.FID_FLOOR_REAL_DOMAIN


def test_generation_metrics_keys_and_clipped_kid_subsets(tiny_evaluator):
    out = generation_metrics(tiny_evaluator, images(100, 3), images(80, 4), SMALL, seed=0)
    expected = {"fid", "fid_std", "kid", "kid_std", "is", "is_std", "precision", "recall"}
    expected |= {"classes_covered", "class_kl"}
    assert set(out) == {f"{name}_100_domain" for name in expected}
    assert all(math.isfinite(v) for v in out.values())
    assert 1.0 <= out["is_100_domain"] <= 3.0  # 3 classes
    again = generation_metrics(tiny_evaluator, images(100, 3), images(80, 4), SMALL, seed=0)
    assert again == out  # seeded


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.full((4, 1, 8, 8), 1.5, np.float32), r"values in \[0, 1\], got .* in \[1.5, 1.5\]"),
        (np.zeros((4, 1, 8, 8), np.float64), "float32"),
        (np.zeros((4, 3, 8, 8), np.float32), r"\(N, 1, 8, 8\) .*got \(4, 3, 8, 8\)"),
        (np.zeros((1, 8, 8), np.float32), r"array \(N, 1, 8, 8\) .*got \(1, 8, 8\)"),
        (np.zeros((1, 1, 8, 8), np.float32), "at least 2 images"),
        (np.full((4, 1, 8, 8), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images_are_rejected(tiny_evaluator, bad, message):
    with pytest.raises(ValueError, match=message):
        check_images(bad, tiny_evaluator, "generated images")


def test_rank_deficient_covariance_warns():
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="rank-deficient"):
        value = fid_from_features(rng.standard_normal((5, 16)), rng.standard_normal((50, 16)))
    assert math.isfinite(value)
