"""The best predictor a paired source allows: the ceiling row of the paired metrics (L1, PSNR, SSIM).

On `mnist_to_mnistm` the B background is a random photo crop that nothing in the digit predicts, so
no translator can reproduce it; the best it can do (in squared error, per pixel) is the *average B
given the digit*: the mean colour of stroke pixels where the binarised digit has ink, the mean colour
of background pixels elsewhere, both estimated on the gan_train split. Its SSIM to the true target is
far below 1 (about 0.3), which is why an SSIM target of 0.80 cannot be met on this pair.
Pairs without an entry (e.g. `edges_to_mnist`, where the target is nearly a function of the input)
have no ceiling row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganops.translation.mnistm import binarise
from ganops.translation.pairs import DomainPair

# (gan_train pairs) -> (test A images (N, Ca, H, W) -> predicted B images (N, Cb, H, W))
Oracle = Callable[[DomainPair], Callable[[np.ndarray], np.ndarray]]
ORACLES: dict[str, Oracle] = {}


def _register(name: str) -> Callable[[Oracle], Oracle]:
    def decorate(fn: Oracle) -> Oracle:
        ORACLES[name] = fn
        return fn

    return decorate


@_register("mnist_to_mnistm")
def mean_given_digit(train: DomainPair) -> Callable[[np.ndarray], np.ndarray]:
    """Per channel: mean B over ink pixels and over background pixels of the training pairs."""
    assert train.paired, "the best predictor is estimated on paired training images"
    ink = binarise(train.a)[:, 0].astype(bool)  # (N, H, W)
    pixels = train.b.transpose(1, 0, 2, 3)  # (Cb, N, H, W)
    ink_mean = pixels[:, ink].mean(axis=1)  # (Cb,)
    background_mean = pixels[:, ~ink].mean(axis=1)

    def predict(a: np.ndarray) -> np.ndarray:
        mask = binarise(a)  # (N, 1, H, W)
        return (mask * ink_mean[None, :, None, None] + (1 - mask) * background_mean[None, :, None, None]).astype(
            np.float32
        )

    return predict


def best_possible(source: str, train: DomainPair, test_a: np.ndarray) -> np.ndarray | None:
    """The best predictor's B images for `test_a`, or None when `source` has no known ceiling."""
    if source not in ORACLES or not train.paired:
        return None
    return ORACLES[source](train)(test_a)
