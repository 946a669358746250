"""Video metrics on real moving digits: FVD_domain tells shuffled and static clips from real ones."""

import numpy as np
import pytest
import torch

from ganops.video.features import clip_features, multi_hot, train_clip_features
from ganops.video.metrics import (
    FREEZE_SCORE,
    FVD_DOMAIN,
    KVD_DOMAIN,
    SPEED_W1,
    centre_frames,
    centre_of_mass,
    clip_speeds,
    fvd_from_features,
    motion_metrics,
    temporal_consistency,
    video_metrics,
)
from ganops.video.moving_digits import (
    NUM_DIRECTIONS,
    MovingDigitsSpec,
    mnist_digit_pool,
    render_moving_digits,
)
from ganops.video.references import noise_clips, shuffled_clips, static_clips

SPEC = MovingDigitsSpec()  # the CPU default: 1 digit, 32x32, 16 frames, 1-3 px / frame


@pytest.fixture(scope="module")
def digits():
    """Feature-net training clips and two real sets, each from its own digit images."""
    images, labels = mnist_digit_pool()
    order = np.random.default_rng(0).permutation(len(images))  # the pool is sorted by class
    images, labels = images[order], labels[order]
    train = render_moving_digits(images[:2500], labels[:2500], 300, SPEC, seed=0)
    real_a = render_moving_digits(images[2500:3750], labels[2500:3750], 200, SPEC, seed=1)
    real_b = render_moving_digits(images[3750:], labels[3750:], 200, SPEC, seed=2)
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        net = train_clip_features(
            train.clips,
            {"digit": (train.digits, 10), "direction": (train.directions, NUM_DIRECTIONS)},
            steps=50,
            batch_size=32,
            seed=0,
        )
    return net, real_a.clips, real_b.clips


def test_fvd_domain_orders_floor_below_shuffled_static_and_noise(digits):
    net, real_a, real_b = digits
    features_a = clip_features(net, real_a)
    scores = {
        name: video_metrics(features_a, clip_features(net, clips), real_a, clips, seed=0)
        for name, clips in {
            "floor": real_b,
            "shuffled": shuffled_clips(real_b, 0),
            "static": static_clips(real_b, 0),
            "noise": noise_clips(real_b, 0),
        }.items()
    }
    fvd = {name: s[FVD_DOMAIN] for name, s in scores.items()}
    assert 3 * fvd["floor"] < fvd["shuffled"] and 3 * fvd["floor"] < fvd["static"], fvd
    assert fvd["noise"] > max(fvd["shuffled"], fvd["static"]), fvd
    assert scores["floor"][KVD_DOMAIN] < min(scores["shuffled"][KVD_DOMAIN], scores["static"][KVD_DOMAIN])
    assert scores["floor"][FREEZE_SCORE] == 0.0 and scores["static"][FREEZE_SCORE] == 1.0
    assert scores["floor"][SPEED_W1] < scores["static"][SPEED_W1]


def test_features_are_deterministic_by_seed(digits):
    net, real_a, _ = digits
    np.testing.assert_allclose(clip_features(net, real_a[:8]), clip_features(net, real_a[:8], batch_size=3), atol=1e-5)
    assert fvd_from_features(clip_features(net, real_a), clip_features(net, real_a)) < 1e-9
    labels = np.arange(16)[:, None] % 10
    rng = torch.get_rng_state()
    nets = [train_clip_features(real_a[:16], {"digit": (labels, 10)}, steps=3, batch_size=4, seed=s) for s in (1, 1, 2)]
    assert torch.equal(rng, torch.get_rng_state())  # training leaves the global RNG alone
    same, other = (clip_features(n, real_a[:4]) for n in nets[:2]), clip_features(nets[2], real_a[:4])
    np.testing.assert_array_equal(*same)
    assert not np.allclose(clip_features(nets[0], real_a[:4]), other)


def test_centre_of_mass_speed_matches_the_rendered_motion():
    rng_images = np.random.default_rng(0).random((10, 28, 28))
    out = render_moving_digits(rng_images, np.arange(10), 20, SPEC, seed=5)
    centre = centre_of_mass(out.clips)  # (N, T, 2)
    offset = centre - out.positions[:, :, 0]  # glyph's own centre of mass: constant up to pixel rounding
    assert np.abs(offset - offset.mean(axis=1, keepdims=True)).max() <= 0.75
    speeds = clip_speeds(out.clips)
    assert SPEC.speed_min * 0.5 < speeds.min() and speeds.max() < SPEC.speed_max * 1.3


def test_temporal_consistency_counts_frames_off_the_majority():
    clips = np.zeros((2, 4, 1, 2, 2), dtype=np.float32)
    clips[0, :, 0, 0, 0] = [0.1, 0.1, 0.1, 0.2]  # a marker pixel stands for the predicted class
    clips[1, :, 0, 0, 0] = [0.3, 0.3, 0.3, 0.3]
    classify = lambda frames: np.rint(frames[:, 0, 0, 0] * 10).astype(int)  # noqa: E731
    assert temporal_consistency(clips, classify) == pytest.approx(7 / 8)


def test_centred_temporal_consistency_ignores_position_and_sees_identity(digits):
    _, real_a, _ = digits
    centred = centre_frames(real_a)
    assert centred.shape == real_a.shape and (centred == centred[:, :1]).all(axis=(2, 3, 4)).mean() > 0.99
    side = lambda frames: (centre_of_mass(frames[:, None])[:, 0, 1] > 15.5).astype(int)  # noqa: E731 (where, not what)
    assert temporal_consistency(real_a, side) < 0.95 and temporal_consistency(centred, side) == 1.0
    glyphs = centred[:, 0].reshape(len(real_a), -1)  # each clip's digit, centred: its "class"

    def nearest_glyph(frames: np.ndarray) -> np.ndarray:
        flat = frames.reshape(len(frames), -1)
        return ((flat**2).sum(1)[:, None] - 2 * flat @ glyphs.T + (glyphs**2).sum(1)[None, :]).argmin(axis=1)

    assert temporal_consistency(centred, nearest_glyph) > 0.99
    t = real_a.shape[1]  # frame j of clip i from clip (i + j): the right motion, a new digit every frame
    mixed = real_a[(np.arange(len(real_a))[:, None] + np.arange(t)) % len(real_a), np.arange(t)]
    assert temporal_consistency(centre_frames(mixed), nearest_glyph) < 0.2


def test_motion_metrics_and_multi_hot():
    still = np.zeros((3, 5, 1, 8, 8), dtype=np.float32)
    still[:, :, :, 2:4, 2:4] = 1.0
    scores = motion_metrics(still, still)
    assert scores[SPEED_W1] == pytest.approx(0.0, abs=1e-9) and scores[FREEZE_SCORE] == 1.0
    np.testing.assert_array_equal(
        multi_hot(np.array([[1, 3], [2, -1], [-1, -1]]), 4), [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0]]
    )
    with pytest.raises(ValueError, match="no labelled clips"):
        train_clip_features(still, {"digit": (np.full(3, -1), 10)}, steps=1)


def test_references_keep_frames_and_change_time():
    clips = np.random.default_rng(0).random((4, 6, 1, 4, 4), dtype=np.float32)
    shuffled, static = shuffled_clips(clips, 0), static_clips(clips, 0)
    assert not np.array_equal(shuffled, clips)
    np.testing.assert_array_equal(np.sort(shuffled.reshape(4, 6, -1), axis=1), np.sort(clips.reshape(4, 6, -1), axis=1))
    assert (static == static[:, :1]).all()
    assert noise_clips(clips, 0).shape == clips.shape
