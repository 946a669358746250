"""Fréchet distance between two Gaussians, in float64 NumPy, fast and safe for singular covariances.

    d² = ||mu1 - mu2||² + tr(Σ1) + tr(Σ2) - 2 tr(sqrt(Σ1 Σ2))

Why not a library: the classic implementation (pytorch-fid, clean-fid) takes `scipy.linalg.sqrtm` of the
non-symmetric product Σ1 Σ2, which is a complex Schur decomposition: ~15 s at 2048 dimensions on two
cores, and it returns complex or non-finite values for singular covariances (pytorch-fid then retries with
an added 1e-6·I). torchmetrics' `_compute_fid` uses `torch.linalg.eigvals` of the same product, works on
torch tensors only and keeps the non-symmetric conditioning. Only the trace of the square root is needed,
and Σ1 Σ2 is similar to a symmetric positive semi-definite matrix, so its eigenvalues come from `eigvalsh`:

    Σ1 = L Lᵀ (Cholesky)       ⇒  Σ1 Σ2 = L (Lᵀ Σ2 L) L⁻¹ has the eigenvalues of Lᵀ Σ2 L (PSD)
    Σ1 singular: Σ1 = R R, R = sqrt(Σ1) by `eigh`  ⇒  Σ1 Σ2 has the non-zero eigenvalues of R Σ2 R

tr(sqrt(Σ1 Σ2)) = Σ sqrt(λᵢ), with round-off negatives clipped to 0. The Cholesky path is ~20× faster
than `sqrtm` at 2048 dimensions (benchmarks/frechet_vs_scipy.py) and agrees with it to ~1e-12 relative.
"""

from __future__ import annotations

import numpy as np


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a (possibly singular) PSD matrix; negative round-off eigenvalues -> 0."""
    eigenvalues, vectors = np.linalg.eigh(sigma)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def _factor(sigma: np.ndarray) -> np.ndarray:
    """A matrix F with F Fᵀ = sigma: Cholesky when positive definite, else the symmetric square root."""
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:  # singular or with round-off negatives: the slower, always-valid path
        return _psd_sqrt(sigma)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrt(sigma1 @ sigma2)) for symmetric PSD matrices (d, d), via eigenvalues of Fᵀ sigma2 F."""
    factor = _factor(sigma1)  # (d, d), factor @ factor.T == sigma1
    inner = factor.T @ sigma2 @ factor  # (d, d), symmetric PSD up to round-off
    inner = (inner + inner.T) / 2.0
    eigenvalues = np.linalg.eigvalsh(inner)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); mu (d,), sigma (d, d).

    Always a finite real number ≥ 0 up to round-off (clipped at 0) for finite PSD inputs, including
    rank-deficient covariances (fewer samples than dimensions).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"frechet_distance: expected mu1, mu2 of shape (d,) and sigma1, sigma2 of shape (d, d); got "
            f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    for name, array in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"frechet_distance: {name} holds NaN or inf (features must be finite)")
    sigma1 = (sigma1 + sigma1.T) / 2.0
    sigma2 = (sigma2 + sigma2.T) / 2.0
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))


def mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) of features (N, d), in float64."""
    features = np.asarray(features, dtype=np.float64)
    assert features.ndim == 2 and len(features) >= 2, features.shape
    return features.mean(axis=0), np.cov(features, rowvar=False)
