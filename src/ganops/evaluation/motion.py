"""Motion of clips measured on the pixels: centre of mass per frame and its speed (no model needed).

Shared by the video family's metrics and the video detectors' clip-level features.
"""

from __future__ import annotations

import numpy as np

_MASS_EPS = 1e-6


def centre_of_mass(clips: np.ndarray) -> np.ndarray:
    """Intensity-weighted (row, col) of each frame in px: (N, T, C, H, W) -> (N, T, 2).

    A blank frame (no mass) sits at (0, 0) instead of NaN; its clip then reads as frozen.
    """
    mass = clips.mean(axis=2, dtype=np.float64)  # (N, T, H, W), channels averaged
    total = mass.sum(axis=(2, 3)) + _MASS_EPS  # (N, T)
    rows = np.arange(mass.shape[2], dtype=np.float64)
    cols = np.arange(mass.shape[3], dtype=np.float64)
    row = (mass.sum(axis=3) * rows).sum(axis=2) / total
    col = (mass.sum(axis=2) * cols).sum(axis=2) / total
    return np.stack([row, col], axis=-1)


def clip_speeds(clips: np.ndarray) -> np.ndarray:
    """Mean frame-to-frame centre-of-mass displacement of each clip (N,), px / frame."""
    centre = centre_of_mass(clips)  # (N, T, 2)
    return np.linalg.norm(np.diff(centre, axis=1), axis=2).mean(axis=1)


def centre_frames(clips: np.ndarray) -> np.ndarray:
    """Each frame moved by whole pixels so its centre of mass lands on the canvas centre (zero fill).

    (N, T, C, H, W) -> the same shape. MNIST's own normalisation (its digits are centred on their
    centre of mass in the 28x28 field): a frame classifier then sees where a clip's object is drawn,
    not how far it has travelled, so a per-frame prediction changes with the object's identity only.
    Written here because it is one gather on top of `centre_of_mass` (scipy.ndimage.shift would loop
    over frames and interpolate).
    """
    n, t, c, h, w = clips.shape
    offset = np.rint((np.array([h, w]) - 1) / 2 - centre_of_mass(clips)).astype(np.int64).reshape(-1, 2)
    offset = np.clip(offset, [-h, -w], [h, w])  # (M, 2): a shift past the canvas leaves it blank
    frames = np.pad(clips.reshape(n * t, c, h, w), ((0, 0), (0, 0), (h, h), (w, w)))
    rows = h + np.arange(h)[None, :] - offset[:, :1]  # (M, H): out[i] = frame[i - row offset]
    cols = w + np.arange(w)[None, :] - offset[:, 1:]  # (M, W)
    index = np.arange(n * t)[:, None, None, None], np.arange(c)[None, :, None, None]
    return frames[(*index, rows[:, None, :, None], cols[:, None, None, :])].reshape(clips.shape)
