"""Numerical edge cases of the exact kernels (issue 11), with the tolerances stated in pntk.kernels.pnn_kernel.

Cosines at exactly +-1 and one rounding error beyond, zero-norm inputs (the continuous limit), very large
norms (the right growth), high degree in float64, float32 precision, symmetry and positive semi-definiteness.
"""

import jax
import numpy as np
import pytest

from pntk import data, kernels
from pntk.equivalence import sphere_ntk_diagonal

PSD_TOL = 1e-12  # lambda_min >= -PSD_TOL * lambda_max in float64, as documented in pnn_kernel
FLOAT32_TOL = 1e-5  # |Theta_32 - Theta_64| <= FLOAT32_TOL * max|Theta_64|, as documented in pnn_kernel


def _unit(key, n, d):
    return np.asarray(data.sphere(jax.random.key(key), n, d))


# ---------------------------------------------------------------- cosines at and beyond +-1

@pytest.mark.parametrize("degree", [1, 2, 5, 12])
def test_cosine_form_at_exactly_plus_and_minus_one(degree):
    one = np.nextafter(1.0, 2.0)  # one rounding error above 1: clipped, not NaN
    values = np.asarray(kernels.pnn_ntk_cosine(np.array([1.0, one, -1.0, -one]), degree))
    np.testing.assert_allclose(values[:2], sphere_ntk_diagonal(degree), rtol=1e-13)
    # antipodal unit vectors: kappa_1(-1) = kappa_0(-1) = 0, so every term of the closed form vanishes
    np.testing.assert_array_equal(values[2:], 0.0)


def test_cosines_clearly_outside_the_interval_are_refused():
    with pytest.raises(ValueError, match=r"t must contain cosines in \[-1, 1\]"):
        kernels.pnn_ntk_cosine(np.array([1.0 + 1e-9]), 2)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        kernels.inputs_from_cosine(np.array([-1.5]))


@pytest.mark.parametrize("degree", [1, 3, 12])
def test_duplicate_and_antipodal_points_whose_cosine_rounds_past_one(degree):
    """x, x (1 + 1e-15) and -x: the computed cosines can land a few ulps outside [-1, 1]."""
    x = _unit(3, 6, 7) * np.array([[0.3], [1.0], [2.0], [5.0], [11.0], [0.7]])
    pts = np.concatenate([x, x * (1 + 1e-15), -x])
    k = np.asarray(kernels.pnn_ntk(pts, None, degree, skip=False))
    assert np.all(np.isfinite(k))
    n = x.shape[0]
    norms2 = np.sum(x * x, axis=1)
    # skip-free: Theta(x, x) = 2 (1 + N) (|x|^2 / 2)^N exactly (kappa_1 = |x|^2 / 2, kappa_0 = 1/2 at cos = 1)
    diag = 2.0 * (1 + degree) * (norms2 / 2) ** degree
    np.testing.assert_allclose(np.diag(k)[:n], diag, rtol=1e-13)
    np.testing.assert_allclose(np.diag(k[:n, n:2 * n]), diag, rtol=1e-13)
    np.testing.assert_array_equal(np.diag(k[:n, 2 * n:]), 0.0)  # Theta(x, -x) = 0 without skip
    k_skip = np.asarray(kernels.pnn_ntk(pts, None, degree))
    np.testing.assert_array_equal(np.diag(k_skip[:n, 2 * n:]), 0.0)  # kappa_1 = kappa_0 = 0 kill every term


# ---------------------------------------------------------------- zero-norm inputs

@pytest.mark.parametrize("degree", [1, 2, 6])
@pytest.mark.parametrize("skip", [True, False])
def test_zero_input_gives_the_continuous_limit(degree, skip):
    y = _unit(4, 5, 3) * 2.0
    u = _unit(5, 1, 3)
    zero = np.zeros((1, 3))
    at_zero = np.asarray(kernels.pnn_ntk(zero, y, degree, skip=skip))
    np.testing.assert_array_equal(at_zero, 0.0)  # f(0) = 0 and all its gradients vanish without a bias
    np.testing.assert_array_equal(np.asarray(kernels.pnn_ntk(zero, None, degree, skip=skip)), 0.0)
    near = np.asarray(kernels.pnn_ntk(1e-8 * u, y, degree, skip=skip))
    assert np.all(np.isfinite(near)) and np.max(np.abs(near)) < 1e-6 * np.max(np.abs(kernels.pnn_ntk(u, y, degree, skip=skip)))
    # with a bias the zero input is the point (0, 1): the kernel is continuous there and non-zero
    with_bias = np.asarray(kernels.pnn_ntk(zero, y, degree, skip=skip, bias=True))
    np.testing.assert_allclose(with_bias, kernels.pnn_ntk(1e-10 * u, y, degree, skip=skip, bias=True), rtol=1e-8)
    assert np.all(with_bias > 0)


# ---------------------------------------------------------------- very large norms and high degree

@pytest.mark.parametrize("degree", [1, 3, 12])
def test_large_norms_have_the_right_homogeneity(degree):
    """|x| = 1e3. Skip-free: Theta(a x, b y) = (ab)^N Theta(x, y). With skip: Theta(t x, t y) = t^(2N) Theta_noskip (1 + O(1/t))."""
    x, y = _unit(6, 4, 5), _unit(7, 3, 5)
    big = 1e3
    k_big = np.asarray(kernels.pnn_ntk(big * x, big * y, degree, skip=False))
    assert np.all(np.isfinite(k_big))
    np.testing.assert_allclose(k_big, big ** (2 * degree) * np.asarray(kernels.pnn_ntk(x, y, degree, skip=False)),
                               rtol=1e-12)
    k_skip = np.asarray(kernels.pnn_ntk(big * x, big * y, degree))
    assert np.all(np.isfinite(k_skip))
    limit = np.asarray(kernels.pnn_ntk(x, y, degree, skip=False))

    def correction(t):  # relative size of the lower-order terms of the skip kernel at norm t
        k = np.asarray(kernels.pnn_ntk(t * x, t * y, degree)) / t ** (2 * degree)
        return np.max(np.abs(k - limit)) / np.max(np.abs(limit))

    assert correction(big) < 0.01 * degree
    if degree == 1:  # the skip only enters from degree 2 on: the ReLU NTK is exactly homogeneous
        assert correction(big) < 1e-14
    else:
        assert correction(big) < correction(10.0) / 50  # O(1/t): 100 times smaller from t = 10 to t = 1000


def test_degree_12_at_norm_1000_is_finite_in_float64_and_overflow_is_refused():
    x = 1e3 * _unit(8, 5, 4)
    k = np.asarray(kernels.pnn_ntk(x, None, 12))
    assert np.all(np.isfinite(k)) and np.all(np.diag(k) > 0)
    assert np.max(k) > 1e69  # (|x|^2)^12 = 1e72 scale: far beyond float32, well inside float64
    with pytest.raises(ValueError, match="overflows float64.*lower the degree, rescale the inputs"):
        kernels.pnn_ntk(x, None, 60)
    with pytest.raises(ValueError, match="overflows float32"):
        kernels.pnn_ntk(x.astype(np.float32), None, 12)


# ---------------------------------------------------------------- float32

@pytest.mark.parametrize("degree", [1, 2, 4, 12])
@pytest.mark.parametrize("skip", [True, False])
def test_float32_precision_is_as_documented(degree, skip):
    x = 3.0 * np.asarray(data.ball(jax.random.key(9), 40, 5))
    k64 = np.asarray(kernels.pnn_ntk(x, None, degree, skip=skip))
    k32 = kernels.pnn_ntk(x.astype(np.float32), None, degree, skip=skip)
    assert k32.dtype == np.float32
    k32 = np.asarray(k32, dtype=np.float64)
    assert np.max(np.abs(k32 - k64)) <= FLOAT32_TOL * np.max(np.abs(k64))
    np.testing.assert_array_equal(k32, k32.T)


# ---------------------------------------------------------------- symmetry and PSD at the stated tolerance

@pytest.mark.parametrize("degree", [1, 3, 12])
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_gram_matrices_are_exactly_symmetric_and_psd_to_the_stated_tolerance(degree, activation):
    x = np.asarray(data.ball(jax.random.key(10), 120, 3, radius=2.0))
    x = np.concatenate([x, x[:10] * (1 + 1e-15), np.zeros((1, 3))])  # near-duplicates and the origin
    for bias in (False, True):
        kern = kernels.pnn_kernel(x, None, degree, activation=activation, bias=bias)
        for k in (np.asarray(kern.ntk), np.asarray(kern.nngp)):
            np.testing.assert_array_equal(k, k.T)
            eig = np.linalg.eigvalsh(k)
            assert eig[0] >= -PSD_TOL * eig[-1], (eig[0], eig[-1])


@pytest.mark.parametrize("n,d", [(48, 3), (256, 10), (205, 3), (64, 40)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_matrices_are_exactly_symmetric_with_and_without_the_symmetrising_pass(n, d, dtype):
    """n a multiple of 16 and d <= 32: symmetric by construction; otherwise symmetrised (pntk.kernels)."""
    x = np.asarray(data.ball(jax.random.key(11), n, d, radius=2.0)).astype(dtype)
    x[-4:] = x[:4] * (1 + 1e-7)  # near-duplicates
    assert kernels._symmetric_by_construction(x, False) == (n % 16 == 0 and d <= kernels.UNROLLED_DOT_MAX_DIM)
    for degree in (1, 2, 5):
        for skip in (True, False):
            for activation in ("relu", "identity"):
                for bias in (False, True):
                    kern = kernels.pnn_kernel(x, None, degree, skip=skip, activation=activation, bias=bias)
                    for k in (np.asarray(kern.ntk), np.asarray(kern.nngp)):
                        np.testing.assert_array_equal(k, k.T)
