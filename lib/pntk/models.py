r"""Finite-width polynomial nets in the NTK parametrisation of the paper's code.

Every model is a pair ``(init_fn, apply_fn)`` of pure functions, as in
neural-tangents' ``stax`` (the kernels live in :mod:`pntk.kernels`):
``init_fn(key, input_dim)`` returns the parameters, ``apply_fn(params, x)`` maps
an ``(n, d)`` array to ``(n,)`` outputs.

The model (official code, ``spectral/utils.py::pi_model_ntk``; book chapter "Polynomial nets"):

.. math::
   h_1 = \phi(W_1 x),\qquad
   h_n = h_{n-1} * \bigl(1 + \phi(W_n x)\bigr)\ \ (n = 2,\dots,N),\qquad
   f(x) = \sqrt{2/m}\; c^\top h_N ,

with :math:`*` the Hadamard product, :math:`\phi` ReLU (the paper's PNN) or
the identity (the classical CCP :math:`x_N=(U_1z)*\prod_n(1+U_nz)` of
Chrysos et al.), and all weights :math:`W_n\in\mathbb R^{m\times d}`,
:math:`c\in\mathbb R^m` i.i.d. :math:`\mathcal N(0,1)`; there is no
:math:`1/\sqrt d` on the first layer. ``skip=False`` gives
:math:`h_n = h_{n-1} * \phi(W_n x)`. ``degree=1`` is the two-layer ReLU net
:math:`\sqrt{2/m}\,c^\top\sigma(W_1x)`, the baseline "NN" of NTK theory.
``bias=True`` appends a constant coordinate 1 to :math:`x`, which gives every
pre-activation an :math:`\mathcal N(0,1)` bias.

:func:`relu_mlp` is the deep ReLU baseline of the spectral chapters: ``depth`` hidden
layers in the same parametrisation (kernels :func:`pntk.kernels.relu_mlp_kernel`).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from . import _validate

__all__ = ["Model", "pnn", "relu_net", "relu_mlp"]


class Model(NamedTuple):
    """``(init_fn, apply_fn)`` of a finite-width net; unpacks as a pair."""

    init_fn: Callable
    apply_fn: Callable


def pnn(degree: int, width: int, *, skip: bool = True, activation: str = "relu", bias: bool = False) -> Model:
    r"""Degree-``degree`` polynomial net (CCP with Hadamard products) of hidden width ``width``.

    Args:
      degree: polynomial degree :math:`N\ge1`, the number of Hadamard factors.
      width: hidden width :math:`m\ge1`.
      skip: ``h * (1 + phi(W x))`` (the paper's model) or ``h * phi(W x)``.
      activation: ``"relu"`` or ``"identity"``.
      bias: append a constant input coordinate (biases on every branch).

    Returns:
      :class:`Model` ``(init_fn, apply_fn)``. ``init_fn(key, input_dim)`` gives
      ``{"W": (degree, width, input_dim [+1]), "c": (width,)}``.
    """
    return _pnn(_validate.positive_int(degree, "degree"), _validate.positive_int(width, "width"),
                _validate.boolean(skip, "skip"), _validate.activation(activation), _validate.boolean(bias, "bias"))


@functools.lru_cache(maxsize=256)
def _pnn(degree: int, width: int, skip: bool, activation: str, bias: bool) -> Model:
    # memoised: the same architecture returns the same functions, so the compiled training
    # loops and Jacobians cached per apply_fn (pntk.training, pntk.kernels) are reused
    phi = jax.nn.relu if activation == "relu" else (lambda u: u)

    def init_fn(key, input_dim: int):
        key = _validate.prng_key(key)
        input_dim = _validate.positive_int(input_dim, "input_dim")
        k_w, k_c = jax.random.split(key)
        fan_in = input_dim + 1 if bias else input_dim
        dtype = jnp.result_type(float)
        return {
            "W": jax.random.normal(k_w, (degree, width, fan_in), dtype),
            "c": jax.random.normal(k_c, (width,), dtype),
        }

    def apply_fn(params, x):
        x = jnp.asarray(x)
        # shape checks only: apply_fn runs under jit and grad, where values are traced
        w = params["W"]
        expected = w.shape[2] - 1 if bias else w.shape[2]
        if x.ndim != 2 or x.shape[1] != expected:
            raise ValueError(f"x must have shape (n, {expected}) for these params, got {x.shape}")
        if w.shape[:2] != (degree, width):
            raise ValueError(f"params['W'] has shape {w.shape}; this model needs ({degree}, {width}, d)")
        if bias:
            x = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)
        pre = jnp.einsum("nmd,bd->nbm", params["W"], x)  # (degree, batch, width)
        factors = phi(pre)
        h = factors[0]
        for n in range(1, degree):
            h = h * (1.0 + factors[n]) if skip else h * factors[n]
        return jnp.sqrt(2.0 / width) * (h @ params["c"])

    return Model(init_fn, apply_fn)


def relu_net(width: int, *, bias: bool = False) -> Model:
    r"""The two-layer ReLU net :math:`\sqrt{2/m}\,c^\top\sigma(Wx)`, i.e. ``pnn(1, width)``."""
    return pnn(1, width, bias=bias)



MAX_DEPTH = 128
"""Largest ``depth`` of :func:`relu_mlp` (as :data:`pntk.kernels.MAX_DEPTH`)."""


def relu_mlp(depth: int, width: int, *, bias: bool = False) -> Model:
    r"""ReLU MLP with ``depth`` hidden layers of width ``width``, in the NTK parametrisation of :func:`relu_net`.

    .. math::
       u_1 = W_1x\,(+\,b_1),\qquad u_l=\sqrt{2/m}\,V_l\,\sigma(u_{l-1})\,(+\,b_l)\ (l=2,\dots,L),\qquad
       f(x)=\sqrt{2/m}\,c^\top\sigma(u_L),

    every weight and bias :math:`\mathcal N(0,1)`. ``bias=True`` gives every hidden
    pre-activation a bias and the readout none (the first layer's bias is a constant input
    coordinate, as in :func:`pnn`); its infinite-width kernels are
    :func:`pntk.kernels.relu_mlp_kernel`.

    Args:
      depth: number of hidden layers :math:`L`, an integer in ``[1, MAX_DEPTH]``.
      width: hidden width :math:`m\ge1`.
      bias: biases on the hidden pre-activations.

    Returns:
      :class:`Model` ``(init_fn, apply_fn)``. ``depth=1`` returns ``relu_net(width, bias=bias)``
      itself (the same functions, parameters and layout). For ``depth >= 2``,
      ``init_fn(key, input_dim)`` gives ``{"W": (1, width, input_dim [+1]),
      "V": (depth - 1, width, width), "c": (width,)}`` and, with bias, ``"b": (depth - 1, width)``.
    """
    depth = _validate.positive_int(depth, "depth", maximum=MAX_DEPTH)
    width = _validate.positive_int(width, "width")
    bias = _validate.boolean(bias, "bias")
    if depth == 1:
        return relu_net(width, bias=bias)
    return _relu_mlp(depth, width, bias)


@functools.lru_cache(maxsize=256)
def _relu_mlp(depth: int, width: int, bias: bool) -> Model:
    def init_fn(key, input_dim: int):
        key = _validate.prng_key(key)
        input_dim = _validate.positive_int(input_dim, "input_dim")
        k_w, k_v, k_c, k_b = jax.random.split(key, 4)
        dtype = jnp.result_type(float)
        params = {
            "W": jax.random.normal(k_w, (1, width, input_dim + 1 if bias else input_dim), dtype),
            "V": jax.random.normal(k_v, (depth - 1, width, width), dtype),
            "c": jax.random.normal(k_c, (width,), dtype),
        }
        if bias:
            params["b"] = jax.random.normal(k_b, (depth - 1, width), dtype)
        return params

    def apply_fn(params, x):
        x = jnp.asarray(x)
        w, v = params["W"], params["V"]
        expected = w.shape[2] - 1 if bias else w.shape[2]
        if x.ndim != 2 or x.shape[1] != expected:
            raise ValueError(f"x must have shape (n, {expected}) for these params, got {x.shape}")
        if w.shape[:2] != (1, width) or v.shape != (depth - 1, width, width):
            raise ValueError(
                f"params have W {w.shape} and V {v.shape}; this model needs W (1, {width}, d) "
                f"and V ({depth - 1}, {width}, {width})"
            )
        if bias:
            x = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)
        scale = jnp.sqrt(2.0 / width)
        h = jax.nn.relu(x @ w[0].T)
        for l in range(depth - 1):
            u = scale * (h @ v[l].T)
            if bias:
                u = u + params["b"][l]
            h = jax.nn.relu(u)
        return scale * (h @ params["c"])

    return Model(init_fn, apply_fn)
