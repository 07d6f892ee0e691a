"""Gradient descent, its closed-form linearisation, and kernel regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pntk import data, kernels, models, training


def random_features_model(features):
    """f(x) = phi(x) . theta: linear in its parameters, so gradient descent IS the linearised dynamics."""
    def apply_fn(params, x):
        return features(x) @ params
    return apply_fn


def test_train_on_a_linear_model_equals_the_closed_form_dynamics():
    key = jax.random.key(0)
    x = np.asarray(data.sphere(key, 15, 3))
    x_test = np.asarray(data.sphere(jax.random.key(1), 6, 3))
    proj = np.asarray(jax.random.normal(jax.random.key(2), (3, 15)))
    y = np.sin(3 * x[:, 0])
    feats_w = jax.random.normal(jax.random.key(3), (3, 40))

    def features(z):
        return jnp.cos(z @ feats_w)

    apply_fn = random_features_model(features)
    theta0 = jax.random.normal(jax.random.key(4), (40,)) * 0.1
    k_train = features(x) @ features(x).T
    lr = 0.5 * training.max_stable_learning_rate(k_train)
    hist = training.train(apply_fn, theta0, x, y, learning_rate=lr, steps=60, record_every=20,
                          x_test=x_test, projections=proj)
    lin = training.linearized_dynamics(k_train, y, learning_rate=lr, steps=hist.steps,
                                       k_test_train=features(x_test) @ features(x).T,
                                       f0_train=apply_fn(theta0, x), f0_test=apply_fn(theta0, x_test),
                                       projections=proj)
    np.testing.assert_array_equal(hist.steps, [0, 20, 40, 60])
    np.testing.assert_allclose(hist.train_predictions, lin.train_predictions, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hist.test_predictions, lin.test_predictions, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hist.residual_projections, lin.residual_projections, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(hist.loss, lin.loss, rtol=1e-8, atol=1e-12)
    assert hist.loss[-1] < hist.loss[0]


def test_linearized_dynamics_converge_to_kernel_regression():
    x = np.asarray(data.sphere(jax.random.key(5), 12, 4))
    xt = np.asarray(data.sphere(jax.random.key(6), 5, 4))
    y = x[:, 0] * x[:, 1] + x[:, 2]
    k = kernels.pnn_ntk(x, x, 2)
    kt = kernels.pnn_ntk(xt, x, 2)
    lr = 0.9 * training.max_stable_learning_rate(k)
    lin = training.linearized_dynamics(k, y, learning_rate=lr, steps=[0, 10**6], k_test_train=kt)
    np.testing.assert_allclose(lin.train_predictions[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(lin.train_predictions[-1], y, atol=1e-8)
    np.testing.assert_allclose(lin.test_predictions[-1], training.kernel_regression(k, y, kt), rtol=1e-6, atol=1e-8)


def test_kernel_regression_interpolates_and_ridge_shrinks():
    x = np.asarray(data.ball(jax.random.key(7), 20, 3))
    y = np.asarray(data.target("quadratic")(x))
    k = kernels.pnn_ntk(x, x, 3, bias=True)
    np.testing.assert_allclose(training.kernel_regression(k, y), y, rtol=1e-7, atol=1e-9)
    ridged = training.kernel_regression(k, y, ridge=10.0)
    assert np.linalg.norm(ridged) < np.linalg.norm(y)


def test_pnn_kernel_regression_along_a_ray_is_a_polynomial_of_the_degree():
    """Bias-free NTK predictor: degree <= N polynomial in r along every ray x = r v (book chapter "Extrapolation")."""
    x = np.asarray(data.sphere(jax.random.key(8), 25, 3))
    y = np.cos(2 * x[:, 0])
    r = np.linspace(1.0, 50.0, 12)
    for degree in [1, 2, 4]:
        pred = np.asarray(training.pnn_kernel_regression(x, y, data.ray([1.0, 2.0, -1.0], r), degree))
        basis = np.stack([r**j for j in range(1, degree + 1)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, pred, rcond=None)
        np.testing.assert_allclose(basis @ coef, pred, rtol=1e-8, atol=1e-9 * np.abs(pred).max())


@pytest.mark.slow
def test_trained_wide_net_approaches_kernel_regression_as_width_grows():
    """Lee et al. (2019) / the paper's equivalence: the gap to the exact-kernel prediction shrinks with width."""
    x = np.asarray(data.sphere(jax.random.key(9), 10, 3))
    xt = np.asarray(data.sphere(jax.random.key(10), 6, 3))
    y = x[:, 0] ** 2 - x[:, 1]
    degree = 2
    k, kt = kernels.pnn_ntk(x, x, degree), kernels.pnn_ntk(xt, x, degree)
    lr = 0.5 * training.max_stable_learning_rate(k)
    steps = 400
    gaps = []
    for width in [64, 1024, 16384]:
        errs = []
        for seed in range(3):
            init, apply = models.pnn(degree, width)
            params = init(jax.random.key(seed), 3)
            hist = training.train(apply, params, x, y, learning_rate=lr, steps=steps, record_every=steps, x_test=xt)
            lin = training.linearized_dynamics(k, y, learning_rate=lr, steps=[steps], k_test_train=kt,
                                               f0_train=apply(params, x), f0_test=apply(params, xt))
            errs.append(np.linalg.norm(hist.test_predictions[-1] - lin.test_predictions[-1]) / np.linalg.norm(lin.test_predictions[-1]))
        gaps.append(np.mean(errs))
    assert gaps[2] < gaps[1] < gaps[0], gaps
    assert gaps[2] < gaps[0] / 5, gaps  # 256x the width: about 16x if the gap is O(1/sqrt(m))


def test_train_records_the_requested_steps_and_checks_arguments():
    init, apply = models.pnn(2, 8)
    params = init(jax.random.key(0), 2)
    x, y = np.ones((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="record_every"):
        training.train(apply, params, x, y, learning_rate=0.1, steps=10, record_every=3)
    with pytest.raises(ValueError, match="learning_rate"):
        training.train(apply, params, x, y, learning_rate=-1.0, steps=10)
    with pytest.raises(ValueError, match="y must have length 3"):
        training.train(apply, params, x, np.zeros(4), learning_rate=0.1, steps=10)
    with pytest.raises(ValueError, match="projections"):
        training.train(apply, params, x, y, learning_rate=0.1, steps=2, projections=np.ones((2, 5)))
    hist = training.train(apply, params, x, y, learning_rate=0.01, steps=4, record_every=2)
    assert hist.train_predictions.shape == (3, 3) and hist.test_predictions is None


def test_slowest_contraction_at_half_the_stable_rate_is_one_minus_inverse_condition():
    """Referee finding 11: at eta = n / (2 lambda_max) the slowest factor is 1 - lambda_min/lambda_max."""
    x = np.asarray(data.sphere(jax.random.key(11), 15, 3))
    k = np.asarray(kernels.pnn_ntk(x, None, 2))
    lam = np.linalg.eigvalsh(k)
    eta = 0.5 * training.max_stable_learning_rate(k)
    q = training.slowest_contraction(k, eta)
    assert q == pytest.approx(1 - lam[0] / lam[-1], rel=1e-12)
    s = training.steps_to_tolerance(k, eta, 1e-6)
    assert q**s <= 1e-6 < q ** (s - 1)
    # above the stable rate the top mode dominates: |1 - 2 * 1.5| = 2
    assert training.slowest_contraction(k, 1.5 * training.max_stable_learning_rate(k)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="do not converge"):
        training.steps_to_tolerance(k, 1.5 * training.max_stable_learning_rate(k))
    with pytest.raises(ValueError, match="tolerance"):
        training.steps_to_tolerance(k, eta, 2.0)


def test_after_steps_to_tolerance_the_dynamics_sit_at_the_limit():
    x = np.asarray(data.sphere(jax.random.key(12), 12, 3))
    xt = np.asarray(data.sphere(jax.random.key(13), 5, 3))
    y = x[:, 0] - x[:, 1] ** 2
    k, kt = np.asarray(kernels.pnn_ntk(x, None, 3)), np.asarray(kernels.pnn_ntk(xt, x, 3))
    eta = 0.5 * training.max_stable_learning_rate(k)
    s = training.steps_to_tolerance(k, eta, 1e-12)
    lin = training.linearized_dynamics(k, y, learning_rate=eta, steps=[s // 100, s], k_test_train=kt)
    limit = np.asarray(training.kernel_regression(k, y, kt))
    scale = np.linalg.norm(limit)
    assert np.linalg.norm(lin.test_predictions[1] - limit) < 1e-8 * scale
    assert np.linalg.norm(lin.test_predictions[0] - limit) > 1e-6 * scale  # 1 % of the steps is not enough


def test_initial_output_variance_matches_gaussian_process_draws():
    """Var[f0(x) - A f0(X)] with f0 ~ GP(0, K): the formula against 20000 joint draws."""
    x = np.asarray(data.sphere(jax.random.key(14), 8, 3))
    xt = np.asarray(data.sphere(jax.random.key(15), 4, 3))
    k, kt = np.asarray(kernels.pnn_ntk(x, None, 2)), np.asarray(kernels.pnn_ntk(xt, x, 2))
    both = np.concatenate([x, xt])
    cov = np.asarray(kernels.pnn_nngp(both, None, 2))
    var = training.initial_output_variance(k, kt, cov[:8, :8], cov[8:, :8], np.diag(cov[8:, 8:]))
    np.testing.assert_allclose(var, training.initial_output_variance(k, kt, cov[:8, :8], cov[8:, :8], cov[8:, 8:]))
    draws = np.random.default_rng(0).multivariate_normal(np.zeros(12), cov, size=20000)
    a = kt @ np.linalg.inv(k)
    term = draws[:, 8:] - draws[:, :8] @ a.T
    np.testing.assert_allclose(var, term.var(axis=0), rtol=0.05)
    assert np.all(var > 0)
    # at the training points themselves the limit interpolates: no variance left
    np.testing.assert_allclose(training.initial_output_variance(k, k, cov[:8, :8], cov[:8, :8], cov[:8, :8]),
                               0.0, atol=1e-9 * cov.max())
    with pytest.raises(ValueError, match="nngp_test_train"):
        training.initial_output_variance(k, kt, cov[:8, :8], cov[8:, :7], np.diag(cov[8:, 8:]))
    with pytest.raises(ValueError, match="nngp_test"):
        training.initial_output_variance(k, kt, cov[:8, :8], cov[8:, :8], np.ones(3))
