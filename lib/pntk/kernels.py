r"""Exact infinite-width kernels (NNGP and NTK) of polynomial nets, and the empirical NTK.

The kernel algebra follows neural-tangents' ``stax``: a :class:`Kernel` carries
the NNGP covariance, the NTK and the two diagonals (variances) that the
arc-cosine formulas need, and every layer is a pure map ``Kernel -> Kernel``.
A polynomial net is built from four layers:

* :func:`inputs` — the linear kernel :math:`x^\top x'` of the raw inputs (first-layer
  weights are :math:`\mathcal N(0,1)` with no :math:`1/\sqrt d`, as in the paper's code);
* :func:`relu`, :func:`one_plus_relu`, :func:`one_plus` — the elementwise factors
  :math:`\sigma(u)`, :math:`1+\sigma(u)`, :math:`1+u` of a branch;
* :func:`hadamard` — the Hadamard product of independent branches
  (NNGP = product of NNGPs, NTK = product rule; book chapter "The NTK of a polynomial net");
* :func:`dense` — a fully connected layer :math:`\sqrt{s/m}\,c^\top h` on a hidden layer.

Notation (book chapter "The NTK of a polynomial net"): with :math:`u=w^\top x`, :math:`u'=w^\top x'`,
:math:`w\sim\mathcal N(0, I)`, :math:`\vartheta=\arccos\frac{x^\top x'}{\|x\|\|x'\|}`,

.. math::
   \kappa_1 = \frac{\|x\|\|x'\|}{2\pi}\bigl(\sin\vartheta+(\pi-\vartheta)\cos\vartheta\bigr),\quad
   \kappa_0 = \frac{\pi-\vartheta}{2\pi},\quad \mu(x)=\frac{\|x\|}{\sqrt{2\pi}},\quad
   \beta = 1+\mu(x)+\mu(x')+\kappa_1 .

The degree-:math:`N` ReLU-CCP with skip (:func:`pnn_ntk`) has the closed form
(book chapter "The NTK of a polynomial net", the closed form)

.. math::
   \Theta_{\rm PNN}=2\bigl[\kappa_1\beta^{N-1}+x^\top x'\,\kappa_0\beta^{N-1}
   +(N-1)\,x^\top x'\,\kappa_1\kappa_0\beta^{N-2}\bigr],

which :func:`hadamard_power` evaluates without a loop over the degree.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import _validate
from ._acos import arccos

__all__ = [
    "Kernel",
    "inputs",
    "inputs_from_cosine",
    "dense",
    "relu",
    "one_plus_relu",
    "one_plus",
    "hadamard",
    "hadamard_power",
    "pnn_kernel",
    "pnn_ntk",
    "pnn_nngp",
    "pnn_ntk_cosine",
    "pnn_nngp_cosine",
    "relu_ntk",
    "add_bias",
    "relu_mlp_kernel",
    "relu_mlp_ntk",
    "relu_mlp_nngp",
    "relu_mlp_ntk_cosine",
    "relu_mlp_nngp_cosine",
    "empirical_ntk",
]


class Kernel(NamedTuple):
    """Pairwise kernel state of a layer, as in ``neural_tangents.Kernel``.

    Attributes:
      nngp: ``(n1, n2)`` NNGP covariance :math:`K(x, x')` of one unit of the layer.
      ntk: ``(n1, n2)`` NTK :math:`\\Theta(x, x')` of one unit with respect to all
        parameters below it.
      var1: ``(n1, 1)`` diagonal :math:`K(x, x)` for the rows.
      var2: ``(1, n2)`` diagonal :math:`K(x', x')` for the columns.
    """

    nngp: jax.Array
    ntk: jax.Array
    var1: jax.Array
    var2: jax.Array


def _check_kernel(k, name: str) -> None:
    """Layers take a :class:`Kernel` (e.g. from :func:`inputs`); anything else is a TypeError naming the argument."""
    if not isinstance(k, Kernel):
        raise TypeError(f"{name} must be a pntk.kernels.Kernel (e.g. kernels.inputs(x1, x2)), got {type(k).__name__}")


# ----------------------------------------------------------------------------
# layers: pure maps Kernel -> Kernel
# ----------------------------------------------------------------------------

def inputs(x1: jax.Array, x2: jax.Array) -> Kernel:
    r"""Kernel of a first-layer pre-activation :math:`u = w^\top x`, :math:`w\sim\mathcal N(0, I_d)`.

    NNGP :math:`x^\top x'`; NTK :math:`x^\top x'` (the gradient of :math:`w^\top x`
    with respect to :math:`w` is :math:`x`).
    """
    x1, x2 = _validate.point_pair_traceable(x1, x2)
    dot = _inner_products(x1, x2)
    var1 = jnp.sum(x1 * x1, axis=1, keepdims=True)
    var2 = jnp.sum(x2 * x2, axis=1, keepdims=True).T
    return Kernel(dot, dot, var1, var2)


UNROLLED_DOT_MAX_DIM = 32
"""Largest input dimension for which :func:`inputs` sums outer products instead of a matmul."""


def _fused_inner_products(dim: int) -> bool:
    """Whether :func:`_inner_products` sums outer products (fused, symmetric) for inputs of this dimension."""
    return dim <= UNROLLED_DOT_MAX_DIM


def _inner_products(x1, x2):
    r"""The ``(n1, n2)`` matrix :math:`x_1 x_2^\top`.

    For :math:`d\le` :data:`UNROLLED_DOT_MAX_DIM` it is the sum of the :math:`d` outer
    products :math:`x_{1,:k}\,x_{2,:k}^\top` in a fixed order: elementwise operations, which
    XLA fuses into the kernel that consumes them, so no ``n1 x n2`` matrix of inner products
    is written to memory (about 2x faster than a matmul for d = 10, even at d = 32; measured
    in ``bench/``), and every entry is rounded the same way as its transpose, so a Gram
    matrix comes out exactly symmetric. For larger :math:`d` a matmul is faster.
    """
    if not _fused_inner_products(x1.shape[1]):
        return x1 @ x2.T
    dot = x1[:, :1] * x2[:, 0]
    for k in range(1, x1.shape[1]):
        dot = dot + x1[:, k:k + 1] * x2[:, k]
    return dot


def inputs_from_cosine(t: jax.Array, *, bias: bool = False) -> Kernel:
    r"""Kernel of :func:`inputs` for unit vectors whose inner product is ``t``.

    Used for dot-product kernels on the sphere (Funk-Hecke spectra). With
    ``bias=True`` a constant coordinate 1 is appended, so the inner product is
    :math:`1+t` and both squared norms are 2.
    """
    bias = _validate.boolean(bias, "bias")
    t = t if _validate.is_traced(t) else _cosines(t)
    dot = t + 1.0 if bias else t
    var = jnp.full_like(t, 2.0 if bias else 1.0)
    return Kernel(dot, dot, var, var)


def dense(k: Kernel, scale: float = 1.0) -> Kernel:
    r"""Fully connected layer :math:`\sqrt{s/m}\,c^\top h` on a width-:math:`m` layer :math:`h`, :math:`c\sim\mathcal N(0,I)`.

    NNGP :math:`s K`; NTK :math:`s(K+\Theta)`: the gradient in :math:`c`
    contributes :math:`sK`, the gradients below it :math:`s\Theta` (book chapter
    "The NTK of a polynomial net"; the readout of the official code, ``spectral/utils.py``
    ``pi_model_ntk``, has :math:`s=2`).
    """
    _check_kernel(k, "k")
    if not _validate.is_traced(scale):
        scale = _validate.positive_float(scale, "scale")
    return Kernel(scale * k.nngp, scale * (k.nngp + k.ntk), scale * k.var1, scale * k.var2)


def _arc_cosine(k: Kernel):
    """kappa_1 (ReLU NNGP), kappa_0 (ReLU derivative kernel) and the norms, for any covariance."""
    s1 = jnp.sqrt(k.var1)
    s2 = jnp.sqrt(k.var2)
    scale = s1 * s2
    # a zero-norm input has u = 0 almost surely: relu(0) = 0 and (as in JAX) relu'(0) = 0
    nonzero = scale > 0
    cos = jnp.where(nonzero, k.nngp / jnp.where(nonzero, scale, 1.0), 0.0)
    # Cosines within a few ulps of +-1 are rounding error around an exact +-1 (the
    # diagonal, duplicated points): snapping them makes K(x, x) exact and keeps Gram
    # matrices of near-duplicates positive semi-definite (arccos is ill-conditioned there).
    eps = 4 * jnp.finfo(cos.dtype).eps
    cos = jnp.clip(cos, -1.0, 1.0)
    cos = jnp.where(cos > 1 - eps, 1.0, jnp.where(cos < -1 + eps, -1.0, cos))
    theta = arccos(cos)
    sin = jnp.sqrt((1.0 - cos) * (1.0 + cos))
    kappa1 = scale * (sin + (jnp.pi - theta) * cos) / (2 * jnp.pi)
    kappa0 = jnp.where(nonzero, (jnp.pi - theta) / (2 * jnp.pi), 0.0)
    return kappa1, kappa0, s1, s2


def relu(k: Kernel) -> Kernel:
    r"""ReLU :math:`\sigma(u)=\max(u,0)`: NNGP :math:`\kappa_1`, NTK :math:`\Theta\,\kappa_0` (arc-cosine kernels, Cho & Saul 2009)."""
    _check_kernel(k, "k")
    kappa1, kappa0, _, _ = _arc_cosine(k)
    return Kernel(kappa1, k.ntk * kappa0, k.var1 / 2, k.var2 / 2)


def one_plus_relu(k: Kernel) -> Kernel:
    r"""The CCP factor with skip, :math:`1+\sigma(u)`: NNGP :math:`\beta = 1+\mu(x)+\mu(x')+\kappa_1`, NTK :math:`\Theta\,\kappa_0`.

    :math:`h_{n-1} * \sigma(W_n x) + h_{n-1} = h_{n-1} * (1+\sigma(W_n x))` turns
    the skip into a Hadamard factor (book chapter "The NTK of a polynomial net").
    """
    _check_kernel(k, "k")
    kappa1, kappa0, s1, s2 = _arc_cosine(k)
    c = 1.0 / jnp.sqrt(2 * jnp.pi)
    # c * (s1 + s2), not c * s1 + c * s2: the same rounding for (x, x') and (x', x)
    nngp = 1.0 + c * (s1 + s2) + kappa1
    return Kernel(nngp, k.ntk * kappa0, 1.0 + 2 * c * s1 + k.var1 / 2, 1.0 + 2 * c * s2 + k.var2 / 2)


def one_plus(k: Kernel) -> Kernel:
    r"""The activation-free CCP factor :math:`1+u`: NNGP :math:`1+K`, NTK :math:`\Theta`."""
    _check_kernel(k, "k")
    return Kernel(1.0 + k.nngp, k.ntk, 1.0 + k.var1, 1.0 + k.var2)


def add_bias(k: Kernel, scale: float = 1.0) -> Kernel:
    r"""A bias :math:`u + \sqrt{s}\,b`, :math:`b\sim\mathcal N(0,1)`, added to every unit of a pre-activation.

    NNGP :math:`K+s`; NTK :math:`\Theta+s` (the gradient in :math:`b` is :math:`\sqrt s`),
    both diagonals :math:`+s`; neural-tangents' ``Dense(b_std=sqrt(s))`` bias term. On raw
    inputs, ``add_bias(inputs(x1, x2))`` equals ``inputs`` of the inputs with a constant
    coordinate 1 appended (the ``bias=True`` convention of :func:`pnn_kernel`).
    """
    _check_kernel(k, "k")
    if not _validate.is_traced(scale):
        scale = _validate.positive_float(scale, "scale")
    return Kernel(k.nngp + scale, k.ntk + scale, k.var1 + scale, k.var2 + scale)


def hadamard(*branches: Kernel) -> Kernel:
    r"""Hadamard product of branches with independent parameters.

    .. math:: K = \prod_n K_n,\qquad \Theta = \sum_n \Theta_n \prod_{k\ne n} K_k

    (book chapter "The NTK of a polynomial net"; neural-tangents' ``FanInProd``). Expectations factorise
    because the branches' weights are independent; the NTK is the product rule.
    """
    if not branches:
        raise ValueError("hadamard needs at least one branch")
    for i, b in enumerate(branches):
        _check_kernel(b, f"branches[{i}]")
    nngp, ntk, var1, var2 = branches[0]
    for b in branches[1:]:
        nngp, ntk = nngp * b.nngp, ntk * b.nngp + nngp * b.ntk
        var1, var2 = var1 * b.var1, var2 * b.var2
    return Kernel(nngp, ntk, var1, var2)


def hadamard_power(first: Kernel, repeated: Kernel, count) -> Kernel:
    r""":func:`hadamard` of ``first`` and ``count`` independent copies of ``repeated``, in closed form.

    .. math:: K = K_1 K_r^{c},\qquad \Theta = \Theta_1 K_r^{c} + c\,K_1\Theta_r K_r^{c-1}

    This is the recursion :math:`\Sigma_n=\Sigma_{n-1}\beta`,
    :math:`\Theta^h_n=\Theta^h_{n-1}\beta+\Sigma_{n-1}\Theta_r` of the book
    chapter "The NTK of a polynomial net" summed over :math:`n`; it costs the same for every degree.
    ``count`` may be a traced integer, so one compiled kernel serves every degree.
    """
    _check_kernel(first, "first")
    _check_kernel(repeated, "repeated")
    if not _validate.is_traced(count):
        count = _validate.positive_int(count, "count", minimum=0, maximum=2**_POWER_BITS - 1)
    count = jnp.asarray(count, dtype=jnp.int32)
    # one traced power of the n x n matrix: K_r^(c-1), then K_r^c = K_r^(c-1) K_r and
    # c K_r^(c-1), written so that c = 0 gives K_r^0 = 1 and 0 rather than 0 * K_r^(-1)
    power_m1 = _integer_power(repeated.nngp, jnp.maximum(count - 1, 0))
    power = jnp.where(count > 0, power_m1 * repeated.nngp, 1.0)
    d_power = count * power_m1
    nngp = first.nngp * power
    ntk = first.ntk * power + first.nngp * repeated.ntk * d_power
    return Kernel(nngp, ntk, first.var1 * _integer_power(repeated.var1, count),
                  first.var2 * _integer_power(repeated.var2, count))


_POWER_BITS = 7  # traced exponents up to 127; pntk.kernels refuses higher degrees


def _integer_power(x, n):
    """x**n for a traced integer 0 <= n < 2**_POWER_BITS by binary exponentiation.

    Unrolled square-and-multiply: XLA fuses it into one elementwise pass, several
    times faster than ``lax.pow`` with a traced exponent (measured on 4096 x 4096).
    """
    result = jnp.ones_like(x)
    square = x
    for bit in range(_POWER_BITS):
        result = jnp.where((n >> bit) & 1, result * square, result)
        square = square * square
    return result


# ----------------------------------------------------------------------------
# the models of pntk.models, in closed form
# ----------------------------------------------------------------------------

def _pnn_from_inputs(k: Kernel, degree: int, skip: bool, activation: str) -> Kernel:
    """Kernel of ``pntk.models.pnn`` given the kernel of its input layer."""
    first = relu(k) if activation == "relu" else k
    if skip:
        repeated = one_plus_relu(k) if activation == "relu" else one_plus(k)
    else:
        repeated = first
    return dense(hadamard_power(first, repeated, degree - 1), scale=2.0)


def _with_bias(x):
    return jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


# the degree is a traced argument: loops over degrees (chapters, widgets) reuse one compiled kernel
@functools.partial(jax.jit, static_argnames=("skip", "activation", "bias", "which"))
def _pnn_kernel_jit(x1, x2, degree, skip, activation, bias, which):
    if bias:
        x1, x2 = _with_bias(x1), _with_bias(x2)
    k = _pnn_from_inputs(inputs(x1, x2), degree, skip, activation)
    return k if which == "both" else getattr(k, which)


def _symmetric_by_construction(x, bias: bool) -> bool:
    """Whether the fused kernel of ``(x, x)`` is exactly symmetric without :func:`_symmetrize`.

    Every layer treats :math:`(x, x')` and :math:`(x', x)` alike (products and sums of
    the two sides in commutative form), and so do the summed outer products of
    :func:`_inner_products`; what remains is the compiled loop over a row, whose
    vectorised body and scalar remainder may round differently (measured on x86-64: a
    last column one ulp off for n = 33). Rows of a multiple of 16 entries have no
    remainder for vectors of up to 16 lanes (``tests/test_edge_cases.py`` checks both cases).
    """
    return _fused_inner_products(x.shape[1] + bias) and x.shape[0] % 16 == 0


@jax.jit
def _symmetrize(k):
    # a separate computation on the materialised matrix: a matmul may round the (i, j) and
    # (j, i) entries of x x^T differently (blocked products, vector vs scalar paths)
    return 0.5 * (k + k.T)


DENSE_MAX_BYTES = 4 * 2**30
"""Default ``max_bytes`` of the dense kernels: larger Gram matrices go to :mod:`pntk.blocked`."""

# peak memory of one dense call in units of n1 * n2 * itemsize (measured at n = 4096 in bench/:
# 2.1 for "ntk" or "nngp", 11 for "both", whose two outputs defeat XLA's fusion)
_DENSE_FOOTPRINT = {"ntk": 3, "nngp": 3, "both": 12}


def _check_dense_size(n1, n2, itemsize, which, max_bytes, family="pnn"):
    """Refuse a dense kernel whose estimated peak memory exceeds ``max_bytes``, naming the blocked alternative."""
    if max_bytes is None:
        return
    max_bytes = _validate.positive_int(max_bytes, "max_bytes")
    need = _DENSE_FOOTPRINT[which] * n1 * n2 * itemsize
    if need > max_bytes:
        alt = {"ntk": f"{family}_ntk_blocked", "nngp": f"{family}_nngp_blocked",
               "both": f"{family}_kernel_blocked"}[which]
        raise ValueError(
            f"a dense {n1} x {n2} kernel ({which}) needs about {need / 2**30:.1f} GiB, more than "
            f"max_bytes={max_bytes} ({max_bytes / 2**30:.1f} GiB); use pntk.blocked.{alt} (tiles written "
            f"into one preallocated array, optionally float32), or pass a larger max_bytes (None: no limit)"
        )


def _pnn_kernel(x1, x2, degree, skip, activation, bias, which, max_bytes=DENSE_MAX_BYTES):
    degree, skip, activation, bias = _model_options(degree, skip, activation, bias)
    symmetric = x2 is None or x2 is x1
    x1, x2 = _validate.point_pair(x1, None if symmetric else x2)
    _check_dense_size(x1.shape[0], x2.shape[0], x1.dtype.itemsize, which, max_bytes)
    k = _pnn_kernel_jit(x1, x2, degree, skip, activation, bias, which)
    _check_finite(k, degree, x1.dtype)
    if not symmetric or _symmetric_by_construction(x1, bias):
        return k
    if which == "both":
        return k._replace(nngp=_symmetrize(k.nngp), ntk=_symmetrize(k.ntk))
    return _symmetrize(k)


def _check_finite(k, degree, dtype):
    """The kernel grows like ``(|x| |x'|)^degree``: refuse an overflow instead of returning inf."""
    for part in (k if isinstance(k, Kernel) else (k,)):
        if not bool(jnp.all(jnp.isfinite(part))):
            raise ValueError(
                f"the degree-{degree} kernel overflows {jnp.dtype(dtype).name} (max "
                f"{float(jnp.finfo(dtype).max):.1e}) for these inputs: it grows like (|x1| |x2|)^degree; "
                "lower the degree, rescale the inputs, or use float64"
            )


def _model_options(degree, skip, activation, bias):
    return (
        _validate.positive_int(degree, "degree", maximum=2**_POWER_BITS),
        _validate.boolean(skip, "skip"),
        _validate.activation(activation),
        _validate.boolean(bias, "bias"),
    )


def pnn_kernel(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
               bias: bool = False, max_bytes: int | None = DENSE_MAX_BYTES) -> Kernel:
    r"""NNGP and NTK of ``pntk.models.pnn(degree, width, skip=..., activation=..., bias=...)`` as width :math:`\to\infty`.

    The model is :math:`f(x)=\sqrt{2/m}\,c^\top h_N(x)` with :math:`h_1=\phi(W_1x)` and
    :math:`h_n=h_{n-1}*(1+\phi(W_nx))` (``skip=True``) or :math:`h_n=h_{n-1}*\phi(W_nx)`
    (``skip=False``), :math:`\phi` ReLU or the identity (official code, ``spectral/utils.py`` ``pi_model_ntk``; book chapter "Polynomial nets and the Hadamard product").
    Inputs may lie anywhere in :math:`\mathbb R^d` (norm-dependent arc-cosine kernels).

    Args:
      x1: ``(n1, d)`` inputs.
      x2: ``(n2, d)`` inputs, or ``None`` for ``x1``.
      degree: polynomial degree :math:`N\ge1` (number of Hadamard factors); 1 is
        the two-layer ReLU net.
      skip: CCP with the skip ``h * (1 + phi(Wx))`` (the paper's model) or without.
      activation: ``"relu"`` (the paper's PNN) or ``"identity"`` (the classical
        activation-free CCP, a polynomial kernel of finite rank).
      bias: append a constant coordinate 1 to the inputs (every pre-activation
        gets an :math:`\mathcal N(0,1)` bias).
      max_bytes: refuse (``ValueError``) a computation whose estimated peak memory
        exceeds this many bytes (default :data:`DENSE_MAX_BYTES`, 4 GiB; ``None``:
        no limit); :mod:`pntk.blocked` computes large Gram matrices in tiles.

    Returns:
      :class:`Kernel` with ``nngp`` and ``ntk`` of shape ``(n1, n2)``.

    Numerics (asserted in ``tests/test_edge_cases.py``): cosines are clipped to
    [-1, 1] and snapped to +-1 within 4 ulps before the arccos; a zero input
    gives the continuous limit (0 without bias). With ``x2=None`` the matrix is
    exactly symmetric and, in float64, positive semi-definite up to
    :math:`\lambda_{\min}\ge-10^{-12}\lambda_{\max}`. The kernel grows like
    :math:`(\|x_1\|\|x_2\|)^N`: float64 holds it for :math:`N=12` at
    :math:`\|x\|=10^3`; an overflow raises ``ValueError`` rather than returning inf.
    float32 inputs are computed in float32, with errors below
    :math:`10^{-5}\max|\Theta|` (measured about :math:`10^{-6}`) for degrees up to 12.
    """
    return _pnn_kernel(x1, x2, degree, skip, activation, bias, "both", max_bytes)


def pnn_ntk(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
            bias: bool = False, max_bytes: int | None = DENSE_MAX_BYTES) -> jax.Array:
    r"""Infinite-width NTK :math:`\Theta(x_1, x_2)` of ``pntk.models.pnn``; see :func:`pnn_kernel`.

    For ``skip=True, activation="relu"`` this is the closed form of the book
    chapter "The NTK of a polynomial net",
    :math:`2[\kappa_1\beta^{N-1}+x^\top x'\kappa_0\beta^{N-1}+(N-1)x^\top x'\kappa_1\kappa_0\beta^{N-2}]`;
    for ``degree=1`` the two-layer ReLU NTK :math:`2[\kappa_1+x^\top x'\kappa_0]`.
    """
    return _pnn_kernel(x1, x2, degree, skip, activation, bias, "ntk", max_bytes)


def pnn_nngp(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
             bias: bool = False, max_bytes: int | None = DENSE_MAX_BYTES) -> jax.Array:
    r"""Infinite-width NNGP covariance of ``pntk.models.pnn``: :math:`2\kappa_1\beta^{N-1}` for the paper's model."""
    return _pnn_kernel(x1, x2, degree, skip, activation, bias, "nngp", max_bytes)


def relu_ntk(x1, x2=None, *, bias: bool = False, max_bytes: int | None = DENSE_MAX_BYTES) -> jax.Array:
    r"""NTK of the two-layer ReLU net :math:`\sqrt{2/m}\,c^\top\sigma(Wx)`: ``pnn_ntk(x1, x2, degree=1)``."""
    return pnn_ntk(x1, x2, 1, bias=bias, max_bytes=max_bytes)


@functools.partial(jax.jit, static_argnames=("skip", "activation", "bias", "which"))
def _pnn_cosine_jit(t, degree, skip, activation, bias, which):
    return getattr(_pnn_from_inputs(inputs_from_cosine(t, bias=bias), degree, skip, activation), which)


def _cosines(t):
    arr = np.asarray(t, dtype=float) if not isinstance(t, jax.Array) else t
    if not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError("t contains non-finite values; cosines must lie in [-1, 1]")
    if bool(jnp.any(jnp.abs(arr) > 1 + 1e-12)):
        raise ValueError("t must contain cosines in [-1, 1]")
    return jnp.clip(jnp.asarray(arr, dtype=jnp.result_type(float)), -1.0, 1.0)


def pnn_ntk_cosine(t, degree: int = 1, *, skip: bool = True, activation: str = "relu",
                   bias: bool = False) -> jax.Array:
    r"""The NTK of :func:`pnn_ntk` between unit vectors with inner product ``t`` (any shape, values in [-1, 1]).

    On the sphere the NTK is a dot-product kernel :math:`\Theta(x,x')=\Theta(x^\top x')`;
    this is the function of the cosine that ``pntk.spectra.sphere_eigenvalues`` expects.
    """
    degree, skip, activation, bias = _model_options(degree, skip, activation, bias)
    return _pnn_cosine_jit(_cosines(t), degree, skip, activation, bias, "ntk")


def pnn_nngp_cosine(t, degree: int = 1, *, skip: bool = True, activation: str = "relu",
                    bias: bool = False) -> jax.Array:
    """The NNGP of :func:`pnn_nngp` between unit vectors with inner product ``t``."""
    degree, skip, activation, bias = _model_options(degree, skip, activation, bias)
    return _pnn_cosine_jit(_cosines(t), degree, skip, activation, bias, "nngp")


# ----------------------------------------------------------------------------
# deep ReLU MLPs: the fair baselines of the spectral chapters
# ----------------------------------------------------------------------------

MAX_DEPTH = 128
"""Largest ``depth`` of the ReLU MLP kernels (the layers are unrolled at compile time)."""


def _relu_mlp_from_inputs(k: Kernel, depth: int, bias: bool) -> Kernel:
    """Kernel of ``pntk.models.relu_mlp(depth, width, bias=bias)`` given the kernel of its first pre-activation."""
    for _ in range(depth - 1):
        k = dense(relu(k), scale=2.0)
        if bias:
            k = add_bias(k)
    return dense(relu(k), scale=2.0)


# depth 1 runs the compiled kernel of pnn_kernel(degree=1): the same layers, but a separately
# compiled copy rounds differently (XLA contracts a*b + c into fused multiply-adds in other
# places), by 1 ulp; sharing the kernel makes depth 1 and degree 1 agree bit for bit
def _relu_mlp_dispatch(x1, x2, depth, bias, which):
    if depth == 1:
        return _pnn_kernel_jit(x1, x2, 1, True, "relu", bias, which)
    return _relu_mlp_jit(x1, x2, depth, bias, which)


def _relu_mlp_cosine_dispatch(t, depth, bias, which):
    if depth == 1:
        return _pnn_cosine_jit(t, 1, True, "relu", bias, which)
    return _relu_mlp_cosine_jit(t, depth, bias, which)


@functools.partial(jax.jit, static_argnames=("depth", "bias", "which"))
def _relu_mlp_jit(x1, x2, depth, bias, which):
    if bias:
        x1, x2 = _with_bias(x1), _with_bias(x2)
    k = _relu_mlp_from_inputs(inputs(x1, x2), depth, bias)
    return k if which == "both" else getattr(k, which)


def _mlp_options(depth, bias):
    return (_validate.positive_int(depth, "depth", maximum=MAX_DEPTH), _validate.boolean(bias, "bias"))


def _relu_mlp_kernel(x1, x2, depth, bias, which, max_bytes):
    depth, bias = _mlp_options(depth, bias)
    symmetric = x2 is None or x2 is x1
    x1, x2 = _validate.point_pair(x1, None if symmetric else x2)
    _check_dense_size(x1.shape[0], x2.shape[0], x1.dtype.itemsize, which, max_bytes, family="relu_mlp")
    k = _relu_mlp_dispatch(x1, x2, depth, bias, which)
    for part in (k if isinstance(k, Kernel) else (k,)):
        if not bool(jnp.all(jnp.isfinite(part))):
            raise ValueError(
                f"the depth-{depth} ReLU MLP kernel overflows {jnp.dtype(x1.dtype).name} for these inputs "
                "(it grows like |x1| |x2|); rescale the inputs or use float64"
            )
    if not symmetric or _symmetric_by_construction(x1, bias):
        return k
    if which == "both":
        return k._replace(nngp=_symmetrize(k.nngp), ntk=_symmetrize(k.ntk))
    return _symmetrize(k)


def relu_mlp_kernel(x1, x2=None, depth: int = 1, *, bias: bool = False,
                    max_bytes: int | None = DENSE_MAX_BYTES) -> Kernel:
    r"""NNGP and NTK of the ReLU MLP ``pntk.models.relu_mlp(depth, width, bias=...)`` as width :math:`\to\infty`.

    The net has ``depth`` hidden layers of width :math:`m` in the NTK parametrisation of
    the book's two-layer net (chapter "The neural tangent kernel"), every weight and bias
    :math:`\mathcal N(0,1)`:

    .. math::
       u_1 = W_1x\,(+\,b_1),\qquad u_l=\sqrt{2/m}\,W_l\,\sigma(u_{l-1})\,(+\,b_l),\qquad
       f(x)=\sqrt{2/m}\,c^\top\sigma(u_L).

    ``bias=True`` puts a bias on every hidden pre-activation :math:`u_1,\dots,u_L` and none on
    the readout: the convention of ``pnn_kernel(..., bias=True)`` (a constant input coordinate
    1, i.e. a bias on every pre-activation of the first layer) continued to deeper layers. A
    readout bias would add the constant 1 to the NTK (to :math:`\mu_0` alone on the sphere).

    The recursion (Jacot et al. 2018; Arora et al. 2019, with the arc-cosine kernels
    :math:`\kappa_1,\kappa_0` of Cho & Saul 2009 applied to the covariance :math:`K_{l}`):

    .. math::
       K_1=\Theta_1=x^\top x'\,(+1),\qquad
       K_{l+1}=2\kappa_1(K_l)\,(+1),\quad \Theta_{l+1}=2\bigl[\kappa_1(K_l)+\Theta_l\,\kappa_0(K_l)\bigr]\,(+1),

    and the output kernels are :math:`K=2\kappa_1(K_L)`, :math:`\Theta=2[\kappa_1(K_L)+\Theta_L\kappa_0(K_L)]`.
    It is composed from the layers of this module (:func:`inputs`, :func:`relu`,
    :func:`dense` with ``scale=2``, :func:`add_bias`), the same maps that build
    :func:`pnn_kernel`; ``depth=1`` is ``pnn_kernel(x1, x2, degree=1, bias=bias)``.
    Without bias the factor 2 keeps the diagonal :math:`K_l(x,x)=\|x\|^2` at every layer, and
    :math:`\Theta(x,x)=(L+1)\|x\|^2`. Inputs may lie anywhere in :math:`\mathbb R^d`.

    Args:
      x1: ``(n1, d)`` inputs.
      x2: ``(n2, d)`` inputs, or ``None`` for ``x1`` (then the result is exactly symmetric).
      depth: number of hidden layers :math:`L`, an integer in ``[1, MAX_DEPTH]``.
      bias: biases on the hidden pre-activations (see above).
      max_bytes: as in :func:`pnn_kernel`.

    Returns:
      :class:`Kernel` with ``nngp`` and ``ntk`` of shape ``(n1, n2)``.

    Checked in ``tests/test_relu_mlp.py`` against neural-tangents'
    ``stax.serial(Dense, Relu, ..., Dense)`` (:func:`pntk.reference.relu_mlp_kernel_nt`)
    and against the finite-width autodiff NTK of ``pntk.models.relu_mlp``.
    """
    return _relu_mlp_kernel(x1, x2, depth, bias, "both", max_bytes)


def relu_mlp_ntk(x1, x2=None, depth: int = 1, *, bias: bool = False,
                 max_bytes: int | None = DENSE_MAX_BYTES) -> jax.Array:
    r"""Infinite-width NTK of the ReLU MLP with ``depth`` hidden layers; see :func:`relu_mlp_kernel`.

    ``depth=1`` is the two-layer ReLU NTK ``pnn_ntk(x1, x2, degree=1)`` = :math:`2[\kappa_1+x^\top x'\kappa_0]`.
    """
    return _relu_mlp_kernel(x1, x2, depth, bias, "ntk", max_bytes)


def relu_mlp_nngp(x1, x2=None, depth: int = 1, *, bias: bool = False,
                  max_bytes: int | None = DENSE_MAX_BYTES) -> jax.Array:
    r"""Infinite-width NNGP covariance of the ReLU MLP with ``depth`` hidden layers; see :func:`relu_mlp_kernel`."""
    return _relu_mlp_kernel(x1, x2, depth, bias, "nngp", max_bytes)


@functools.partial(jax.jit, static_argnames=("depth", "bias", "which"))
def _relu_mlp_cosine_jit(t, depth, bias, which):
    return getattr(_relu_mlp_from_inputs(inputs_from_cosine(t, bias=bias), depth, bias), which)


def relu_mlp_ntk_cosine(t, depth: int = 1, *, bias: bool = False) -> jax.Array:
    r"""The NTK of :func:`relu_mlp_ntk` between unit vectors with inner product ``t`` (any shape, values in [-1, 1]).

    On the sphere every layer's variance :math:`K_l(x,x)` is the same for all :math:`x`
    (1 without bias; :math:`2, 3, \dots` with bias, since each bias adds 1), so the NTK is a
    dot-product kernel :math:`\Theta(x^\top x')` with and without bias, the function of the
    cosine that Funk-Hecke needs. Its eigenvalues on :math:`\mathbb S^{d-1}`:

    >>> from pntk import kernels, spectra
    >>> mu = spectra.sphere_eigenvalues(
    ...     lambda t: kernels.relu_mlp_ntk_cosine(t, depth=3), dim=3, max_k=40)
    >>> ratios = mu / mu[0]            # mu_k / mu_0, k = 0..40

    Without bias the diagonal is :math:`\Theta(1)=L+1`; ``relu_mlp_ntk_cosine(t, 1)`` equals
    ``pnn_ntk_cosine(t, 1)``.
    """
    depth, bias = _mlp_options(depth, bias)
    return _relu_mlp_cosine_dispatch(_cosines(t), depth, bias, "ntk")


def relu_mlp_nngp_cosine(t, depth: int = 1, *, bias: bool = False) -> jax.Array:
    """The NNGP of :func:`relu_mlp_nngp` between unit vectors with inner product ``t``."""
    depth, bias = _mlp_options(depth, bias)
    return _relu_mlp_cosine_dispatch(_cosines(t), depth, bias, "nngp")


# ----------------------------------------------------------------------------
# empirical NTK of a finite-width model
# ----------------------------------------------------------------------------

def empirical_ntk(apply_fn: Callable, params, x1, x2=None, *, batch_size: int = 128) -> jax.Array:
    r"""Finite-width NTK :math:`\hat\Theta(x,x')=\langle\nabla_\theta f(x),\nabla_\theta f(x')\rangle` by ``jax`` autodiff.

    Works for any scalar-output ``apply_fn(params, x) -> (n,)``; the Jacobians
    are computed ``batch_size`` points at a time and contracted block by block,
    so memory is ``O(batch_size * number_of_parameters)``. For ``pntk.models.pnn``
    the result is the finite-width formula of the book chapter "The NTK of a polynomial net".
    """
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable apply_fn(params, x), got {type(apply_fn).__name__}")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    x1, x2 = _validate.point_pair(x1, x2)
    same = x2 is x1
    flat, _ = ravel_pytree(params)
    try:
        out = apply_fn(params, x1[:1])
    except Exception as err:
        raise ValueError(
            f"apply_fn(params, x1) failed for x1 of input dimension {x1.shape[1]}; "
            f"do params and the inputs match? ({type(err).__name__}: {err})"
        ) from None
    if out.shape != (1,):
        raise ValueError(f"apply_fn must map (n, d) inputs to (n,) outputs, got shape {out.shape} for n=1")
    leaves = jax.tree_util.tree_leaves(params)
    jac = _jacobian_fn(apply_fn, jax.tree_util.tree_structure(params), tuple((l.shape, l.dtype) for l in leaves))
    blocks1 = [jac(flat, x1[i:i + batch_size]) for i in range(0, x1.shape[0], batch_size)]
    blocks2 = blocks1 if same else [jac(flat, x2[i:i + batch_size]) for i in range(0, x2.shape[0], batch_size)]
    return jnp.concatenate([jnp.concatenate([a @ b.T for b in blocks2], axis=1) for a in blocks1], axis=0)


@functools.lru_cache(maxsize=32)
def _jacobian_fn(apply_fn, treedef, leaf_specs):
    """Per-example parameter gradients, compiled once per model and parameter layout (chapters call this in loops)."""
    template = jax.tree_util.tree_unflatten(treedef, [jnp.zeros(shape, dtype) for shape, dtype in leaf_specs])
    _, unravel = ravel_pytree(template)

    def scalar(flat, x):
        return apply_fn(unravel(flat), x[None])[0]
    return jax.jit(jax.vmap(jax.grad(scalar), in_axes=(None, 0)))
