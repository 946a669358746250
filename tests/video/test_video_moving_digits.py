"""Moving digits: deterministic by seed, digits stay inside the canvas, speeds within range."""

import numpy as np
import pytest

from ganops.video.moving_digits import (
    GPU_SPEC,
    MovingDigitsSpec,
    direction_bins,
    reflect,
    render_moving_digits,
)


def _pool(count=20, size=28, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((count, size, size)) * (rng.random((count, size, size)) > 0.5)
    return images, np.arange(count) % 10


def test_same_seed_same_clips_other_seed_other_clips():
    images, labels = _pool()
    spec = MovingDigitsSpec(num_digits=2)
    a, b = (render_moving_digits(images, labels, 6, spec, seed=3) for _ in range(2))
    c = render_moving_digits(images, labels, 6, spec, seed=4)
    np.testing.assert_array_equal(a.clips, b.clips)
    np.testing.assert_array_equal(a.directions, b.directions)
    assert not np.array_equal(a.clips, c.clips)
    assert a.clips.shape == (6, 16, 1, 32, 32) and a.clips.dtype == np.float32
    assert a.clips.min() >= 0.0 and a.clips.max() <= 1.0
    assert a.digits.shape == a.directions.shape == (6, 2)
    np.testing.assert_array_equal(a.digits, labels[a.source_index])


def test_mass_never_leaves_the_canvas():
    """One digit: every frame holds the whole resized glyph, so each frame's mass is the same."""
    images, labels = _pool()
    spec = MovingDigitsSpec(num_digits=1, canvas_size=32, num_frames=40, digit_size=18, speed_min=3, speed_max=5)
    out = render_moving_digits(images, labels, 8, spec, seed=0)  # 40 frames at 3-5 px: many bounces
    mass = out.clips.sum(axis=(2, 3, 4))  # (N, T)
    np.testing.assert_allclose(mass, mass[:, :1].repeat(40, axis=1), rtol=1e-5)
    limit = spec.canvas_size - spec.digit_size
    assert out.positions.min() >= 0 and out.positions.max() <= limit


def test_speed_within_range_and_exact_between_bounces():
    images, labels = _pool()
    spec = MovingDigitsSpec(num_digits=2, speed_min=1.5, speed_max=2.5)
    out = render_moving_digits(images, labels, 50, spec, seed=1)
    speed = np.linalg.norm(out.velocities, axis=-1)  # (N, D)
    assert speed.min() >= 1.5 and speed.max() <= 2.5
    step = np.linalg.norm(np.diff(out.positions, axis=1), axis=-1)  # (N, T-1, D)
    assert step.max() <= 2.5 + 1e-9  # a bounce can only shorten one frame's displacement
    limit = spec.canvas_size - spec.digit_size
    unbounced = (out.positions[:, :-1] + out.velocities[:, None]).clip(0, limit)
    free = (unbounced == out.positions[:, :-1] + out.velocities[:, None]).all(-1)  # no wall hit this frame
    first = np.cumsum(~free, axis=1) == 0  # frames before the first bounce move at exactly the speed
    assert first.sum() > 100
    np.testing.assert_allclose(step[first], np.broadcast_to(speed[:, None], step.shape)[first])


def test_reflect_and_direction_bins():
    np.testing.assert_allclose(reflect(np.array([-1.0, 3.0, 11.0, 21.0]), 10.0), [1.0, 3.0, 9.0, 1.0])
    east, up, south_west = [0.0, 2.0], [-2.0, 0.0], [1.0, -1.0]  # (d_row, d_col): rows grow downwards
    np.testing.assert_array_equal(direction_bins(np.array([east, up, south_west])), [0, 2, 5])


def test_gpu_setting_and_bad_specs():
    assert (GPU_SPEC.num_digits, GPU_SPEC.canvas_size, GPU_SPEC.num_frames) == (2, 64, 20)
    images, labels = _pool(count=4)
    assert render_moving_digits(images, labels, 2, GPU_SPEC, seed=0).clips.shape == (2, 20, 1, 64, 64)
    with pytest.raises(ValueError, match="num_digits"):
        render_moving_digits(images, labels, 2, MovingDigitsSpec(num_digits=3), seed=0)
    with pytest.raises(ValueError, match="digit_size"):
        MovingDigitsSpec(digit_size=32).validate()
