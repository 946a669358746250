"""Quality over training: a cheap FID (+ IS) of the generator at each checkpoint, against training images.

`make_quality_probe` builds the callable that `ganops.training.loop.train_gan(quality=...)` runs at every
checkpoint: it samples `num_images` images from G with a fixed seed and scores them in the domain
evaluator's feature space against a fixed subset of the **gan_train** split, whose statistics are
computed once. The curve shows when a run peaked and picks the checkpoint that is exported.

Why the training split and not the test split: the full evaluation (`evaluate_gan`) scores the exported
generator on the test split; choosing the checkpoint on that same set would tune the model to its final
exam and bias the reported FID downwards. Keys therefore end in `_train` (`fid_1k_domain_train`), so a
probe value can never be mistaken for, or compared with, the test-set `fid_1k_domain`.

The probe is small on purpose (1,000 images by default: FID is biased upwards at small counts, so
compare probe values with each other, never with the full evaluation's). It leaves every global RNG
stream untouched (noise comes from its own seeded `torch.Generator`) and restores G's train/eval mode,
so a run with a probe trains exactly the same weights as one without.

This module imports only torch, numpy and `evaluation.metric_keys` at import time (the training loop imports
it and must run without pydantic); the metric maths is imported when a probe is built.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganops.evaluation import metric_keys as K

if TYPE_CHECKING:
    from ganops.evaluation.metrics import FeatureNetwork

TRAIN_REFERENCE = "train"  # the probe's reference set: a fixed subset of the gan_train split
SAMPLE_BATCH_SIZE = 500  # images per generator forward pass
# Images per evaluator forward pass: 250 keeps the conv activations (250×32×28×28 floats, 25 MB) near the
# caches; with channels_last weights it is ~2× faster than 500 in NCHW on 2 CPU cores
# (benchmarks/quality_probe_speed.py).
FEATURE_BATCH_SIZE = 250


def probe_key(name: str, num_images: int, network: str = K.DOMAIN) -> str:
    """`probe_key(FID, 1000) -> 'fid_1k_domain_train'`: network, generated count and reference set."""
    return f"{K.metric_key(name, num_images, network)}_{TRAIN_REFERENCE}"


lower_is_better = K.lower_is_better  # re-exported: callers of the probe pick with it


@dataclass
class QualityProbe:
    """Callable `(G, meta) -> {fid_key: …, is_key: …}`; build it with `make_quality_probe`.

    `meta` is the generator meta of `ganops.image.export` (`variant_config` with `z_dim` and
    `conditional`, `num_classes`). Conditional generators get classes 0, 1, 2, … in turn.
    """

    evaluator: Any  # FeatureNetwork: the probe's own channels_last copy of the caller's network
    num_images: int
    seed: int
    real_mu: np.ndarray  # (d,) float64
    real_sigma: np.ndarray  # (d, d) float64
    real_count: int
    fid_key: str
    is_key: str | None  # None for a rotation-task evaluator (its "classes" are rotations: no IS)
    # sample(G, meta, num, seed, batch_size, device) -> float32 (num, C, H, W) in [0, 1]: the family's sampler
    # (e.g. ganops.image.export.sample_images), injected so evaluation never imports a model family
    sample: Callable[..., np.ndarray] | None = None
    seconds: list[float] = field(default_factory=list)  # wall time of each call

    @property
    def keys(self) -> list[str]:
        return [self.fid_key] + ([self.is_key] if self.is_key else [])

    def __call__(self, G: nn.Module, meta: dict[str, Any]) -> dict[str, float]:
        from ganops.evaluation.frechet import frechet_distance, mean_and_covariance
        from ganops.evaluation.metrics import compute_features, inception_score_from_logits

        started = time.perf_counter()
        device = next(iter(G.parameters()), torch.empty(0)).device
        fake = self.sample(G, meta, self.num_images, self.seed, SAMPLE_BATCH_SIZE, device=str(device))
        features, logits = compute_features(  # (N, d), (N, K)
            self.evaluator, fake, FEATURE_BATCH_SIZE, "quality probe: generated images"
        )
        mu, sigma = mean_and_covariance(features)
        out = {self.fid_key: frechet_distance(mu, sigma, self.real_mu, self.real_sigma)}
        if self.is_key:
            out[self.is_key] = inception_score_from_logits(logits, splits=1, seed=self.seed)[0]
        self.seconds.append(time.perf_counter() - started)
        return out


def make_quality_probe(
    evaluator: FeatureNetwork,
    real_images: np.ndarray,
    num_images: int,
    seed: int,
    *,
    sample: Callable[..., np.ndarray],
) -> QualityProbe:
    """A cheap FID/IS probe of a generator against `real_images`, float32 (N, C, H, W) in [0, 1].

    real_images: the **gan_train** split (never the test split: the final evaluation uses that one, and
    picking the best checkpoint on it would leak the test set into model selection). A fixed, seeded
    subset of `num_images` of them (all when fewer) is passed through `evaluator` once, here; each call
    then costs `num_images` generated images through G and the evaluator, one Fréchet distance and one
    Inception Score (a single split over all images; the evaluator must be class-trained for IS).

    The probe works on its own copy of `evaluator` with channels_last weights (faster convolutions on
    CPU; features agree with the original to ~1e-6), so the caller's network is left as it was.
    """
    from ganops.evaluation.evaluator import TASK_CLASSES
    from ganops.evaluation.frechet import mean_and_covariance
    from ganops.evaluation.metrics import compute_features

    if num_images < 2:
        raise ValueError(f"quality probe: num_images must be at least 2, got {num_images}")
    real_images = np.asarray(real_images)
    if real_images.ndim != 4 or len(real_images) < 2:
        raise ValueError(
            f"quality probe: need at least 2 real gan_train images (N, C, H, W), got shape {real_images.shape}"
        )
    network = copy.deepcopy(evaluator).eval().to(memory_format=torch.channels_last)
    rng = np.random.default_rng([seed, 5])
    count = min(num_images, len(real_images))
    subset = np.sort(rng.choice(len(real_images), size=count, replace=False))
    real_features, _ = compute_features(
        network, real_images[subset], FEATURE_BATCH_SIZE, "quality probe: real gan_train images"
    )
    feature_dim = real_features.shape[1]
    if count <= feature_dim:
        warnings.warn(
            f"quality probe: {count} images for {feature_dim}-dimensional features, so the "
            f"covariance is rank-deficient; the probe FID is finite but strongly biased (use more than "
            f"{feature_dim} images)",
            stacklevel=2,
        )
    mu, sigma = mean_and_covariance(real_features)
    space = getattr(evaluator, "network", K.DOMAIN)
    classes = getattr(evaluator, "task", TASK_CLASSES) == TASK_CLASSES
    return QualityProbe(
        evaluator=network,
        num_images=int(num_images),
        seed=int(seed),
        real_mu=mu,
        real_sigma=sigma,
        real_count=count,
        fid_key=probe_key(K.FID, num_images, space),
        is_key=probe_key(K.IS, num_images, space) if classes else None,
        sample=sample,
    )
