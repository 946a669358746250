"""Reference clips for the metric table: what a metric must rank worse than real clips.

- static: one real frame of each clip repeated T times (right frames, no motion),
- shuffled: each clip's own frames in a random order (right frames, wrong time),
- noise: uniform noise in [0, 1] of the same shape.
All are seeded and return new float32 arrays (N, T, C, H, W) in [0, 1].
"""

from __future__ import annotations

import numpy as np


def static_clips(clips: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    frame = rng.integers(0, clips.shape[1], size=len(clips))  # (N,)
    still = clips[np.arange(len(clips)), frame]  # (N, C, H, W)
    return np.repeat(still[:, None], clips.shape[1], axis=1).astype(np.float32)


def shuffled_clips(clips: np.ndarray, seed: int) -> np.ndarray:
    """Per-clip random frame order, never the identity (then shifted by one frame instead)."""
    rng = np.random.default_rng([seed, 2])
    n, t = clips.shape[:2]
    order = np.argsort(rng.random((n, t)), axis=1)  # (N, T): one permutation per clip
    identity = (order == np.arange(t)).all(axis=1)
    order[identity] = np.roll(np.arange(t), 1)
    return clips[np.arange(n)[:, None], order].astype(np.float32)


def noise_clips(clips: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 3]).random(clips.shape, dtype=np.float32)
