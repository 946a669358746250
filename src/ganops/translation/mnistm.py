"""MNIST-M made the way Ganin & Lempitsky (2015) made it, from photographs bundled with scikit-image.

MNIST-M blends each binarised digit over a random colour patch: out = |patch - digit| per channel, so
background pixels keep the photo and stroke pixels invert it. The original cut its patches from
BSDS500; we cut them from the colour photographs that ship inside scikit-image (no downloads).
The binarisation `digit > 0` follows the widely used reference script (pumpikano/tf-dann,
create_mnistm.py). Arrays are float32 in [0, 1], (N, C, H, W).
"""

from __future__ import annotations

import functools

import numpy as np

# Colour photographs inside the scikit-image wheel (skimage.data loads them without a network).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


@functools.cache
def colour_photos(names: tuple[str, ...] = PHOTOS) -> tuple[np.ndarray, ...]:
    """The bundled photographs as float32 (H, W, 3) in [0, 1]; read once per process."""
    import skimage.data

    photos = []
    for name in names:
        image = getattr(skimage.data, name)()
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"skimage.data.{name} is not an RGB photograph (shape {image.shape})")
        photos.append((image / 255.0).astype(np.float32))
    return tuple(photos)


def as_digit_stack(digits: np.ndarray, name: str = "digits") -> np.ndarray:
    """(N, H, W) or (N, 1, H, W) in [0, 1] → (N, 1, H, W) float32; a one-line error otherwise."""
    digits = np.asarray(digits, dtype=np.float32)
    if digits.ndim == 3:
        digits = digits[:, None]
    if digits.ndim != 4 or digits.shape[1] != 1 or len(digits) == 0:
        raise ValueError(f"{name}: need gray images (N, H, W) or (N, 1, H, W) with N >= 1, got {digits.shape}")
    if digits.min() < 0 or digits.max() > 1:
        raise ValueError(f"{name}: values must lie in [0, 1] (got {digits.min():.3g}..{digits.max():.3g})")
    return digits


def binarise(digits: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """(N, 1, H, W) → 1.0 where the digit's ink exceeds `threshold`, else 0.0 (float32)."""
    return (digits > threshold).astype(np.float32)


def random_patches(
    count: int,
    height: int,
    width: int,
    rng: np.random.Generator,
    photos: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """`count` random (3, height, width) crops from the photos, photo and corner uniform → (N, 3, H, W).

    Vectorised per photo: one fancy-indexing gather takes every crop assigned to that photo.
    """
    photos = colour_photos() if photos is None else photos
    for photo in photos:
        if photo.shape[0] < height or photo.shape[1] < width:
            raise ValueError(f"patches of {height}x{width} do not fit a {photo.shape[:2]} photograph")
    which = rng.integers(0, len(photos), size=count)  # (N,)
    sizes = np.array([photo.shape[:2] for photo in photos], dtype=np.int64)  # (P, 2)
    tops = rng.integers(0, sizes[which, 0] - height + 1)  # (N,) each below its own photo's limit
    lefts = rng.integers(0, sizes[which, 1] - width + 1)  # (N,)
    out = np.empty((count, height, width, 3), dtype=np.float32)
    rows, cols = np.arange(height), np.arange(width)
    for k, photo in enumerate(photos):
        chosen = np.flatnonzero(which == k)
        if len(chosen):
            r = (tops[chosen, None] + rows)[:, :, None]  # (n, H, 1)
            c = (lefts[chosen, None] + cols)[:, None, :]  # (n, 1, W)
            out[chosen] = photo[r, c]  # (n, H, W, 3)
    return out.transpose(0, 3, 1, 2).copy()  # (N, 3, H, W)


def blend(binary: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """|patch - digit| per channel: (N, 1, H, W) {0, 1} with (N, 3, H, W) [0, 1] → (N, 3, H, W)."""
    return np.abs(patches - binary).astype(np.float32)


def mnist_to_mnistm(digits: np.ndarray, seed: int, threshold: float = 0.0) -> np.ndarray:
    """Gray digits (N, [1,] H, W) in [0, 1] → their MNIST-M versions (N, 3, H, W) in [0, 1], seeded."""
    digits = as_digit_stack(digits)
    rng = np.random.default_rng(seed)
    patches = random_patches(len(digits), digits.shape[2], digits.shape[3], rng)
    return blend(binarise(digits, threshold), patches)
