"""Image perturbations for detector augmentation and robustness checks, on float (N, C, H, W) in [0, 1].

Each perturbation is applied identically to real and fake images: a detector that only works on
pristine pixels would be beaten by one re-save, so we report its metrics after each one, and the
decision threshold is set so that validation reals stay under the target FPR after the ones named in
`detector.threshold_perturbations`. These are the libraries' own operations (skimage, Pillow); the
CNN's training augmentation uses batched torch versions of them (augment.py), tested against these.
Images with 1 (gray) or 3 (RGB) channels are supported.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

Perturbation = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # (N, C, H, W) -> same
PERTURBATIONS: dict[str, Perturbation] = {}
CLEAN = "clean"  # robustness_table's row for the unperturbed images


def register_perturbation(name: str) -> Callable[[Perturbation], Perturbation]:
    def decorate(fn: Perturbation) -> Perturbation:
        PERTURBATIONS[name] = fn
        return fn

    return decorate


# --- single-image operations (C, H, W) ---


def jpeg_image(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode one (C, H, W) image as JPEG in memory with Pillow at `quality` (1..100)."""
    from PIL import Image

    channels = image.shape[0]
    if channels not in (1, 3):
        raise ValueError(f"JPEG needs 1 or 3 channels, got an image of shape {image.shape}")
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)  # (C, H, W)
    pil = Image.fromarray(pixels[0]) if channels == 1 else Image.fromarray(pixels.transpose(1, 2, 0))
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
    return out[None] if channels == 1 else out.transpose(2, 0, 1)


def blur_image(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of one (C, H, W) image, per channel, with skimage (sigma in pixels)."""
    from skimage.filters import gaussian

    if sigma <= 0:
        return image.astype(np.float32, copy=True)
    return gaussian(image, sigma=(0, sigma, sigma), mode="reflect", preserve_range=True).astype(np.float32)


# --- registered batch perturbations (N, C, H, W) -> (N, C, H, W) ---


def _jpeg(quality: int) -> Perturbation:
    def apply(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.stack([jpeg_image(img, quality) for img in images]).astype(np.float32)

    return apply


def _blur(sigma: float) -> Perturbation:
    def apply(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from skimage.filters import gaussian

        out = gaussian(images, sigma=(0, 0, sigma, sigma), mode="reflect", preserve_range=True)
        return out.astype(np.float32)

    return apply


def _downscale(factor: float) -> Perturbation:
    def apply(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from skimage.transform import resize

        n, c, h, w = images.shape
        small_shape = (n, c, max(1, round(h * factor)), max(1, round(w * factor)))
        small = resize(images, small_shape, order=1, anti_aliasing=True, mode="reflect")
        back = resize(small, images.shape, order=1, anti_aliasing=False, mode="reflect")
        return np.clip(back, 0.0, 1.0).astype(np.float32)

    return apply


def _noise(sigma: float) -> Perturbation:
    def apply(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noisy = images + rng.normal(0.0, sigma, size=images.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32)

    return apply


for _quality in (95, 75, 50, 30):
    register_perturbation(f"jpeg_q{_quality}")(_jpeg(_quality))
for _label, _sigma in (("0p5", 0.5), ("1", 1.0), ("2", 2.0)):
    register_perturbation(f"blur_sigma{_label}")(_blur(_sigma))
register_perturbation("downscale_0p5")(_downscale(0.5))
register_perturbation("noise_sigma0p05")(_noise(0.05))


def apply_perturbation(name: str, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Apply the registered perturbation `name` to (N, C, H, W) images; seeded for the noisy ones."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; registered: {', '.join(sorted(PERTURBATIONS))}")
    return PERTURBATIONS[name](images, np.random.default_rng(seed))


def checkerboard_fakes(real: np.ndarray, seed: int = 0, noise_sigma: float = 0.02) -> np.ndarray:
    """Stand-in "fakes" for tests and smoke runs: each real image at half size, nearest-neighbour
    upsampled back (the blocky artefact of transposed-conv generators) plus faint noise."""
    from skimage.transform import resize

    n, c, h, w = real.shape
    half = resize(real, (n, c, (h + 1) // 2, (w + 1) // 2), order=1, anti_aliasing=True, mode="reflect")
    blocky = half.repeat(2, axis=2).repeat(2, axis=3)[:, :, :h, :w]  # (N, C, H, W)
    noise = np.random.default_rng(seed).normal(0.0, noise_sigma, size=blocky.shape)
    return np.clip(blocky + noise, 0.0, 1.0).astype(np.float32)


def robustness_table(
    detector, real: np.ndarray, fake: np.ndarray, names: list[str] | None = None, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Metrics of a TrainedDetector (at its own threshold) after each perturbation of both classes.

    Row `clean` is the unperturbed baseline; intervals are skipped (bootstrap_resamples=0) to keep
    the table cheap. Each perturbation uses its own seed, the same for reals and fakes.
    """
    return robustness_tables({"detector": detector}, real, fake, names, seed)["detector"]


def robustness_tables(
    detectors: dict, real: np.ndarray, fake: np.ndarray, names: list[str] | None = None, seed: int = 0
) -> dict[str, dict[str, dict[str, float]]]:
    """`robustness_table` of each of `detectors` ({name: TrainedDetector}), each perturbed copy made once.

    The perturbation is the expensive part (JPEG is one Pillow encode/decode per image) and the same for
    every detector, so every detector scores the same copy; one perturbation is held at a time.
    """
    from ganops.detection.metrics import detection_metrics

    labels = np.concatenate([np.zeros(len(real), np.int64), np.ones(len(fake), np.int64)])
    tables: dict[str, dict] = {name: {} for name in detectors}
    for i, row in enumerate([CLEAN, *(names if names is not None else sorted(PERTURBATIONS))]):
        if row == CLEAN:
            real_x, fake_x = real, fake
        else:
            real_x, fake_x = apply_perturbation(row, real, seed + i), apply_perturbation(row, fake, seed + i)
        for name, detector in detectors.items():
            p_fake = np.concatenate([detector.score(real_x), detector.score(fake_x)])
            tables[name][row] = detection_metrics(labels, p_fake, detector.threshold, bootstrap_resamples=0)
    return tables
