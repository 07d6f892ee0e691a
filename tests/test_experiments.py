"""pntk.experiments: the models, targets and optimiser of the chapter "The official experiments at laptop scale"."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pntk import experiments as xp
from pntk import extrapolation as ex
from pntk import kernels


def test_pinet_large_shapes_and_official_parameter_count():
    net = xp.pinet_large()
    params = net.init_fn(jax.random.key(0))
    out = net.apply_fn(params, jnp.linspace(-1, 1, 7)[:, None])
    assert out.shape == (7, 2) and out.dtype == jnp.float64
    # 2 (zgL1) + 20 (l1) + 12 * 110 (l2..l13) + 22 (l14) + 13 * 20 (locz) = 1624
    assert xp.param_count(params) == 1624
    mlp = xp.torch_mlp((27, 27, 27))
    p = mlp.init_fn(jax.random.key(0))
    assert mlp.apply_fn(p, jnp.zeros((3, 1))).shape == (3, 2)
    assert xp.param_count(p) == 1622


def test_pytorch_default_initialisation_bounds():
    params = xp.pinet_large().init_fn(jax.random.key(1))
    hidden = params["layers"][3]  # Linear(10, 10): U(-1/sqrt(10), 1/sqrt(10))
    assert np.abs(hidden["w"]).max() <= 1 / np.sqrt(10) and np.abs(hidden["b"]).max() <= 1 / np.sqrt(10)
    assert np.abs(params["zg"]["w"]).max() <= 1.0


@pytest.mark.parametrize("products", [2, 3, 5])
def test_pinet_large_is_a_polynomial_of_degree_products_plus_one(products):
    net = xp.pinet_large(products=products, width=4, n_out=1)
    params = net.init_fn(jax.random.key(products))
    x = np.linspace(-2, 2, 3 * products + 10)
    y = np.asarray(net.apply_fn(params, x[:, None]))[:, 0]
    exact = np.polyval(np.polyfit(x, y, products + 1), x)
    lower = np.polyval(np.polyfit(x, y, products), x)
    scale = np.abs(y).max()
    assert np.abs(exact - y).max() < 1e-9 * scale
    assert np.abs(lower - y).max() > 1e-6 * scale


def test_empirical_ntk_of_pinet_large_is_a_polynomial_kernel_of_low_rank():
    # every parameter gradient is a polynomial of degree <= P + 1 in the scalar input, so the finite-width
    # NTK on any number of 1-D points has rank <= P + 2 at every width (the infinite-width limit of the
    # PyTorch-initialised net is not known in closed form, so no convergence-in-width test)
    products = 3
    for width in (4, 16, 64):
        net = xp.pinet_large(products=products, width=width, n_out=1)
        params = net.init_fn(jax.random.key(width))
        x = np.linspace(-1, 1, 25)[:, None]
        k = np.asarray(kernels.empirical_ntk(lambda p, z: net.apply_fn(p, z)[:, 0], params, x))
        s = np.linalg.svd(k, compute_uv=False)
        assert np.sum(s > 1e-9 * s[0]) <= products + 2
        np.testing.assert_allclose(k, k.T, atol=1e-10 * s[0])


def test_targets():
    x = np.abs(np.asarray(jax.random.normal(jax.random.key(0), (5, 8))))
    np.testing.assert_allclose(xp.sqrt_sum(x), np.sqrt(x).sum(1))
    np.testing.assert_allclose(xp.l1_norm(-x), x.sum(1))
    np.testing.assert_allclose(xp.cos_pi_sum(np.ones((2, 3))), [-3.0, -3.0])
    f = xp.linear_target(jax.random.key(3), 8, scale=20.0)
    assert f.a.shape == (8,) and np.abs(f.a).max() <= 20
    np.testing.assert_allclose(f(x), x @ np.asarray(f.a))
    g = xp.linear_target(jax.random.key(3), 8, scale=20.0)
    np.testing.assert_array_equal(f.a, g.a)
    q = xp.quadratic_target(jax.random.key(4), 8)
    assert q.A.shape == (8, 8) and np.abs(q.A).max() <= 1
    np.testing.assert_allclose(q(2.5 * x), 6.25 * np.asarray(q(x)))  # degree 2 along rays
    np.testing.assert_allclose(q(x), np.einsum("ni,ij,nj->n", x, np.asarray(q.A), x))
    h = np.asarray(xp.helix(np.linspace(-2, 2, 9)[:, None]))
    np.testing.assert_allclose(np.sum(h**2, 1), 1.0)


_NET = xp.pinet_large(products=2, width=3)
_P = _NET.init_fn(jax.random.key(0))
_X4 = np.zeros((4, 1))
# (public function, call with a bad argument, error, message naming the argument): one row at least per function
# of xp.__all__ (this file owns pntk.experiments' bad-input table; see tests/test_validation.py)
BAD_INPUT = [
    ("sqrt_sum", lambda: xp.sqrt_sum(-np.ones((2, 1))), ValueError, "x must have non-negative"),
    ("sqrt_sum", lambda: xp.sqrt_sum(np.ones(3)), ValueError, r"x must be an \(n, d\) array"),
    ("l1_norm", lambda: xp.l1_norm(np.ones(3)), ValueError, r"x must be an \(n, d\) array"),
    ("cos_pi_sum", lambda: xp.cos_pi_sum(np.ones((2, 2, 2))), ValueError, r"x must be an \(n, d\) array"),
    ("linear_target", lambda: xp.linear_target(jax.random.key(0), 0), ValueError, "dim must be an integer"),
    ("linear_target", lambda: xp.linear_target(jax.random.key(0), 3, scale=0.0), ValueError, "scale"),
    ("quadratic_target", lambda: xp.quadratic_target(jax.random.key(0), 2.0), TypeError, "dim must be an integer"),
    ("quadratic_target", lambda: xp.quadratic_target(jax.random.key(0), 3)(np.ones((2, 2))), ValueError,
     r"x must have shape \(n, 3\)"),
    ("helix", lambda: xp.helix(np.zeros((3, 2))), ValueError, r"x must have shape \(n, 1\)"),
    ("pinet_large", lambda: xp.pinet_large(products=1), ValueError, "products must be an integer"),
    ("pinet_large", lambda: xp.pinet_large(width=10.0), TypeError, "width must be an integer"),
    ("pinet_large", lambda: xp.pinet_large(n_out=0), ValueError, "n_out must be an integer"),
    ("pinet_large", lambda: _NET.apply_fn(_P, np.zeros((4, 2))), ValueError, r"x must have shape \(n, 1\)"),
    ("torch_mlp", lambda: xp.torch_mlp(27), TypeError, "widths must be a sequence"),
    ("torch_mlp", lambda: xp.torch_mlp(()), ValueError, "widths must contain"),
    ("torch_mlp", lambda: xp.torch_mlp((4, 0)), ValueError, r"widths\[i\] must be an integer"),
    ("param_count", lambda: xp.param_count({}), TypeError, "params must be a non-empty pytree"),
    ("param_count", lambda: xp.param_count({"w": "abc"}), TypeError, "params must be a non-empty pytree"),
    ("adam_full_batch", lambda: xp.adam_full_batch(_NET.apply_fn, _P, _X4, np.zeros((5, 2))), ValueError,
     "y must have shape"),
    ("adam_full_batch", lambda: xp.adam_full_batch(_NET.apply_fn, _P, _X4, np.zeros((4, 2)), steps=0), ValueError,
     "steps must be an integer"),
    ("adam_full_batch", lambda: xp.adam_full_batch(_NET.apply_fn, _P, _X4, np.zeros((4, 2)), learning_rate=-1.0),
     ValueError, "learning_rate must be a finite number"),
    ("adam_full_batch", lambda: xp.adam_full_batch(None, _P, _X4, np.zeros((4, 2))), TypeError, "apply_fn must be"),
    ("mape", lambda: xp.mape(np.zeros(3), np.ones(3)), ValueError, "y_true must be non-empty and non-zero"),
    ("mape", lambda: xp.mape(np.ones(3), np.ones(2)), ValueError, "same shape"),
]


@pytest.mark.parametrize("name,call,error,match", BAD_INPUT, ids=[f"{r[0]}-{i}" for i, r in enumerate(BAD_INPUT)])
def test_bad_input_is_refused_with_a_clear_error(name, call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert "jax" not in type(info.value).__module__


def test_every_public_function_has_a_bad_input_row():
    import inspect

    public = [n for n in xp.__all__ if callable(getattr(xp, n)) and not inspect.isclass(getattr(xp, n))]
    assert set(public) <= {row[0] for row in BAD_INPUT}, set(public) - {row[0] for row in BAD_INPUT}


def test_tiny_training_run_lowers_the_loss():
    net = xp.pinet_large(products=3, width=4)
    x = np.linspace(-1, 1, 32)[:, None]
    run = xp.adam_full_batch(net.apply_fn, net.init_fn(jax.random.key(0)), x, xp.helix(x),
                             learning_rate=1e-2, steps=300)
    assert run.loss.shape == (300,)
    assert run.loss[-1] < 0.5 * run.loss[0]
    mlp = xp.torch_mlp((8,), n_out=2)
    run = xp.adam_full_batch(mlp.apply_fn, mlp.init_fn(jax.random.key(1)), x, xp.helix(x),
                             learning_rate=1e-2, steps=300)
    assert run.loss[-1] < 0.5 * run.loss[0]


def test_full_batch_adam_equals_the_minibatch_adam_with_one_batch():
    # with batch_size = n every epoch is one step on the whole (shuffled) set: the same update
    net = ex.scalar_ccp(3)
    params = net.init_fn(jax.random.key(2))
    x = np.linspace(-1, 1, 16)
    y = x**3 - x
    ours = xp.adam_full_batch(lambda p, z: net.apply_fn(p, z[:, 0]), params, x[:, None], y,
                              learning_rate=1e-2, steps=50, weight_decay=1e-3)
    theirs = ex.adam_fit(net.apply_fn, params, x, y, jax.random.key(0), learning_rate=1e-2,
                         weight_decay=1e-3, batch_size=16, epochs=50)
    for key in params:
        np.testing.assert_allclose(ours.params[key], theirs.params[key], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.loss, theirs.epoch_loss, rtol=1e-10)


def test_mape_is_the_official_median():
    y = np.array([[1.0, 2.0], [4.0, -1.0]])
    pred = y * np.array([[1.1, 1.0], [0.5, 1.2]])
    assert xp.mape(y, pred) == pytest.approx(100 * np.median([0.1, 0.0, 0.5, 0.2]))
