"""Translation metrics the reference code lacks: label preservation, paired fidelity, cycle error, collapse.

All take float images (N, C, H, W) in [0, 1] as numpy arrays. Pixel fidelity uses scikit-image
(skimage.metrics); FID/KID of translated vs real B images are the image family's metrics applied to
these arrays and are not repeated here. Keys are constants so DVC metrics, MLflow and the registry use
the same names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LABEL_PRESERVATION = "label_preservation"  # accuracy of a domain-B classifier on translated A images
L1_TO_TARGET = "l1_to_target"  # mean |translated − true B| per pixel, [0, 1] scale
PSNR_TO_TARGET = "psnr_db_to_target"  # mean per-image PSNR in dB, data range 1
SSIM_TO_TARGET = "ssim_to_target"  # mean per-image SSIM
CYCLE_L1 = "cycle_l1"  # mean |F(G(a)) − a| per pixel
DISTINCT_OUTPUT_SHARE = "distinct_output_share"  # distinct outputs / distinct inputs (8-bit)
SPREAD_RATIO = "output_input_spread_ratio"  # mean pairwise RMS distance of outputs / of inputs
PSNR_CAP_DB = 100.0  # PSNR of identical images is infinite; report this instead

# images (N, C, H, W) in [0, 1] → class logits (N, K) or class ids (N,)
Classifier = Callable[[np.ndarray], np.ndarray]


def _check(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"{name}: need images (N, C, H, W) with N >= 1, got shape {images.shape}")
    return images


def _check_pair(x: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _check(x, x_name), _check(y, y_name)
    if x.shape != y.shape:
        raise ValueError(f"{x_name} {x.shape} and {y_name} {y.shape} must have the same shape")
    return x, y


def predict_classes(classify: Classifier, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Class ids (N,) from a classifier returning logits (N, K) or ids (N,), in batches."""
    images = _check(images, "images")
    out = []
    for start in range(0, len(images), batch_size):
        pred = np.asarray(classify(images[start : start + batch_size]))
        out.append(pred.argmax(axis=1) if pred.ndim == 2 else pred.reshape(-1))
    return np.concatenate(out).astype(np.int64)


def label_preservation(
    classify: Classifier, translated: np.ndarray, labels: np.ndarray, batch_size: int = 500
) -> float:
    """Share of translated images that the (domain-B) classifier assigns their source image's label."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(translated):
        raise ValueError(f"labels: need one per translated image ({len(translated)}), got {len(labels)}")
    if (labels < 0).any():
        raise ValueError("labels: label preservation needs known classes (found -1); use a labelled source")
    return float(np.mean(predict_classes(classify, translated, batch_size) == labels))


def paired_metrics(translated: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """L1, PSNR and SSIM of each translated image against its true B image, averaged over images.

    A loop over images: skimage.metrics compares one image (C, H, W) pair at a time.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    translated, target = _check_pair(translated, target, "translated", "target")
    psnr, ssim = [], []
    for x, t in zip(translated, target, strict=True):
        if np.array_equal(x, t):  # skimage divides by a zero MSE here
            psnr.append(PSNR_CAP_DB)
        else:
            psnr.append(min(peak_signal_noise_ratio(t, x, data_range=1.0), PSNR_CAP_DB))
        ssim.append(structural_similarity(t, x, data_range=1.0, channel_axis=0))
    return {
        L1_TO_TARGET: float(np.abs(translated - target).mean()),
        PSNR_TO_TARGET: float(np.mean(psnr)),
        SSIM_TO_TARGET: float(np.mean(ssim)),
    }


def cycle_l1(reconstructed: np.ndarray, original: np.ndarray) -> float:
    """Mean absolute cycle-reconstruction error |F(G(a)) − a| per pixel."""
    reconstructed, original = _check_pair(reconstructed, original, "reconstructed", "original")
    return float(np.abs(reconstructed - original).mean())


def _quantised(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) → (N, C·H·W) uint8: images as a PNG would store them."""
    return (np.clip(images, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(len(images), -1)


def _mean_pairwise_rms(images: np.ndarray) -> float:
    from scipy.spatial.distance import pdist

    flat = images.reshape(len(images), -1).astype(np.float64)
    return float(pdist(flat).mean() / np.sqrt(flat.shape[1]))  # RMS per element: channel counts may differ


def collapse_check(inputs: np.ndarray, outputs: np.ndarray, max_images: int = 500, seed: int = 0) -> dict[str, float]:
    """Does the translator map distinct inputs to distinct outputs, and keep their spread?

    distinct_output_share: among inputs distinct at 8 bits, the share of distinct outputs (1 = injective,
    1/N = one output for all);
    output_input_spread_ratio: mean pairwise RMS distance of outputs over that of inputs, on at most
    `max_images` random images (≈ 0 when every input maps to nearly the same output).
    """
    inputs, outputs = _check(inputs, "inputs"), _check(outputs, "outputs")
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError(f"collapse check: need >= 2 inputs and one output each (got {len(inputs)}, {len(outputs)})")
    _, first = np.unique(_quantised(inputs), axis=0, return_index=True)  # one index per distinct input
    pick = np.random.default_rng(seed).permutation(len(inputs))[:max_images]
    input_spread = _mean_pairwise_rms(inputs[pick])
    return {
        DISTINCT_OUTPUT_SHARE: len(np.unique(_quantised(outputs[first]), axis=0)) / len(first),
        SPREAD_RATIO: _mean_pairwise_rms(outputs[pick]) / input_spread if input_spread > 0 else float("nan"),
    }
