"""Bad input raises ValueError/TypeError naming the argument, never a JAX traceback."""

import jax
import numpy as np
import pytest

from pntk import data, kernels, models, spectra, training

X = np.ones((4, 3))


@pytest.mark.parametrize("call,error,match", [
    (lambda: kernels.pnn_ntk(X, X, 0), ValueError, r"degree must be an integer in \[1, 128\], got 0"),
    (lambda: kernels.pnn_ntk(X, X, 500), ValueError, "degree"),
    (lambda: kernels.pnn_ntk(X, X, -2), ValueError, "degree"),
    (lambda: kernels.pnn_ntk(X, X, 2.0), TypeError, "degree must be an integer"),
    (lambda: kernels.pnn_ntk(X, X, 2.5), TypeError, "degree"),
    (lambda: kernels.pnn_ntk(X, X, True), TypeError, "degree"),
    (lambda: kernels.pnn_ntk(X, np.ones((4, 2)), 2), ValueError, "same input dimension"),
    (lambda: kernels.pnn_ntk(np.array([[np.nan, 1.0, 0.0]]), X, 2), ValueError, "x1 contains 1 non-finite"),
    (lambda: kernels.pnn_ntk(X, np.full((2, 3), np.inf), 2), ValueError, "x2 contains"),
    (lambda: kernels.pnn_ntk(np.ones(3), X, 2), ValueError, r"x1 must have shape \(n, d\)"),
    (lambda: kernels.pnn_ntk(np.ones((0, 3)), X, 2), ValueError, "x1 is empty"),
    (lambda: kernels.pnn_ntk(np.ones((2, 2, 2)), X, 2), ValueError, "rank 2"),
    (lambda: kernels.pnn_ntk("abc", X, 2), TypeError, "x1"),
    (lambda: kernels.pnn_ntk(X, X, 2, activation="tanh"), ValueError, "activation must be one of"),
    (lambda: kernels.pnn_ntk(X, X, 2, skip="yes"), TypeError, "skip"),
    (lambda: kernels.pnn_ntk_cosine(np.array([0.5, 1.5]), 2), ValueError, r"\[-1, 1\]"),
    (lambda: models.pnn(0, 10), ValueError, "degree"),
    (lambda: models.pnn(2, 0), ValueError, "width must be an integer >= 1"),
    (lambda: models.pnn(2, 10, activation="sigmoid"), ValueError, "activation"),
    (lambda: models.pnn(2, 10).init_fn(0, 3), TypeError, "jax.random.key"),
    (lambda: models.pnn(2, 10).init_fn(jax.random.key(0), 0), ValueError, "input_dim"),
    (lambda: data.sphere(jax.random.key(0), 0, 3), ValueError, "n must be"),
    (lambda: data.sphere(jax.random.key(0), 5, 0), ValueError, "dim must be"),
    (lambda: data.ball(jax.random.key(0), 5, 2, radius=-1.0), ValueError, "radius"),
    (lambda: data.target("sine"), ValueError, "unknown target 'sine'"),
    (lambda: data.target("cubic_plus_linear")(np.ones((3, 1))), ValueError, "dimension >= 2"),
    (lambda: data.mape([0.0, 1.0], [1.0, 1.0]), ValueError, "y_true == 0"),
    (lambda: spectra.sphere_eigenvalues(lambda t: t, 1, 5), ValueError, "dim must be an integer >= 2"),
    (lambda: spectra.sphere_eigenvalues(lambda t: t, 3, -1), ValueError, "max_k"),
    (lambda: spectra.sphere_eigenvalues(lambda t: t * np.nan, 3, 4), ValueError, "non-finite"),
    (lambda: spectra.sphere_eigenvalues(3.0, 3, 4), TypeError, "kernel must be a function"),
    (lambda: training.kernel_regression(np.ones((3, 2)), np.ones(3)), ValueError, "k_train must be a square"),
    (lambda: training.kernel_regression(np.eye(3), np.ones(4)), ValueError, "y must have length 3"),
    (lambda: training.kernel_regression(np.eye(3), np.ones(3), ridge=-1.0), ValueError, "ridge"),
    (lambda: training.linearized_dynamics(np.eye(3), np.ones(3), learning_rate=1.0, steps=[-1]), ValueError, "steps"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_apply_fn_checks_input_dimension_and_params():
    init, apply = models.pnn(2, 5)
    params = init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3\)"):
        apply(params, np.ones((2, 4)))
    other = models.pnn(3, 5).init_fn(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="params\\['W'\\] has shape"):
        apply(other, np.ones((2, 3)))


def test_empirical_ntk_reports_mismatched_params():
    init, apply = models.pnn(2, 5)
    params = init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="apply_fn"):
        kernels.empirical_ntk(apply, params, np.ones((2, 4)), np.ones((2, 4)))


def test_integer_inputs_are_accepted_as_floats():
    np.testing.assert_allclose(kernels.pnn_ntk(np.eye(3, dtype=int), None, 2), kernels.pnn_ntk(np.eye(3), None, 2))
