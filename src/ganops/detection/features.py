"""Frequency features that expose GAN upsampling artefacts, for the `spectrum` detector.

- Radial spectrum (Durall et al. 2020): the log power spectrum of each channel, averaged over rings
  of equal spatial frequency, one value per integer radius from the centre (DC) to the corner.
  Transposed-convolution and nearest-neighbour upsampling leave excess high-frequency power.
- Log-DCT (Frank et al. 2020): log |DCT-II| coefficients of each channel (`scipy.fft.dctn`, ortho),
  which show the periodic grid of upsampling as bright spots. For images larger than `dct_grid`
  the coefficients are averaged over a dct_grid x dct_grid partition of the frequency plane to
  keep the feature count bounded; at or below it every coefficient is kept.

All functions take float (N, C, H, W) and return float64 (N, F).
"""

from __future__ import annotations

import numpy as np

FEATURE_SETS = ("radial", "dct", "both")
_EPS = 1e-8


def _radial_matrix(height: int, width: int):
    """Sparse (H * W, R) matrix averaging a centred spectrum over integer-radius rings."""
    from scipy.sparse import csr_array

    y, x = np.indices((height, width))
    radius = np.hypot(y - height // 2, x - width // 2).round().astype(np.int64).ravel()  # (H * W,)
    counts = np.bincount(radius)
    return csr_array((1.0 / counts[radius], (np.arange(height * width), radius)))


def radial_spectrum(images: np.ndarray) -> np.ndarray:
    """Azimuthally averaged log power spectrum: (N, C, H, W) -> (N, C * R)."""
    n, c, h, w = images.shape
    spectrum = np.fft.fftshift(np.fft.fft2(images.astype(np.float64)), axes=(-2, -1))  # (N, C, H, W)
    log_power = np.log(np.abs(spectrum) ** 2 + _EPS).reshape(n * c, h * w)
    return (log_power @ _radial_matrix(h, w)).reshape(n, -1)


def _pool_matrix(size: int, grid: int) -> np.ndarray:
    """(grid, size) matrix averaging `size` frequencies into `grid` contiguous groups."""
    groups = np.minimum(np.arange(size) * grid // size, grid - 1)
    matrix = np.zeros((grid, size))
    matrix[groups, np.arange(size)] = 1.0
    return matrix / matrix.sum(axis=1, keepdims=True)


def log_dct(images: np.ndarray, dct_grid: int = 32) -> np.ndarray:
    """log |DCT| per channel, pooled to at most dct_grid x dct_grid: (N, C, H, W) -> (N, C * gh * gw)."""
    from scipy.fft import dctn

    n, c, h, w = images.shape
    coeffs = np.log(np.abs(dctn(images.astype(np.float64), axes=(-2, -1), norm="ortho")) + _EPS)
    if h > dct_grid or w > dct_grid:
        rows, cols = _pool_matrix(h, min(h, dct_grid)), _pool_matrix(w, min(w, dct_grid))
        coeffs = rows @ coeffs @ cols.T  # (N, C, gh, gw)
    return coeffs.reshape(n, -1)


def spectrum_features(images: np.ndarray, features: str = "both", dct_grid: int = 32, chunk: int = 512) -> np.ndarray:
    """The `spectrum` detector's input: radial spectrum and/or log-DCT, (N, C, H, W) -> (N, F).

    Computed `chunk` images at a time to bound the memory of the float64 transforms."""
    if features not in FEATURE_SETS:
        raise ValueError(f"spectrum features must be one of {', '.join(FEATURE_SETS)} (got {features!r})")
    if len(images) > chunk:
        parts = [
            spectrum_features(images[i : i + chunk], features, dct_grid, chunk) for i in range(0, len(images), chunk)
        ]
        return np.concatenate(parts)
    parts = []
    if features in ("radial", "both"):
        parts.append(radial_spectrum(images))
    if features in ("dct", "both"):
        parts.append(log_dct(images, dct_grid))
    return np.concatenate(parts, axis=1)
