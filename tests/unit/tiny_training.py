"""Tiny training inputs shared by the training-loop tests (random images, a small dcgan variant)."""

import numpy as np

from ganops.config.params import GanConfig, VariantConfig

GAN = GanConfig(device="cpu", deterministic=True)


def data(n=48, size=28, seed=0):
    """float32 images (n, 1, size, size) in [0, 1] and labels (n,) in 0..2."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, size, size), dtype=np.float32), rng.integers(0, 3, n)


def cfg(**overrides):
    base = dict(arch="dcgan", loss="non_saturating", z_dim=8, width=8, batch_size=8, num_steps=6,
                checkpoint_every=2, log_every=1, ema_decay=0.9)  # fmt: skip
    return VariantConfig(**{**base, **overrides})
