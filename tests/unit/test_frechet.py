"""frechet_distance against the classic scipy.linalg.sqrtm formula (pytorch-fid's) and closed forms."""

import numpy as np
import pytest
import scipy.linalg

from ganops.evaluation.frechet import frechet_distance, mean_and_covariance


def scipy_fid(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's `calculate_frechet_distance`, the reference implementation.

    (`disp=False` is dropped: deprecated in SciPy 1.17, which returns the matrix alone without it.)
    """
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def random_statistics(rng, dim, count):
    a = rng.standard_normal((count, dim)) @ rng.standard_normal((dim, dim)) / np.sqrt(dim)
    b = 0.7 * a[rng.permutation(count)] + 0.5 * rng.standard_normal((count, dim)) + 0.3
    return (*mean_and_covariance(a), *mean_and_covariance(b))


@pytest.mark.parametrize("dim", [1, 2, 8, 32, 256])
def test_agrees_with_scipy_sqrtm(dim):
    rng = np.random.default_rng(dim)
    stats = random_statistics(rng, dim, count=4 * dim + 10)
    expected = scipy_fid(*stats)
    assert frechet_distance(*stats) == pytest.approx(expected, rel=1e-6)


def test_one_dimensional_closed_form():
    # N(m1, s1²) vs N(m2, s2²): (m1 - m2)² + (s1 - s2)²
    value = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]]))
    assert value == pytest.approx(9.0 + 1.0, rel=1e-12)


def test_same_statistics_give_zero():
    mu, sigma, _, _ = random_statistics(np.random.default_rng(0), 16, 100)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_singular_covariances_give_finite_real_value():
    rng = np.random.default_rng(1)
    dim = 64
    few_a = rng.standard_normal((10, dim))  # rank 9 covariances
    few_b = rng.standard_normal((12, dim)) + 0.5
    stats = (*mean_and_covariance(few_a), *mean_and_covariance(few_b))
    value = frechet_distance(*stats)
    assert np.isfinite(value) and value > 0
    assert isinstance(value, float)
    # agrees with the regularised classic formula (which adds 1e-6·I when sqrtm fails)
    assert value == pytest.approx(scipy_fid(*stats), rel=1e-3)
    zero = np.zeros((dim, dim))
    assert frechet_distance(stats[0], zero, stats[2], zero) == pytest.approx(float(np.sum((stats[0] - stats[2]) ** 2)))


def test_rejects_mismatched_shapes_and_nan():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu, sigma * np.nan, mu, sigma)
