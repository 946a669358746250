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
