"""Exact NTK vs the empirical NTK of the finite-width model (jax autodiff): error falls like 1/sqrt(width)."""

import jax
import numpy as np
import pytest

from pntk import data, kernels, models

SEEDS = range(6)


def widths(degree):
    """Four widths spanning 64x. Products of N factors have heavier tails, so the 1/sqrt(m) regime
    starts later for higher degrees (measured: degree 4 with |x| up to 3 is pre-asymptotic below m ~ 2000)."""
    return [w * 4 ** max(0, degree - 3) for w in (128, 512, 2048, 8192)]


def finite_width_formula(params, x1, x2, degree):
    """The finite-width formula of the book chapter "The NTK of a polynomial net", written out with numpy: the empirical NTK of the skip ReLU-CCP without autodiff."""
    w, c = np.asarray(params["W"]), np.asarray(params["c"])
    m = c.shape[0]

    def parts(x):
        pre = np.einsum("nmd,bd->nbm", w, x)
        f = np.maximum(pre, 0.0)
        f[1:] += 1.0
        return f, (pre > 0).astype(float)

    f1, d1 = parts(x1)
    f2, d2 = parts(x2)
    h1, h2 = f1.prod(axis=0), f2.prod(axis=0)
    out = (2 / m) * h1 @ h2.T
    for n in range(degree):
        others1 = np.prod(np.delete(f1, n, axis=0), axis=0) * d1[n] * c
        others2 = np.prod(np.delete(f2, n, axis=0), axis=0) * d2[n] * c
        out += (2 / m) * (x1 @ x2.T) * (others1 @ others2.T)
    return out


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_autodiff_ntk_equals_the_finite_width_formula(degree, ball_points):
    x1, x2 = ball_points
    init, apply = models.pnn(degree, 64)
    params = init(jax.random.key(7), x1.shape[1])
    np.testing.assert_allclose(kernels.empirical_ntk(apply, params, x1, x2, batch_size=4),
                               finite_width_formula(params, x1, x2, degree), rtol=1e-10, atol=1e-12)


def mean_error(degree, width, x1, x2, **opts):
    exact = kernels.pnn_ntk(x1, x2, degree, **opts)
    init, apply = models.pnn(degree, width, **opts)
    errors = []
    for seed in SEEDS:
        params = init(jax.random.key(100 + seed), x1.shape[1])
        errors.append(data.relative_error(kernels.empirical_ntk(apply, params, x1, x2), exact))
    return float(np.mean(errors))


@pytest.mark.slow
@pytest.mark.parametrize("degree", [1, 2, 3, 4])
@pytest.mark.parametrize("where", ["sphere", "ball"])
def test_empirical_ntk_converges_like_inverse_sqrt_width(degree, where, sphere_points, ball_points):
    x1, x2 = sphere_points if where == "sphere" else ball_points
    ws = widths(degree)
    errors = np.array([mean_error(degree, m, x1, x2) for m in ws])
    slope = np.polyfit(np.log(ws), np.log(errors), 1)[0]
    # a mean of m i.i.d. terms: error ~ m^(-1/2); 64x the width gives about 8x less error
    assert -0.75 < slope < -0.3, (errors, slope)
    assert errors[-1] < errors[0] / 4, errors


@pytest.mark.slow
def test_empirical_ntk_with_bias_and_without_skip_converges(ball_points):
    x1, x2 = ball_points
    for opts in [dict(bias=True), dict(skip=False), dict(activation="identity")]:
        small, large = mean_error(2, 128, x1, x2, **opts), mean_error(2, 8192, x1, x2, **opts)
        assert large < small / 4, (opts, small, large)


def test_empirical_ntk_is_symmetric_psd_and_blocking_does_not_change_it(sphere_points):
    x = sphere_points[0]
    init, apply = models.pnn(2, 256)
    params = init(jax.random.key(3), x.shape[1])
    k = np.asarray(kernels.empirical_ntk(apply, params, x, x, batch_size=5))
    np.testing.assert_allclose(k, np.asarray(kernels.empirical_ntk(apply, params, x, batch_size=100)), rtol=1e-12)
    np.testing.assert_allclose(k, k.T, rtol=1e-12)
    assert np.linalg.eigvalsh(k)[0] > -1e-10 * np.abs(k).max()
