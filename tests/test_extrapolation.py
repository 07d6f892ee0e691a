"""pntk.extrapolation: growth exponents, R^2 along rays, disk sectors, the width-1 CCP and Adam."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pntk import data, kernels, models, training
from pntk import extrapolation as ex


# ---------------------------------------------------------------- growth exponent

@pytest.mark.parametrize("degree", [1, 2, 3, 5, 8])
def test_growth_exponent_of_a_polynomial_is_its_degree(degree):
    rng = np.random.default_rng(degree)
    coef = rng.normal(size=degree + 1)
    coef[-1] = 1.5
    t = np.geomspace(1e4, 1e6, 7)
    values = np.polynomial.polynomial.polyval(t, coef)
    assert abs(ex.growth_exponent(values, t) - degree) < 1e-3


def test_growth_exponent_of_a_power_is_exact_and_vectorised():
    t = np.geomspace(0.5, 4.0, 5)
    values = np.stack([3 * t**2.5, -t, 7 * t**0.5])
    np.testing.assert_allclose(ex.growth_exponent(values, t), [2.5, 1.0, 0.5], rtol=1e-12)


def test_growth_exponent_refuses_bad_inputs():
    t = np.geomspace(1, 10, 4)
    with pytest.raises(ValueError, match="t"):
        ex.growth_exponent(np.ones(4), -t)
    with pytest.raises(ValueError, match="values"):
        ex.growth_exponent(np.ones(3), t)
    with pytest.raises(ValueError, match="non-zero"):
        ex.growth_exponent(np.array([1.0, 0.0, 1.0, 2.0]), t)
    with pytest.raises(ValueError, match="repeat"):
        ex.growth_exponent(np.ones(4), np.array([1.0, 2.0, 2.0, 3.0]))


# ---------------------------------------------------------------- R^2 of polynomial fits

def test_polynomial_r2_is_one_for_a_polynomial_of_that_degree_and_below_one_below_it():
    t = np.linspace(1.1, 11.1, 100)
    values = t**3 - 4 * t
    assert ex.polynomial_r2(values, t, 3) == pytest.approx(1.0, abs=1e-12)
    assert ex.polynomial_r2(values, t, 5) == pytest.approx(1.0, abs=1e-12)
    assert ex.polynomial_r2(values, t, 1) < 0.97
    assert ex.polynomial_r2(values, t, 2) < ex.polynomial_r2(values, t, 3)


def test_polynomial_r2_matches_an_independent_least_squares_fit():
    rng = np.random.default_rng(0)
    t = np.linspace(2.0, 12.0, 40)
    values = np.sin(t) + rng.normal(size=40) * 0.1
    y = values - values[0]
    design = np.vander(t, 3, increasing=True)
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    expected = 1 - np.sum((y - fitted) ** 2) / np.sum((y - y.mean()) ** 2)
    assert ex.polynomial_r2(values, t, 2) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("bias", [False, True])
def test_kernel_predictor_is_a_degree_n_polynomial_along_rays(bias):
    """The theorem of the chapter: bias-free NTK predictor of degree N is a degree-<=N polynomial along rays."""
    x = np.asarray(data.ball(jax.random.key(0), 40, 3, 1.0))
    y = np.asarray(data.target("cubic_plus_linear")(x))
    dirs = ex.random_directions(jax.random.key(1), 12, 3)
    t = np.linspace(1.1, 11.1, 50)
    for n in [1, 2, 4]:
        predict = ex.ntk_regressor(x, y, n, bias=bias)
        r2 = ex.polynomial_r2_along_rays(predict, dirs, t, [n, n - 1] if n > 1 else [n])
        if not bias:
            assert np.all(1 - r2[0] < 1e-10)
        if n > 1:
            assert np.all(r2[1] < 1 - 1e-8)  # degree n - 1 does not suffice
        far = np.geomspace(1e4, 1e6, 7)
        growth = ex.growth_exponent(ex.values_along_rays(predict, dirs, far), far)
        np.testing.assert_allclose(growth, n, atol=2e-3)


def test_finite_net_is_a_polynomial_along_rays_at_any_parameters():
    init_fn, apply_fn = models.pnn(3, 16)
    params = init_fn(jax.random.key(4), 2)
    dirs = ex.random_directions(jax.random.key(5), 8, 2)
    t = np.linspace(0.5, 20.0, 30)
    r2 = ex.polynomial_r2_along_rays(lambda z: apply_fn(params, z), dirs, t, [3])
    assert np.all(1 - r2 < 1e-10)


def test_polynomial_r2_refuses_bad_inputs():
    t = np.linspace(1, 2, 5)
    with pytest.raises(ValueError, match="t"):
        ex.polynomial_r2(np.arange(5.0), t, 4)  # needs more points than degree + 1
    with pytest.raises(ValueError, match="constant"):
        ex.polynomial_r2(np.ones(5), t, 1)
    with pytest.raises(TypeError, match="degree"):
        ex.polynomial_r2(np.arange(5.0), t, 1.0)
    with pytest.raises(ValueError, match="directions"):
        ex.values_along_rays(lambda z: z[:, 0], np.zeros((2, 2)), t)
    with pytest.raises(TypeError, match="predict"):
        ex.values_along_rays(None, np.eye(2), t)


# ---------------------------------------------------------------- kernel regressor

@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("skip", [True, False])
def test_ntk_regressor_equals_pnn_kernel_regression(bias, skip):
    x = np.asarray(data.ball(jax.random.key(0), 30, 3, 2.0))
    z = np.asarray(data.ball(jax.random.key(1), 700, 3, 5.0))  # more than one chunk
    y = np.asarray(data.target("quadratic")(x))
    for n in [1, 3, 6]:
        ours = ex.ntk_regressor(x, y, n, bias=bias, skip=skip, ridge=1e-8)(z)
        ref = np.asarray(training.pnn_kernel_regression(x, y, z, n, bias=bias, skip=skip, ridge=1e-8))
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_ntk_regressor_interpolates_and_refuses_bad_inputs():
    x = np.asarray(data.ball(jax.random.key(0), 20, 2, 1.0))
    y = np.asarray(data.target("quadratic")(x))
    predict = ex.ntk_regressor(x, y, 2)
    np.testing.assert_allclose(predict(x), y, atol=1e-8)
    with pytest.raises(ValueError, match="y_train"):
        ex.ntk_regressor(x, y[:-1], 2)
    with pytest.raises(ValueError, match="degree"):
        ex.ntk_regressor(x, y, 0)
    with pytest.raises(ValueError, match="x"):
        predict(np.ones((3, 3)))


# ---------------------------------------------------------------- MAPE over training draws

@pytest.mark.parametrize("dim,inner,outer", [(1, 2.5, 5.0), (2, 1.0, 3.0), (3, 0.0, 2.0)])
def test_shell_is_uniform_in_volume_between_its_radii(dim, inner, outer):
    pts = ex.shell(jax.random.key(0), 20_000, dim, inner, outer)
    r = np.linalg.norm(pts, axis=1)
    assert pts.shape == (20_000, dim)
    assert np.all(r > inner) and np.all(r <= outer * (1 + 1e-12))
    mid = 0.5 * (inner + outer)
    expected = (mid**dim - inner**dim) / (outer**dim - inner**dim)
    assert abs(np.mean(r <= mid) - expected) < 0.015
    if dim == 1:
        assert abs(np.mean(pts[:, 0] > 0) - 0.5) < 0.015  # both sides of the interval


def test_shell_refuses_bad_radii():
    with pytest.raises(ValueError, match="outer must be larger than inner"):
        ex.shell(jax.random.key(0), 5, 2, 3.0, 1.0)
    with pytest.raises(ValueError, match="inner"):
        ex.shell(jax.random.key(0), 5, 2, -1.0, 1.0)
    with pytest.raises(TypeError, match="key"):
        ex.shell(0, 5, 2, 1.0, 2.0)


def _interval(a):
    return lambda key: np.asarray(jax.random.uniform(key, (12, 1), minval=-a, maxval=a))


def test_mape_over_draws_equals_kernel_regression_draw_by_draw():
    """Draw j: the keys of split(split(key, J)[j]); the predictor is ntk_regressor's; the score data.mape."""
    key = jax.random.key(3)
    targets = {"cubic": data.target("cubic"), "quadratic": data.target("quadratic")}
    models = {n: (lambda a, b, n=n: kernels.pnn_ntk(a, b, n, bias=True)) for n in [1, 3]}
    test = lambda k: ex.shell(k, 40, 1, 2.5, 5.0)  # noqa: E731
    result = ex.mape_over_draws(key, _interval(2.5), test, targets, models, n_draws=3)
    assert result.mape.shape == (2, 2, 3) and result.targets == ("cubic", "quadratic") and result.models == (1, 3)
    for j, draw_key in enumerate(jax.random.split(key, 3)):
        k_train, k_test = jax.random.split(draw_key)
        x, z = _interval(2.5)(k_train), test(k_test)
        for name, f in targets.items():
            for n in [1, 3]:
                expected = data.mape(f(z), ex.ntk_regressor(x, f(x), n, bias=True)(z))
                assert result.of(name, n)[j] == pytest.approx(expected, rel=1e-8)
    # the draws are different training sets, and the same key gives the same numbers
    assert np.ptp(result.mape, axis=2).min() > 0
    again = ex.mape_over_draws(key, _interval(2.5), test, targets, models, n_draws=3)
    np.testing.assert_array_equal(result.mape, again.mape)


def test_a_kernel_containing_the_target_extrapolates_it_exactly():
    """(1 + x x')^3 on 4 points: its RKHS is the cubics, so kernel regression recovers a cubic everywhere."""
    cubic_kernel = lambda a, b: (1.0 + np.asarray(a) @ np.asarray(b).T) ** 3  # noqa: E731
    sample = lambda key: np.asarray(jax.random.uniform(key, (4, 1), minval=-1.0, maxval=1.0))  # noqa: E731
    result = ex.mape_over_draws(jax.random.key(0), sample, lambda k: ex.shell(k, 50, 1, 1.0, 10.0),
                                {"cubic": data.target("cubic")}, {"cubic kernel": cubic_kernel,
                                                                 "ReLU": lambda a, b: kernels.relu_ntk(a, b, bias=True)},
                                n_draws=4)
    assert np.all(result.of("cubic", "cubic kernel") < 1e-6)
    assert np.all(result.of("cubic", "ReLU") > 10)
    np.testing.assert_array_equal(result.wins("cubic kernel", "ReLU"), [4])
    q25, q50, q75 = result.quartiles()
    assert np.all(q25 <= q50) and np.all(q50 <= q75)
    np.testing.assert_allclose(q50, np.median(result.mape, axis=2))


def test_mape_over_draws_refuses_bad_inputs():
    sample, test = _interval(1.0), (lambda k: ex.shell(k, 5, 1, 1.0, 2.0))  # noqa: E731
    targets, models = {"cubic": data.target("cubic")}, {"relu": kernels.relu_ntk}
    with pytest.raises(ValueError, match="n_draws"):
        ex.mape_over_draws(jax.random.key(0), sample, test, targets, models, n_draws=0)
    with pytest.raises(TypeError, match="targets"):
        ex.mape_over_draws(jax.random.key(0), sample, test, [data.target("cubic")], models)
    with pytest.raises(TypeError, match="models"):
        ex.mape_over_draws(jax.random.key(0), sample, test, targets, {"relu": 3})
    with pytest.raises(TypeError, match="sample_train"):
        ex.mape_over_draws(jax.random.key(0), None, test, targets, models)
    with pytest.raises(ValueError, match="zero at a test point"):
        ex.mape_over_draws(jax.random.key(0), sample, lambda k: np.zeros((3, 1)), {"linear": data.target("linear")},
                           models, n_draws=1)
    with pytest.raises(ValueError, match="ridge"):
        ex.mape_over_draws(jax.random.key(0), sample, test, targets, models, ridge=-1.0)


def test_effective_exponent_lies_between_the_degrees_of_the_terms():
    """On a moderate range the growth exponent of r^2 + c r is between 1 and 2 and rises to 2 far out."""
    near, far = np.linspace(1.1, 3.0, 10), np.geomspace(1e3, 1e5, 9)
    values = lambda r: r**2 + 3.0 * r  # noqa: E731
    assert 1.0 < ex.growth_exponent(values(near), near) < 1.9
    assert abs(ex.growth_exponent(values(far), far) - 2.0) < 1e-2


# ---------------------------------------------------------------- disk sectors

@pytest.mark.parametrize("sector", ["full", "half", "quadrant"])
def test_disk_sector_stays_in_its_sector_and_fills_it(sector):
    pts = np.asarray(ex.disk_sector(jax.random.key(0), 4000, 2.0, sector))
    r = np.linalg.norm(pts, axis=1)
    angle = np.mod(np.arctan2(pts[:, 1], pts[:, 0]), 2 * np.pi)
    assert np.all(r <= 2.0) and np.all(angle < ex.SECTOR_ANGLES[sector] + 1e-12)
    # uniform in area: P(r <= 1) = 1/4
    assert abs(np.mean(r <= 1.0) - 0.25) < 0.03
    # the angles fill the sector: the widest angle is close to its edge
    assert angle.max() > 0.98 * ex.SECTOR_ANGLES[sector]


def test_half_disk_and_quadrant_signs():
    assert np.all(np.asarray(ex.half_disk(jax.random.key(1), 500, 1.0))[:, 1] >= 0)
    assert np.all(np.asarray(ex.quadrant(jax.random.key(1), 500, 1.0)) >= 0)
    with pytest.raises(ValueError, match="sector"):
        ex.disk_sector(jax.random.key(0), 5, 1.0, "octant")
    with pytest.raises(ValueError, match="radius"):
        ex.disk_sector(jax.random.key(0), 5, -1.0)
    with pytest.raises(TypeError, match="key"):
        ex.disk_sector(0, 5, 1.0)


# ---------------------------------------------------------------- width-1 CCP and Adam

def test_scalar_ccp_is_the_product_of_affine_factors():
    model = ex.scalar_ccp(4)
    params = model.init_fn(jax.random.key(0))
    x = np.linspace(-3, 3, 11)
    a, b = np.asarray(params["a"]), np.asarray(params["b"])
    expected = float(params["c"]) * (a[0] * x + b[0]) * np.prod(1 + a[1:, None] * x + b[1:, None], axis=0) \
        + float(params["c0"])
    np.testing.assert_allclose(model.apply_fn(params, x), expected, rtol=1e-12)
    np.testing.assert_allclose(model.apply_fn(params, x[:, None]), expected, rtol=1e-12)
    assert all(np.all(np.abs(np.asarray(v)) <= 1) for v in params.values())  # PyTorch's U[-1, 1]
    with pytest.raises(ValueError, match="x"):
        model.apply_fn(params, np.ones((3, 2)))


def test_adam_fit_recovers_a_representable_cubic():
    """x^3 + x^2 - 5x + 5 is a width-1 degree-3 CCP; Adam should fit it and extrapolate it."""
    f = data.target("cubic")
    x = np.asarray(jax.random.uniform(jax.random.key(6), (4096, 1), minval=-2.5, maxval=2.5))
    model = ex.scalar_ccp(3)
    fit = ex.adam_fit(model.apply_fn, model.init_fn(jax.random.key(1)), x, f(x), jax.random.key(2),
                      learning_rate=1e-2, weight_decay=0.0, batch_size=256, epochs=100)
    assert fit.epoch_loss.shape == (100,)
    assert fit.epoch_loss[-1] < 1e-3 * fit.epoch_loss[0]
    far = np.linspace(3, 5, 20)
    assert data.mape(f(far[:, None]), model.apply_fn(fit.params, far)) < 2.0


def test_adam_matches_a_hand_written_step():
    """One full-batch step from zero moments: theta - lr * g / (|g| + eps) (bias-corrected)."""
    apply_fn = lambda p, x: p["w"] * x[:, 0]  # noqa: E731
    x = np.array([[1.0], [2.0]])
    y = np.array([3.0, 1.0])
    params = {"w": jnp.asarray(0.5)}
    fit = ex.adam_fit(apply_fn, params, x, y, jax.random.key(0), learning_rate=0.1, weight_decay=0.2,
                      batch_size=2, epochs=1)
    g = np.mean(2 * (0.5 * x[:, 0] - y) * x[:, 0]) + 0.2 * 0.5
    assert float(fit.params["w"]) == pytest.approx(0.5 - 0.1 * g / (abs(g) + 1e-8), rel=1e-12)


def test_adam_fit_refuses_bad_inputs():
    model = ex.scalar_ccp(2)
    params = model.init_fn(jax.random.key(0))
    x, y = np.zeros((10, 1)), np.zeros(10)
    with pytest.raises(ValueError, match="batch_size"):
        ex.adam_fit(model.apply_fn, params, x, y, jax.random.key(0), batch_size=11)
    with pytest.raises(ValueError, match="learning_rate"):
        ex.adam_fit(model.apply_fn, params, x, y, jax.random.key(0), learning_rate=0.0, batch_size=5)
    with pytest.raises(ValueError, match="b1"):
        ex.adam_fit(model.apply_fn, params, x, y, jax.random.key(0), batch_size=5, b1=1.0)
    with pytest.raises(TypeError, match="apply_fn"):
        ex.adam_fit(None, params, x, y, jax.random.key(0), batch_size=5)
    with pytest.raises(ValueError, match="degree"):
        ex.scalar_ccp(0)
