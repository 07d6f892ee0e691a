"""pntk.convergence: arc-cosine kernels, convergence of the empirical NTK, polynomial structure of CCP nets."""

import jax
import numpy as np
import pytest

from pntk import convergence as cv
from pntk import data, kernels, models


@pytest.fixture(scope="module")
def points():
    return np.asarray(data.sphere(jax.random.key(0), 12, 4)) * np.linspace(0.5, 2.0, 12)[:, None]


def test_arc_cosine_gives_the_relu_ntk_and_nngp(points):
    k0, k1 = cv.arc_cosine(points)
    dot = points @ points.T
    np.testing.assert_allclose(2 * (k1 + dot * k0), kernels.relu_ntk(points), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(2 * k1, kernels.pnn_nngp(points), rtol=1e-12, atol=1e-12)
    # diagonal: angle 0 gives kappa0 = 1/2 and kappa1 = |x|^2 / 2
    np.testing.assert_allclose(np.diag(k0), 0.5)
    np.testing.assert_allclose(np.diag(k1), 0.5 * np.sum(points**2, axis=1), rtol=1e-14)


def test_arc_cosine_special_angles():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    k0, k1 = cv.arc_cosine(x)
    assert k0[0, 1] == pytest.approx(0.25) and k1[0, 1] == pytest.approx(2 / (2 * np.pi))
    assert k0[0, 2] == pytest.approx(0.0, abs=1e-15) and k1[0, 2] == pytest.approx(0.0, abs=1e-15)


def test_monte_carlo_converges_to_the_closed_form(points):
    k0, k1 = cv.arc_cosine(points)
    e_small = [np.abs(a - b).max() for a, b in zip(cv.arc_cosine_monte_carlo(jax.random.key(1), points, num_samples=1000), (k0, k1))]
    e_large = [np.abs(a - b).max() for a, b in zip(cv.arc_cosine_monte_carlo(jax.random.key(1), points, num_samples=200_000, chunk=7000), (k0, k1))]
    assert max(e_large) < 0.02
    assert e_large[0] < e_small[0] and e_large[1] < e_small[1]


def test_gram_ntk_fn_equals_the_library_empirical_ntk(points):
    init, apply = models.pnn(2, 32)
    params = init(jax.random.key(3), points.shape[1])
    np.testing.assert_allclose(cv.gram_ntk_fn(apply)(params, points),
                               kernels.empirical_ntk(apply, params, points), rtol=1e-12, atol=1e-12)


def test_subnet_is_a_prefix_and_checks_width():
    init, _ = models.pnn(2, 16)
    p = init(jax.random.key(0), 3)
    q = cv.subnet(p, 5)
    assert q["W"].shape == (2, 5, 3) and q["c"].shape == (5,)
    np.testing.assert_array_equal(q["W"], p["W"][:, :5])
    with pytest.raises(ValueError, match="width"):
        cv.subnet(p, 17)
    r = cv.subnet(p, degree=1)
    assert r["W"].shape == (1, 16, 3)
    with pytest.raises(ValueError, match="degree"):
        cv.subnet(p, degree=3)


def test_ntk_error_falls_with_width(points):
    errors = cv.ntk_convergence(jax.random.key(2), points, 1, [16, 4096], 3)
    assert errors.shape == (3, 2)
    assert np.all(errors[:, 1] < errors[:, 0])
    slope, _ = cv.loglog_slope([16, 4096], errors.mean(axis=0))
    assert -0.8 < slope < -0.3


def test_loglog_slope_recovers_a_power_law():
    xs = np.array([1.0, 10.0, 100.0])
    slope, const = cv.loglog_slope(xs, 3.0 * xs**-0.5)
    assert slope == pytest.approx(-0.5) and const == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive"):
        cv.loglog_slope([1.0, 2.0], [1.0, 0.0])


def test_kernel_moves_less_for_a_wider_net(points):
    y = points[:, 0] ** 2
    init, _ = models.pnn(1, 4096)
    full = init(jax.random.key(4), points.shape[1])
    narrow = cv.kernel_drift(cv.subnet(full, 32), points, y, learning_rate=0.2, steps=200)
    wide = cv.kernel_drift(full, points, y, learning_rate=0.2, steps=200)
    assert wide.relative_change < narrow.relative_change / 3
    assert wide.loss[1] < wide.loss[0] / 10  # it did train


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_ccp_coefficients_reproduce_the_identity_net(degree):
    init, apply = models.pnn(degree, 8, activation="identity")
    p = init(jax.random.key(degree), 3)
    tensors = cv.ccp_coefficients(p)
    assert [t.shape for t in tensors] == [(3,) * k for k in range(1, degree + 1)]
    x = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(cv.evaluate_coefficients(tensors, x), apply(p, x), rtol=1e-11, atol=1e-11)


def test_degree_two_coefficients_are_the_explicit_sums():
    init, _ = models.pnn(2, 5, activation="identity")
    p = init(jax.random.key(9), 3)
    w, c = np.asarray(p["W"]), np.asarray(p["c"])
    t1, t2 = cv.ccp_coefficients(p)
    np.testing.assert_allclose(t1, np.sqrt(2 / 5) * c @ w[0])
    np.testing.assert_allclose(t2, np.sqrt(2 / 5) * np.einsum("i,ia,ib->ab", c, w[0], w[1]))


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("degree", [1, 2, 4])
def test_ray_coefficients_match_the_relu_net_for_positive_t(degree, skip):
    init, apply = models.pnn(degree, 16, skip=skip)
    p = init(jax.random.key(degree), 3)
    v = np.array([0.3, -1.0, 2.0])
    a = cv.ray_coefficients(p, v, skip=skip)
    assert a.shape == (degree + 1,) and a[0] == 0
    if not skip:
        np.testing.assert_allclose(a[1:-1], 0)
    ts = np.linspace(0, 4, 17)
    np.testing.assert_allclose(np.polynomial.polynomial.polyval(ts, a), apply(p, ts[:, None] * v), rtol=1e-11, atol=1e-11)


def test_relu_net_is_not_one_polynomial_across_the_origin():
    init, apply = models.pnn(2, 16)
    p = init(jax.random.key(0), 3)
    v = np.array([0.3, -1.0, 2.0])
    ts = np.linspace(-3, 3, 61)
    res = cv.polyfit_residuals(ts, np.asarray(apply(p, ts[:, None] * v)), 4)
    assert res[2] > 1e-3  # a kink at t = 0
    pos = ts >= 0
    assert cv.polyfit_residuals(ts[pos], np.asarray(apply(p, ts[pos, None] * v)), 4)[2] < 1e-12


def test_polyfit_residuals_detect_the_degree():
    ts = np.linspace(-2, 2, 40)
    res = cv.polyfit_residuals(ts, 1 + ts - 2 * ts**3, 5)
    assert np.all(res[:3] > 1e-2) and np.all(res[3:] < 1e-12)
    with pytest.raises(ValueError, match="max_degree"):
        cv.polyfit_residuals(ts[:4], ts[:4], 3)


def test_init_outputs_variance_matches_the_nngp_diagonal():
    x = np.asarray(data.sphere(jax.random.key(1), 3, 4))
    out = cv.init_outputs(jax.random.key(2), x, [1, 2], 64, 4000)
    assert out.shape == (2, 4000, 3)
    for j, n in enumerate([1, 2]):
        np.testing.assert_allclose(out[j].var(axis=0), np.diag(kernels.pnn_nngp(x, degree=n)), rtol=0.12)


def test_init_outputs_are_the_models_outputs():
    x = np.asarray(data.sphere(jax.random.key(1), 3, 4))
    out = cv.init_outputs(jax.random.key(5), x, [1, 3], 8, 2, bias=True)
    init, _ = models.pnn(3, 8, bias=True)
    keys = jax.random.split(jax.random.key(5), 2)
    for j, n in enumerate([1, 3]):
        _, apply = models.pnn(n, 8, bias=True)
        for k in range(2):
            p = cv.subnet(init(keys[k], 4), degree=n)
            np.testing.assert_allclose(out[j, k], apply(p, x), rtol=1e-12)


def test_argument_validation():
    with pytest.raises(TypeError, match="key"):
        cv.arc_cosine_monte_carlo(0, np.ones((2, 2)))
    with pytest.raises(ValueError, match="zero vector"):
        cv.arc_cosine(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="params"):
        cv.ray_coefficients({"W": 1}, np.ones(2))
    init, _ = models.pnn(2, 4)
    with pytest.raises(ValueError, match="direction"):
        cv.ray_coefficients(init(jax.random.key(0), 3), np.ones(2))
    with pytest.raises(ValueError, match="widths"):
        cv.ntk_convergence(jax.random.key(0), np.ones((2, 2)), 1, [], 1)


# --- the bias-free polynomial net in one dimension ---------------------------------------------------

def _one_d_points(n=30):
    # n points in [-2, 2], none at the origin, more on the right than on the left
    return np.concatenate([np.linspace(-2.0, -0.3, n // 3), np.linspace(0.1, 2.0, n - n // 3)])


@pytest.mark.parametrize("degree", [1, 2, 4])
def test_one_d_kernel_is_the_half_line_polynomial_kernel(degree):
    x = _one_d_points()
    k = np.asarray(kernels.pnn_ntk(x[:, None], None, degree))
    xx = np.outer(x, x)
    beta = 1 + (np.abs(x)[:, None] + np.abs(x)[None, :]) / np.sqrt(2 * np.pi) + xx / 2
    same = 2 * xx * beta ** (degree - 1) + (degree - 1) / 2 * xx**2 * beta ** (degree - 2)
    np.testing.assert_allclose(k, np.where(xx > 0, same, 0.0), rtol=1e-10, atol=1e-12)
    # rank 2N: the features x, ..., x^N on each half-line
    assert np.linalg.matrix_rank(k) == 2 * degree
    # with a bias the same points give a full-rank kernel
    assert np.linalg.matrix_rank(np.asarray(kernels.pnn_ntk(x[:, None], None, degree, bias=True))) == x.size


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_half_line_polyfit_is_ntk_kernel_regression(degree):
    x = _one_d_points()
    y = np.cos(2 * x) + x
    x_eval = np.linspace(-3.0, 3.0, 41)
    x_eval = x_eval[x_eval != 0]
    k = np.asarray(kernels.pnn_ntk(x[:, None], None, degree))
    k_eval = np.asarray(kernels.pnn_ntk(x_eval[:, None], x[:, None], degree))
    by_kernel = k_eval @ np.linalg.pinv(k, rcond=1e-10, hermitian=True) @ y
    by_fit = cv.half_line_polyfit(x, y, x_eval, degree)
    np.testing.assert_allclose(by_kernel, by_fit, rtol=1e-6, atol=1e-6 * np.abs(by_fit).max())
    # the fit is a polynomial through 0 on each side, so it is 0 at 0
    assert cv.half_line_polyfit(x, y, np.array([0.0]), degree)[0] == 0.0


def test_half_line_polyfit_reproduces_polynomials_through_zero():
    x = _one_d_points()
    y = np.where(x > 0, 2 * x - x**3, 0.5 * x**2)
    x_eval = np.array([-3.0, -1.0, 0.5, 4.0])
    expected = np.where(x_eval > 0, 2 * x_eval - x_eval**3, 0.5 * x_eval**2)
    np.testing.assert_allclose(cv.half_line_polyfit(x[:, None], y, x_eval[:, None], 3), expected, rtol=1e-10)
    # a side without training points predicts 0, like the kernel (zero across the origin)
    pos = x > 0
    np.testing.assert_allclose(cv.half_line_polyfit(x[pos], y[pos], np.array([-1.0]), 3), 0.0)


def test_half_line_polyfit_argument_validation():
    with pytest.raises(ValueError, match="must not contain 0"):
        cv.half_line_polyfit(np.array([0.0, 1.0]), np.ones(2), np.ones(3), 1)
    with pytest.raises(ValueError, match="x_eval"):
        cv.half_line_polyfit(np.ones(2), np.ones(2), np.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="degree"):
        cv.half_line_polyfit(np.ones(2), np.ones(2), np.ones(3), 0)
    with pytest.raises(ValueError, match="y"):
        cv.half_line_polyfit(np.ones(2), np.ones(3), np.ones(3), 1)


# --- the finite-width NNGP ------------------------------------------------------------------------

@pytest.mark.parametrize("skip", [True, False])
def test_empirical_nngp_is_the_feature_gram_matrix(points, skip):
    init, apply = models.pnn(3, 64, skip=skip)
    params = init(jax.random.key(1), points.shape[1])
    w = np.asarray(params["W"])
    pre = np.einsum("nmd,bd->nbm", w, points)
    rest = 1 + np.maximum(pre[1:], 0) if skip else np.maximum(pre[1:], 0)
    h = np.maximum(pre[0], 0) * np.prod(rest, axis=0)
    np.testing.assert_allclose(cv.empirical_nngp(params, points, skip=skip), 2 / 64 * h @ h.T, rtol=1e-12)
    # the output is sqrt(2/m) c^T h: its covariance over the readout c is the empirical NNGP
    c_draws = np.asarray(jax.random.normal(jax.random.key(2), (20000, 64)))
    outs = np.sqrt(2 / 64) * c_draws @ h.T
    np.testing.assert_allclose(outs.T @ outs / len(c_draws), cv.empirical_nngp(params, points, skip=skip),
                               rtol=0.1, atol=0.05 * np.abs(h @ h.T).max() * 2 / 64)


def test_nngp_error_falls_with_width(points):
    errors = cv.nngp_convergence(jax.random.key(3), points, [1, 3], [16, 4096], 3)
    assert errors.shape == (3, 2, 2)
    assert np.all(errors.mean(axis=0)[:, 1] < 0.3 * errors.mean(axis=0)[:, 0])
    with pytest.raises(ValueError, match="at least one"):
        cv.nngp_convergence(jax.random.key(3), points, [], [16], 1)
    init, _ = models.pnn(2, 8)
    with pytest.raises(ValueError, match="coordinates"):
        cv.empirical_nngp(init(jax.random.key(0), 3), points)
