"""Fréchet distance between two Gaussians, in float64 NumPy, fast and safe for singular covariances.

    d² = ||mu1 - mu2||² + tr(Σ1) + tr(Σ2) - 2 tr(sqrt(Σ1 Σ2))

Why our own: the classic implementation (pytorch-fid, clean-fid) takes `scipy.linalg.sqrtm` of the
non-symmetric product Σ1 Σ2, which is a complex Schur decomposition: ~15 s at 2048 dimensions on two
cores, and it returns complex or non-finite values for singular covariances (pytorch-fid then retries with
an added 1e-6·I). torchmetrics' `_compute_fid` uses `torch.linalg.eigvals` of the same product, works on
torch tensors only and keeps the non-symmetric conditioning. Only the trace of the square root is needed,
and Σ1 Σ2 is similar to a symmetric positive semi-definite matrix, so its eigenvalues come from `eigvalsh`:

    Σ1 = F Fᵀ (Cholesky; pivoted Cholesky, F d×r, for rank r < d)  ⇒  Σ1 Σ2 = F (Fᵀ Σ2) has the non-zero
    eigenvalues of Fᵀ Σ2 F, an r×r symmetric PSD matrix

tr(sqrt(Σ1 Σ2)) = Σ sqrt(λᵢ), with round-off negatives clipped to 0; singular Σ1 (fewer samples than
dimensions, dead units) simply gives r < d. At 2048 dimensions this is 13-20× faster than `sqrtm` on two
cores and agrees with it to ~1e-13 relative
(benchmarks/frechet_vs_scipy.py).
"""

from __future__ import annotations

import numpy as np
import torch


def _psd_factor(sigma: np.ndarray) -> np.ndarray:
    """F (d, r) with F Fᵀ = sigma for a PSD sigma of rank r, by pivoted Cholesky (LAPACK `dpstrf`).

    Unlike plain Cholesky it accepts singular matrices (it stops at the numerical rank), and unlike an
    eigendecomposition it never stalls: `eigh` on covariances with exactly-zero rows (dead ReLU units)
    can take ~1 s at 128 dims from subnormal arithmetic.
    """
    from scipy.linalg.lapack import dpstrf

    packed, pivots, rank, info = dpstrf(sigma, lower=1)
    if info < 0:
        raise ValueError(f"frechet_distance: LAPACK dpstrf rejected argument {-info}")
    lower = np.tril(packed)[:, :rank]  # (d, r): P^T sigma P = lower @ lower.T
    factor = np.empty_like(lower)
    factor[pivots - 1] = lower  # undo the pivoting (1-based indices): sigma = factor @ factor.T
    return factor


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrt(sigma1 @ sigma2)) for symmetric PSD matrices (d, d), via eigenvalues of Fᵀ sigma2 F.

    The linear algebra runs in torch float64 (zero-copy views): its LAPACK (MKL in the x86 CPU wheels)
    is 1.5-2× faster than NumPy's for `cholesky` and `eigvalsh` at 2048 dims, and slows down less on a
    shared machine. Dimensions where sigma1 has zero variance are dropped first (exact: sigma1 @ sigma2
    is then block triangular with a zero block); a still singular sigma1 falls back to LAPACK's
    pivoted Cholesky through SciPy.
    """
    a = torch.from_numpy(np.ascontiguousarray(sigma1, dtype=np.float64))
    b = torch.from_numpy(np.ascontiguousarray(sigma2, dtype=np.float64))
    alive = torch.diagonal(a) > 0  # zero-variance dims (dead units) of sigma1 only add zero eigenvalues
    if not bool(alive.all()):
        a, b = a[alive][:, alive], b[alive][:, alive]
    factor, info = torch.linalg.cholesky_ex(a)  # (d, d): the fast path for positive definite sigma1
    if int(info) != 0:  # singular (or round-off indefinite): pivoted Cholesky up to the numerical rank
        factor = torch.from_numpy(_psd_factor(a.numpy()))  # (d, r)
    inner = factor.T @ b @ factor  # (r, r), symmetric PSD up to round-off
    inner = (inner + inner.T) / 2.0
    eigenvalues = torch.linalg.eigvalsh(inner)
    return float(eigenvalues.clamp(min=0.0).sqrt().sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); mu (d,), sigma (d, d).

    Always a finite real number ≥ 0 up to round-off (clipped at 0) for finite PSD inputs, including
    rank-deficient covariances (fewer samples than dimensions).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
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
    """Mean (d,) and unbiased covariance (d, d) of features (N, d), in float64.

    Computed with torch, like the rest of the metric maths: alternating NumPy's and torch's BLAS thread
    pools makes each spin against the other on a 2-core machine (seconds lost per call).
    """
    x = torch.from_numpy(np.asarray(features, dtype=np.float64))
    assert x.ndim == 2 and len(x) >= 2, tuple(x.shape)
    mean = x.mean(dim=0)
    centred = x - mean  # (N, d)
    return mean.numpy(), (centred.T @ centred / (len(x) - 1)).numpy()
