"""pntk.equivalence: the finite-width NTK formula, convergence summaries, and nets against their linearisation."""

import jax
import numpy as np
import pytest

from pntk import data, equivalence, kernels, models, training


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
@pytest.mark.parametrize("opts", [dict(), dict(skip=False), dict(activation="identity"), dict(bias=True)])
def test_formula_equals_autodiff_ntk(degree, opts, ball_points):
    x1, x2 = ball_points
    init, apply = models.pnn(degree, 48, **opts)
    params = init(jax.random.key(degree), x1.shape[1])
    auto = np.asarray(kernels.empirical_ntk(apply, params, x1, x2, batch_size=4))
    formula = equivalence.finite_width_ntk(params, x1, x2, **opts)
    np.testing.assert_allclose(formula, auto, rtol=1e-10, atol=1e-12 * np.abs(auto).max())


def test_formula_gram_is_symmetric_psd(sphere_points):
    x, _ = sphere_points
    init, _ = models.pnn(3, 40)
    k = equivalence.finite_width_ntk(init(jax.random.key(0), x.shape[1]), x)
    np.testing.assert_allclose(k, k.T, rtol=1e-12)
    assert np.linalg.eigvalsh(k).min() > -1e-10 * np.abs(k).max()


def test_leave_one_out_products_handle_zero_factors():
    f = np.array([[0.0, 2.0], [3.0, 0.0], [5.0, 7.0]])[:, None, :]
    expected = np.stack([np.prod(np.delete(f, n, axis=0), axis=0) for n in range(3)])
    np.testing.assert_array_equal(equivalence._others(f), expected)


@pytest.mark.slow
def test_error_falls_like_inverse_sqrt_width(sphere_points):
    x, _ = sphere_points
    widths = [64, 256, 1024, 4096, 16384]
    errors = equivalence.ntk_error_vs_width([1, 2], widths, x, key=jax.random.key(1), num_seeds=4)
    assert errors.shape == (2, 5, 4)
    for e in errors:
        assert e.mean(axis=1)[-1] < 0.25 * e.mean(axis=1)[0]
        assert -0.7 < equivalence.loglog_slope(widths, e) < -0.3


def test_nested_nets_match_independent_model(sphere_points):
    """The degree-2 width-32 slice of the seed-0 draw is exactly what the error function compares."""
    x, _ = sphere_points
    key = jax.random.key(4)
    err = equivalence.ntk_error_vs_width([2], [32], x, key=key, num_seeds=1)[0, 0, 0]
    big = models.pnn(2, 32).init_fn(jax.random.fold_in(key, 0), x.shape[1])
    direct = data.relative_error(equivalence.finite_width_ntk(big, x), kernels.pnn_ntk(x, None, 2))
    assert err == pytest.approx(direct, rel=1e-12)


def test_sphere_diagonal_matches_exact_kernel(sphere_points):
    x, _ = sphere_points
    for n in range(1, 8):
        diag = np.diag(np.asarray(kernels.pnn_ntk(x, None, n)))
        np.testing.assert_allclose(diag, equivalence.sphere_ntk_diagonal(n), rtol=1e-12)
    assert equivalence.sphere_ntk_diagonal(1) == pytest.approx(2.0)
    np.testing.assert_allclose(equivalence.sphere_ntk_diagonal(np.arange(1, 4)),
                               [equivalence.sphere_ntk_diagonal(n) for n in (1, 2, 3)])
    assert equivalence.sphere_beta_one() == pytest.approx(2.2978845608)


def test_power_law_summaries_recover_exact_laws():
    m = np.array([10.0, 100.0, 1000.0])
    e = 3.0 * m ** -0.5
    assert equivalence.loglog_slope(m, e) == pytest.approx(-0.5)
    assert equivalence.width_for_error(m, e, 0.03) == pytest.approx(1e4)
    e2 = 2.0 * m ** -0.25
    assert equivalence.width_for_error(m, e2, 0.2, slope=None) == pytest.approx(1e4)
    seeds = np.stack([e, e], axis=1)
    assert equivalence.loglog_slope(m, seeds) == pytest.approx(-0.5)


def test_relative_change():
    a = {"W": np.ones((2, 2)), "c": np.zeros(3)}
    b = {"W": np.ones((2, 2)), "c": np.array([0.0, 0.0, 2.0])}
    assert equivalence.relative_change(a, b) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same structure"):
        equivalence.relative_change(a, {"W": np.ones((2, 2))})


@pytest.mark.slow
def test_compare_with_linearization_gap_shrinks_with_width():
    x = np.asarray(data.sphere(jax.random.key(0), 12, 3))
    x_test = np.asarray(data.sphere(jax.random.key(1), 20, 3))
    y = np.asarray(data.target("cubic_plus_linear")(x))
    runs = [equivalence.compare_with_linearization(2, m, x, y, x_test, key=jax.random.key(2), steps=200,
                                                   record_every=20) for m in (32, 8192)]
    for r in runs:
        # both start from the net's own f0, and the loss falls
        np.testing.assert_allclose(r.net.test_predictions[0], r.linear.test_predictions[0], rtol=1e-12)
        assert r.net.loss[-1] < 0.1 * r.net.loss[0]
    assert runs[1].test_gap < 0.3 * runs[0].test_gap
    assert runs[1].weight_change < 0.3 * runs[0].weight_change
    assert runs[1].kernel_change < 0.3 * runs[0].kernel_change


def test_argument_validation(sphere_points):
    x, _ = sphere_points
    with pytest.raises(TypeError, match="params"):
        equivalence.finite_width_ntk([1, 2], x)
    params = models.pnn(2, 8).init_fn(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="dimension"):
        equivalence.finite_width_ntk(params, x)
    with pytest.raises(ValueError, match="lr_fraction"):
        equivalence.compare_with_linearization(1, 8, x, np.ones(len(x)), x, key=jax.random.key(0), lr_fraction=1.5)
    with pytest.raises(ValueError, match="degree"):
        equivalence.sphere_ntk_diagonal(0)
    with pytest.raises(ValueError, match="target"):
        equivalence.width_for_error([1, 2], [0.5, 0.3], -1.0)
    with pytest.raises(TypeError, match="key"):
        equivalence.ntk_error_vs_width([1], [8], x, key=3)


def test_compare_accepts_params_or_key_but_not_both():
    x = np.asarray(data.sphere(jax.random.key(0), 8, 3))
    y = np.asarray(data.target("linear")(x))
    key = jax.random.key(3)
    by_key = equivalence.compare_with_linearization(2, 16, x, y, x, key=key, steps=20, record_every=10)
    params = models.pnn(2, 16).init_fn(key, 3)
    by_params = equivalence.compare_with_linearization(2, 16, x, y, x, params=params, steps=20, record_every=10)
    np.testing.assert_array_equal(by_key.net.test_predictions, by_params.net.test_predictions)
    assert by_key.kernel_change == by_params.kernel_change
    with pytest.raises(ValueError, match="exactly one"):
        equivalence.compare_with_linearization(2, 16, x, y, x, key=key, params=params)
    with pytest.raises(ValueError, match="exactly one"):
        equivalence.compare_with_linearization(2, 16, x, y, x)
    with pytest.raises(ValueError, match="params must be"):
        equivalence.compare_with_linearization(3, 16, x, y, x, params=params)


@pytest.mark.parametrize("opts", [dict(), dict(skip=False), dict(activation="identity"), dict(bias=True)])
def test_matmul_layout_is_the_same_function_and_gradient(opts, ball_points):
    """compare_with_linearization trains through _matmul_apply: it must be pntk.models.pnn to round-off."""
    x1, _ = ball_points
    init, apply = models.pnn(3, 24, **opts)
    params = init(jax.random.key(5), x1.shape[1])
    fast = equivalence._matmul_apply(3, 24, opts.get("skip", True), opts.get("activation", "relu"),
                                     opts.get("bias", False))
    np.testing.assert_allclose(fast(params, x1), apply(params, x1), rtol=1e-12, atol=1e-12)
    g1 = jax.grad(lambda p: (apply(p, x1) ** 2).sum())(params)
    g2 = jax.grad(lambda p: (fast(p, x1) ** 2).sum())(params)
    for name in ("W", "c"):
        np.testing.assert_allclose(g2[name], g1[name], rtol=1e-10, atol=1e-12 * np.abs(g1[name]).max())


def test_distances_to_limit_split_the_gap():
    x = np.asarray(data.sphere(jax.random.key(0), 10, 3))
    x_test = np.asarray(data.sphere(jax.random.key(1), 15, 3))
    y = np.asarray(data.target("cubic_plus_linear")(x))
    run = equivalence.compare_with_linearization(2, 64, x, y, x_test, key=jax.random.key(2), steps=3000,
                                                 record_every=500)
    dist = equivalence.distances_to_limit(run)
    np.testing.assert_array_equal(dist.steps, run.net.steps)
    assert np.all(dist.net_to_limit <= dist.net_to_linear + dist.linear_to_limit + 1e-12)
    assert np.all(dist.net_to_limit >= np.abs(dist.net_to_linear - dist.linear_to_limit) - 1e-12)
    # at step 0 the net and its linearisation coincide; the linearisation converges to the limit
    assert dist.net_to_linear[0] < 1e-12
    assert dist.linear_to_limit[-1] < 1e-3 * dist.linear_to_limit[0]
    # the finite-width gap does not vanish at long times (width 64)
    assert dist.net_to_limit[-1] > 10 * dist.linear_to_limit[-1]
    with pytest.raises(TypeError, match="TrainingComparison"):
        equivalence.distances_to_limit(run.net)


def test_initial_output_effect_adds_the_nngp_term_in_quadrature(sphere_points):
    x, _ = sphere_points
    x_test = np.asarray(data.sphere(jax.random.key(3), 12, x.shape[1]))
    target = data.target("cubic_plus_linear")
    y, y_test = np.asarray(target(x)), np.asarray(target(x_test))
    for degree in (1, 3):
        eff = equivalence.initial_output_effect(degree, x, y, x_test, y_test)
        direct = training.pnn_kernel_regression(x, y, x_test, degree)
        assert eff.error_without_f0 == pytest.approx(data.relative_error(direct, y_test), rel=1e-10)
        assert eff.expected_error_with_f0 ** 2 == pytest.approx(eff.error_without_f0 ** 2 + eff.f0_contribution ** 2)
        assert eff.f0_std == pytest.approx(np.sqrt(equivalence.sphere_beta_one() ** (degree - 1)), rel=1e-10)
    # Monte Carlo over f0 ~ GP(0, K) for degree 2
    both = np.concatenate([x, x_test])
    cov = np.asarray(kernels.pnn_nngp(both, None, 2))
    draws = np.random.default_rng(1).multivariate_normal(np.zeros(len(both)), cov, size=4000)
    k, kt = kernels.pnn_ntk(x, None, 2), kernels.pnn_ntk(x_test, x, 2)
    errs = [np.sum((f[len(x):] + np.asarray(training.kernel_regression(k, y - f[:len(x)], kt)) - y_test) ** 2)
            for f in draws[:400]]
    eff = equivalence.initial_output_effect(2, x, y, x_test, y_test)
    assert np.sqrt(np.mean(errs)) / np.linalg.norm(y_test) == pytest.approx(eff.expected_error_with_f0, rel=0.1)
    with pytest.raises(ValueError, match="y_test"):
        equivalence.initial_output_effect(2, x, y, x_test, np.zeros(len(x_test)))
