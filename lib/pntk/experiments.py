r"""Models, targets and training for the official experiments at laptop scale.

Book chapter "The official experiments at laptop scale" (Part III). The
experiments follow the official code (LIONS-EPFL/pntk at commit 7a301db,
bibliography key ``pntk_code``):

* the Xu-style target suite of ``extra/sample_scripts/`` (``sample_sqrt.py``,
  ``sample_l1.py``, ``sample_linear.py``, ``sample_cos.py``,
  ``sample_quadratic.py``): :func:`sqrt_sum`, :func:`l1_norm`,
  :func:`cos_pi_sum`, :func:`linear_target`, :func:`quadratic_target`;
* the helix of ``sample_helix.py`` fitted by the activation-free Pi-net
  ``pinetlarge`` of ``extra/pinet_large.py``: :func:`helix`,
  :func:`pinet_large`, and a ReLU MLP with PyTorch's default initialisation
  of similar size, :func:`torch_mlp`;
* full-batch Adam, jit-compiled, for vector- or matrix-valued targets:
  :func:`adam_full_batch`.

The models are pure ``(init_fn, apply_fn)`` pairs with explicit PRNG keys
and float64 parameters.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from .training import adam_update, flat_mse

__all__ = [
    "sqrt_sum",
    "l1_norm",
    "cos_pi_sum",
    "linear_target",
    "quadratic_target",
    "helix",
    "Net",
    "pinet_large",
    "torch_mlp",
    "param_count",
    "AdamRun",
    "adam_full_batch",
    "mape",
]


def _x(x, name="x"):
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be an (n, d) array of points, got shape {x.shape}")
    return x


def sqrt_sum(x) -> jax.Array:
    r""":math:`f(x)=\sum_i\sqrt{x_i}` on :math:`x\ge0` (``extra/sample_scripts/sample_sqrt.py``).

    Refuses points with a negative coordinate (ValueError naming ``x``)."""
    x = _x(x)
    if not _validate.is_traced(x) and bool(jnp.any(x < 0)):
        raise ValueError("x must have non-negative coordinates for sqrt_sum (train and test on x >= 0)")
    return jnp.sum(jnp.sqrt(x), axis=1)


def l1_norm(x) -> jax.Array:
    r""":math:`f(x)=\|x\|_1=\sum_i|x_i|` (``extra/sample_scripts/sample_l1.py``)."""
    return jnp.sum(jnp.abs(_x(x)), axis=1)


def cos_pi_sum(x) -> jax.Array:
    r""":math:`f(x)=\sum_i\cos(\pi x_i)` (``cospix`` of ``extra/sample_scripts/sample_cos.py``)."""
    return jnp.sum(jnp.cos(jnp.pi * _x(x)), axis=1)


def linear_target(key, dim: int, scale: float = 10.0) -> Callable:
    r"""A random linear target :math:`f(x)=u^\top x`, :math:`u_i\sim U[-A_r,A_r]` (``sample_linear.py``).

    ``scale`` is :math:`A_r` (the official scripts use 10 and 20). The returned
    function maps ``(n, dim)`` to ``(n,)`` and carries the vector as ``.a``."""
    key = _validate.prng_key(key)
    dim = _validate.positive_int(dim, "dim")
    scale = _validate.positive_float(scale, "scale")
    a = jax.random.uniform(key, (dim,), jnp.float64, -scale, scale)

    def f(x):
        x = _x(x)
        if x.shape[1] != dim:
            raise ValueError(f"x must have shape (n, {dim}), got {x.shape}")
        return x @ a

    f.a = a
    return f


def quadratic_target(key, dim: int) -> Callable:
    r"""A random quadratic form :math:`f(x)=x^\top Ax`, :math:`A_{ij}\sim U[-1,1]` (``sample_quadratic.py``).

    The returned function maps ``(n, dim)`` to ``(n,)`` and carries the matrix as ``.A``.
    Along every ray it is the degree-2 polynomial :math:`r^2\,v^\top Av`."""
    key = _validate.prng_key(key)
    dim = _validate.positive_int(dim, "dim")
    a = jax.random.uniform(key, (dim, dim), jnp.float64, -1.0, 1.0)

    def f(x):
        x = _x(x)
        if x.shape[1] != dim:
            raise ValueError(f"x must have shape (n, {dim}), got {x.shape}")
        return jnp.einsum("ni,ij,nj->n", x, a, x)

    f.A = a
    return f


def helix(x) -> jax.Array:
    r"""The helix target :math:`x\mapsto(\cos2\pi x,\sin2\pi x)` (``sample_helix.py``): ``(n, 1)`` to ``(n, 2)``."""
    x = _x(x)
    if x.shape[1] != 1:
        raise ValueError(f"x must have shape (n, 1) for the helix, got {x.shape}")
    return jnp.concatenate([jnp.cos(2 * jnp.pi * x), jnp.sin(2 * jnp.pi * x)], axis=1)


class Net(NamedTuple):
    """``(init_fn, apply_fn)``; ``init_fn(key)`` gives the parameters, ``apply_fn(params, x)`` maps ``(n, d)`` to ``(n, n_out)``."""

    init_fn: Callable
    apply_fn: Callable


def _torch_linear(key, fan_in, fan_out):
    """PyTorch's default ``nn.Linear`` initialisation: weight and bias ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    k_w, k_b = jax.random.split(key)
    bound = 1.0 / np.sqrt(fan_in)
    return {"w": jax.random.uniform(k_w, (fan_in, fan_out), jnp.float64, -bound, bound),
            "b": jax.random.uniform(k_b, (fan_out,), jnp.float64, -bound, bound)}


def _affine(p, h):
    return h @ p["w"] + p["b"]


def pinet_large(products: int = 14, width: int = 10, n_out: int = 2) -> Net:
    r"""The activation-free Pi-net ``pinetlarge`` of ``extra/pinet_large.py`` (1-D input).

    With :math:`z'=g(z)` an affine map :math:`\mathbb R\to\mathbb R` (``zgL1``),
    :math:`L_\ell` affine layers with biases and :math:`J_\ell` affine
    injections :math:`\mathbb R\to\mathbb R^{m}` (``locz``):

    .. math::
       h_1=L_1(z\,z'),\qquad h_\ell=L_\ell\bigl(h_{\ell-1}*J_\ell(z')\bigr),
       \ \ell=2,\dots,P,\qquad f(z)=h_P,

    :math:`L_1:\mathbb R\to\mathbb R^m`, :math:`L_\ell:\mathbb R^m\to\mathbb R^m`
    and :math:`L_P:\mathbb R^m\to\mathbb R^{n_{\rm out}}`. Each of the
    :math:`P` Hadamard products multiplies by one affine function of :math:`z`,
    so :math:`f` is a polynomial of degree :math:`P+1` in :math:`z` (15 for
    the official :math:`P=14`, width :math:`m=10`, :math:`n_{\rm out}=2`).
    No activation, no normalisation. ``init_fn(key)`` draws every weight and
    bias as PyTorch's default ``nn.Linear`` (uniform, bound
    :math:`1/\sqrt{\text{fan-in}}`), as the official code does.
    """
    products = _validate.positive_int(products, "products", minimum=2)
    width = _validate.positive_int(width, "width")
    n_out = _validate.positive_int(n_out, "n_out")
    return _pinet_large(products, width, n_out)


@functools.lru_cache(maxsize=32)
def _pinet_large(products, width, n_out):
    def init_fn(key):
        key = _validate.prng_key(key)
        keys = jax.random.split(key, 2 * products + 1)
        dims = [1] + [width] * (products - 1) + [n_out]
        return {
            "zg": _torch_linear(keys[0], 1, 1),
            "layers": [_torch_linear(keys[1 + l], dims[l], dims[l + 1]) for l in range(products)],
            "locz": [_torch_linear(keys[1 + products + l], 1, dims[l]) for l in range(1, products)],
        }

    def apply_fn(params, x):
        x = _x(x)
        if x.shape[1] != 1:
            raise ValueError(f"x must have shape (n, 1) for pinet_large, got {x.shape}")
        if len(params["layers"]) != products or len(params["locz"]) != products - 1:
            raise ValueError(f"params do not belong to a pinet_large with {products} products")
        z = _affine(params["zg"], x)
        h = _affine(params["layers"][0], x * z)
        for l in range(1, products):
            h = _affine(params["layers"][l], h * _affine(params["locz"][l - 1], z))
        return h

    return Net(init_fn, apply_fn)


def torch_mlp(widths, input_dim: int = 1, n_out: int = 2) -> Net:
    r"""ReLU MLP with biases and PyTorch's default initialisation (the usual baseline of the official scripts).

    ``widths`` are the hidden widths; :math:`h_\ell=\sigma(A_\ell h_{\ell-1}+b_\ell)`,
    output :math:`A_{L+1}h_L+b_{L+1}`. ``init_fn(key)`` draws as ``nn.Linear``.
    """
    if isinstance(widths, (int, np.integer)):
        raise TypeError("widths must be a sequence of hidden widths, e.g. (27, 27, 27)")
    widths = tuple(_validate.positive_int(w, "widths[i]") for w in widths)
    if not widths:
        raise ValueError("widths must contain at least one hidden width")
    input_dim = _validate.positive_int(input_dim, "input_dim")
    n_out = _validate.positive_int(n_out, "n_out")
    return _torch_mlp(widths, input_dim, n_out)


@functools.lru_cache(maxsize=32)
def _torch_mlp(widths, input_dim, n_out):
    dims = (input_dim,) + widths + (n_out,)

    def init_fn(key):
        keys = jax.random.split(_validate.prng_key(key), len(dims) - 1)
        return [_torch_linear(k, a, b) for k, a, b in zip(keys, dims[:-1], dims[1:])]

    def apply_fn(params, x):
        h = _x(x)
        if h.shape[1] != input_dim:
            raise ValueError(f"x must have shape (n, {input_dim}), got {h.shape}")
        for p in params[:-1]:
            h = jax.nn.relu(_affine(p, h))
        return _affine(params[-1], h)

    return Net(init_fn, apply_fn)


def param_count(params) -> int:
    """Number of scalar parameters of a pytree of arrays (e.g. what an ``init_fn`` returns)."""
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves or not all(isinstance(leaf, (np.ndarray, jax.Array)) for leaf in leaves):
        raise TypeError("params must be a non-empty pytree of arrays (what init_fn returns)")
    return int(sum(np.size(leaf) for leaf in leaves))


class AdamRun(NamedTuple):
    """What :func:`adam_full_batch` returns: final parameters and the loss before each step."""

    params: object
    loss: np.ndarray


def adam_full_batch(apply_fn: Callable, params, x, y, *, learning_rate: float = 1e-3, steps: int = 1000,
                    weight_decay: float = 0.0) -> AdamRun:
    r"""Full-batch Adam on the mean squared error, jit-compiled (one ``lax.scan``).

    The update of ``torch.optim.Adam`` (weight decay added to the gradient,
    :math:`b_1=0.9`, :math:`b_2=0.999`, :math:`\epsilon=10^{-8}`), the optimiser
    of the official drivers (nn-extrapolate's ``main.py``); see also
    :func:`pntk.extrapolation.adam_fit`, its mini-batch version for scalar targets.
    ``y`` is ``(n,)`` or ``(n, k)``; ``apply_fn(params, x)`` must return the same shape.
    The loss is :math:`\frac1{nk}\sum(f-y)^2`.
    """
    if not callable(apply_fn):
        raise TypeError("apply_fn must be callable apply_fn(params, x)")
    x = _x(jnp.asarray(np.asarray(x, dtype=float)))
    y = jnp.asarray(np.asarray(y, dtype=float))
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have shape (n,) or (n, k) with n = {x.shape[0]}, got {y.shape}")
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    steps = _validate.positive_int(steps, "steps")
    weight_decay = _validate.nonnegative_float(weight_decay, "weight_decay")
    flat, unravel, value_and_grad = flat_mse(apply_fn, params)
    run = _adam_scan(value_and_grad, steps)  # compiled once per model layout
    flat, loss = run(flat, x, y, learning_rate, weight_decay)
    return AdamRun(unravel(flat), np.asarray(loss))


@functools.lru_cache(maxsize=32)
def _adam_scan(value_and_grad, steps):
    @jax.jit
    def run(flat, x, y, lr, wd):
        def step(state, _):
            value, g = value_and_grad(state[0], x, y)
            return adam_update(state, g, lr, wd), value

        zeros = jnp.zeros_like(flat)
        (flat, _, _, _), values = jax.lax.scan(step, (flat, zeros, zeros, jnp.asarray(0.0)), None, length=steps)
        return flat, values

    return run


def mape(y_true, y_pred) -> float:
    r"""The official MAPE over all entries: :math:`100\,\mathrm{median}|y-\hat y|/|y|` (``mape()`` in ``extra/pinet_large.py``).

    ``y_true`` and ``y_pred`` have the same shape (any); entries with :math:`y=0` are refused."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0 or np.any(y_true == 0):
        raise ValueError("y_true must be non-empty and non-zero (the MAPE divides by |y|)")
    return float(100 * np.median(np.abs(y_true - y_pred) / np.abs(y_true)))
