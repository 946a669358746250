"""MNIST-M synthesis, Canny edges, paired and unpaired domain sets."""

import numpy as np
import pytest

from ganops.translation.mnistm import (
    PHOTOS,
    binarise,
    blend,
    colour_photos,
    mnist_to_mnistm,
    random_patches,
)
from ganops.translation.pairs import build_pair, canny_edges, load_pair, unpaired_split


def _digits(count: int = 20, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Blocky fake digits: a bright rectangle per image, labels 0..9 cycling."""
    rng = np.random.default_rng(seed)
    digits = np.zeros((count, size, size), dtype=np.float32)
    for i in range(count):
        top, left = rng.integers(2, size // 2, size=2)
        digits[i, top : top + size // 3, left : left + size // 4] = rng.uniform(0.3, 1.0)
    return digits, np.arange(count) % 10


def test_blend_is_abs_difference_per_channel():
    binary = np.array([[[[0.0, 1.0]]]], dtype=np.float32)  # (1, 1, 1, 2)
    patches = np.array([[[[0.2, 0.2]], [[0.5, 0.9]], [[1.0, 0.0]]]], dtype=np.float32)  # (1, 3, 1, 2)
    np.testing.assert_allclose(blend(binary, patches)[0, :, 0], [[0.2, 0.8], [0.5, 0.1], [1.0, 1.0]], atol=1e-6)


def test_random_patches_are_crops_of_the_photos():
    # photos whose pixels encode (photo, row, col) let us find where each patch was cut
    photos = tuple(
        np.stack([*np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), np.full((h, w), k)], -1).astype(np.float32)
        for k, (h, w) in enumerate([(12, 15), (20, 9)])
    )
    patches = random_patches(50, 5, 6, np.random.default_rng(0), photos)  # (N, 3, 5, 6)
    assert patches.shape == (50, 3, 5, 6)
    for patch in patches:
        k, top, left = int(patch[2, 0, 0]), int(patch[0, 0, 0]), int(patch[1, 0, 0])
        np.testing.assert_array_equal(patch.transpose(1, 2, 0), photos[k][top : top + 5, left : left + 6])
    assert {int(p[2, 0, 0]) for p in patches} == {0, 1}  # both photos used


def test_mnist_to_mnistm_follows_ganin_and_is_seeded():
    digits, _ = _digits()
    colour = mnist_to_mnistm(digits, seed=3)
    assert colour.shape == (20, 3, 28, 28) and colour.dtype == np.float32
    assert colour.min() >= 0 and colour.max() <= 1
    expected = blend(binarise(digits[:, None]), random_patches(20, 28, 28, np.random.default_rng(3)))
    np.testing.assert_array_equal(colour, expected)
    np.testing.assert_array_equal(colour, mnist_to_mnistm(digits[:, None], seed=3))
    assert not np.array_equal(colour, mnist_to_mnistm(digits, seed=4))


def test_bundled_photos_are_colour():
    photos = colour_photos()
    assert len(photos) == len(PHOTOS)
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.float32 and p.max() <= 1 for p in photos)


def test_mnist_to_mnistm_rejects_bad_digits():
    with pytest.raises(ValueError, match="digits"):
        mnist_to_mnistm(np.zeros((2, 3, 28, 28)), seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mnist_to_mnistm(np.full((2, 28, 28), 255.0), seed=0)


def test_canny_edges_outline_a_square():
    image = np.zeros((1, 1, 20, 20), dtype=np.float32)
    image[0, 0, 5:15, 5:15] = 1.0
    edges = canny_edges(image)
    assert edges.shape == (1, 1, 20, 20) and set(np.unique(edges)) == {0.0, 1.0}
    assert edges[0, 0, 8:12, 8:12].sum() == 0 and edges[0, 0, :3].sum() == 0  # not inside, not far outside
    assert edges[0, 0, 4:16, 4:16].sum() >= 30  # a ring around the square


@pytest.mark.parametrize("name, channels", [("mnist_to_mnistm", (1, 3)), ("edges_to_mnist", (1, 1))])
def test_build_pair_shapes(name, channels):
    digits, labels = _digits()
    pair = build_pair(name, digits, labels, seed=0, image_size=32)
    assert pair.paired and pair.a.shape == (20, channels[0], 32, 32) and pair.b.shape == (20, channels[1], 32, 32)
    assert pair.a.dtype == pair.b.dtype == np.float32
    assert min(pair.a.min(), pair.b.min()) >= 0 and max(pair.a.max(), pair.b.max()) <= 1
    np.testing.assert_array_equal(pair.labels_a, labels)


def test_unpaired_split_is_disjoint_and_stratified():
    digits, labels = _digits(40)
    pair = build_pair("mnist_to_mnistm", digits, labels, seed=0)
    split = unpaired_split(pair, seed=1)
    assert not split.paired and len(split.a) == len(split.b) == 20
    assert set(split.source_index_a).isdisjoint(split.source_index_b)
    assert sorted([*split.source_index_a, *split.source_index_b]) == list(range(40))
    np.testing.assert_array_equal(np.bincount(split.labels_a), np.full(10, 2))
    np.testing.assert_array_equal(np.bincount(split.labels_b), np.full(10, 2))
    np.testing.assert_array_equal(split.b, pair.b[split.source_index_b])  # B images are the B side
    with pytest.raises(ValueError, match="paired source"):
        unpaired_split(split, seed=1)


def test_bad_sources_name_the_key():
    digits, labels = _digits()
    with pytest.raises(ValueError, match="translation.source: unknown pair 'nope'"):
        build_pair("nope", digits, labels, seed=0)
    with pytest.raises(ValueError, match="folder"):
        load_pair("folder:a,folder:b", seed=0)
    with pytest.raises(ValueError, match="labels"):
        build_pair("mnist_to_mnistm", digits, labels[:3], seed=0)


def test_load_pair_from_bundled_mnist():
    pair = load_pair("mnist_to_mnistm", seed=0, max_images=40)
    assert pair.a.shape == (40, 1, 28, 28) and pair.b.shape == (40, 3, 28, 28)
    assert set(pair.labels_a) <= set(range(10)) and len(set(pair.labels_a)) > 3
