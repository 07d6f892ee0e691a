r"""Other nets with Hadamard products: the NCP, the NCP with skip, and a modulated (gated) layer.

Book chapter "Other nets with Hadamard products" (Part III); the paper's claim
that its results extend to "other types of NNs-Hp" is in its abstract
(Wu et al. 2022), the polynomial nets are those of the official code
(LIONS-EPFL/pntk at 7a301db) and of the Pi-nets (Chrysos et al. 2020), and
the general theory is Tensor Programs (Yang 2020). Each architecture comes as
a finite-width model in the NTK
parametrisation (``(init_fn, apply_fn)``, as :mod:`pntk.models`), its exact
infinite-width kernel composed from the layers of :mod:`pntk.kernels`, the
same kernel as a function of the cosine on the sphere (for Funk-Hecke
spectra), and, where neural-tangents can express it, the same net in ``stax``.

The rule behind every kernel here (book chapter "The NTK of a polynomial net",
the two Hadamard lemmas; :func:`pntk.kernels.hadamard`):
for a Hadamard product :math:`g=\prod_n\phi_n` of branches with independent
parameters, with branch NNGPs :math:`K_n` and NTKs :math:`\Theta_n`,

.. math:: K_g=\prod_n K_n,\qquad \Theta_g=\sum_n\Theta_n\prod_{k\ne n}K_k .

Two more layers are needed, both elementary:

* :func:`bias` — a bias :math:`b=\sqrt v\,\tilde b` with trainable :math:`\tilde b\sim\mathcal N(0,1)`
  adds :math:`v` to the NNGP and to the NTK (a trainable :math:`b\sim\mathcal N(0,v)` itself
  would add :math:`v` to the NNGP but 1 to the NTK);
* :func:`add` — a sum of *uncorrelated* branches (each pair has a factor that is an
  independent, zero-mean linear layer) adds NNGPs and adds NTKs.

The architectures (all weights i.i.d. :math:`\mathcal N(0,1)`, first layer
without :math:`1/\sqrt d` as in the paper's code, hidden layers
:math:`\frac1{\sqrt m}S`, readout :math:`\sqrt{2/m}\,c^\top`):

* NCP, nested coupled CP decomposition of Chrysos et al. (Pi-nets), with
  :math:`x_0=0`,

  .. math:: x_n=\phi(A_nz)*\Bigl(\tfrac1{\sqrt m}S_nx_{n-1}+b_n\Bigr),\quad n=1,\dots,N,\qquad f=\sqrt{2/m}\,c^\top x_N ;

  the bias :math:`b_n` plays the role of :math:`B_n^\top b_n` in Π-nets, and
  :math:`x_1=\phi(A_1z)*b_1`.
* NCP with skip: :math:`x_n=\phi(A_nz)*(\frac1{\sqrt m}S_nx_{n-1}+b_n)+\frac1{\sqrt m}V_nx_{n-1}`.
* Modulated layer (StyleGAN-style modulation, gated linear units): a ReLU
  feature map :math:`h` of depth :math:`L` times a gate :math:`g(z)=Uz+b`
  (``gate="affine"``) or :math:`\sigma(Uz+b)` (``gate="relu"``),
  :math:`f=\sqrt{2/m}\,c^\top(h*g)`, with
  :math:`h_1=\sigma(W_1z)`, :math:`h_l=\sigma(\sqrt{2/m}\,W_lh_{l-1})`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, data
from .kernels import (Kernel, _symmetrize, dense, empirical_ntk, hadamard, inputs, inputs_from_cosine, relu)
from .models import Model

__all__ = [
    "bias",
    "add",
    "zeros_like",
    "GATES",
    "ncp_from_inputs",
    "modulated_from_inputs",
    "ncp",
    "modulated",
    "ncp_kernel",
    "ncp_ntk",
    "ncp_ntk_cosine",
    "modulated_kernel",
    "modulated_ntk",
    "modulated_ntk_cosine",
    "ncp_stax",
    "modulated_stax",
    "product_stax",
    "kernel_nt",
    "shrink_params",
    "ntk_error_vs_width",
    "kernel_regressor",
]

GATES = ("affine", "relu")
_MAX_DEGREE = 64


# ----------------------------------------------------------------------------
# two more kernel layers
# ----------------------------------------------------------------------------

def bias(k: Kernel, variance: float = 1.0) -> Kernel:
    r"""Add a bias :math:`b=\sqrt v\,\tilde b`, :math:`\tilde b\sim\mathcal N(0,1)` trainable, to every unit of a pre-activation layer.

    :math:`\E[(u+b)(u'+b)]=K+v` and the gradient in the trainable
    :math:`\tilde b` is :math:`\sqrt v`, so NNGP :math:`K+v`, NTK
    :math:`\Theta+v`, and both diagonals grow by :math:`v`. (Were
    :math:`b\sim\mathcal N(0,v)` itself the trainable parameter, its gradient
    would be 1 and the NTK would grow by 1, not :math:`v`; at the default
    ``variance=1`` the two agree.) ``bias(inputs(x, x'))`` is the input kernel
    with a constant coordinate appended (the "bias trick").
    """
    v = _validate.nonnegative_float(variance, "variance")
    return Kernel(k.nngp + v, k.ntk + v, k.var1 + v, k.var2 + v)


def zeros_like(k: Kernel) -> Kernel:
    r"""The kernel of the zero layer :math:`x_0=0` (NNGP and NTK 0), shaped like ``k``."""
    z = jnp.zeros_like(k.nngp)
    return Kernel(z, z, jnp.zeros_like(k.var1), jnp.zeros_like(k.var2))


def add(*branches: Kernel) -> Kernel:
    r"""Sum of uncorrelated branches: :math:`K=\sum_nK_n`, :math:`\Theta=\sum_n\Theta_n`.

    Valid when every cross term :math:`\E[\phi_n(x)\phi_k(x')]` and
    :math:`\E\langle\nabla\phi_n(x),\nabla\phi_k(x')\rangle` (:math:`n\ne k`)
    vanishes, e.g. when of each pair one branch is an independent zero-mean
    linear layer :math:`\frac1{\sqrt m}Vh` or a product with such a factor
    (the skip :math:`V_nx_{n-1}` of the NCP-Skip next to the product
    :math:`\phi(A_nz)*(S_nx_{n-1}+b_n)`). This is neural-tangents'
    ``FanInSum``, which however accepts only Gaussian branches.
    """
    if not branches:
        raise ValueError("add needs at least one branch")
    nngp, ntk, var1, var2 = branches[0]
    for b in branches[1:]:
        nngp, ntk, var1, var2 = nngp + b.nngp, ntk + b.ntk, var1 + b.var1, var2 + b.var2
    return Kernel(nngp, ntk, var1, var2)


# ----------------------------------------------------------------------------
# the architectures as maps (input kernel) -> (output kernel)
# ----------------------------------------------------------------------------

def ncp_from_inputs(k: Kernel, degree: int, *, skip: bool = False, activation: str = "relu") -> Kernel:
    r"""Kernel of :func:`ncp` given the kernel ``k`` of a first-layer pre-activation :math:`Az`.

    The recursion, one line per layer: with :math:`x_0=0`,
    ``inject = phi(k)``, ``pre = bias(dense(x_{n-1}))``,
    ``x_n = hadamard(inject, pre)`` (plus ``dense(x_{n-1})`` with ``skip``),
    readout ``dense(x_N, 2)``. Explicitly, with :math:`P` the NNGP and
    :math:`\Theta^P` the NTK of the injected factor,

    .. math::
       \Sigma_n = P\,(\Sigma_{n-1}+1) + s\,\Sigma_{n-1},\qquad
       \Theta_n = \Theta^P(\Sigma_{n-1}+1) + P\,(\Sigma_{n-1}+\Theta_{n-1}+1) + s\,(\Sigma_{n-1}+\Theta_{n-1}),

    :math:`s=1` with skip, 0 without, :math:`\Sigma_0=\Theta_0=0`; the NTK is
    :math:`2(\Sigma_N+\Theta_N)`.
    """
    inject = relu(k) if activation == "relu" else k

    def layer(_, h):
        product = hadamard(inject, bias(dense(h)))
        return add(product, dense(h)) if skip else product

    # a traced loop: the degree may be a traced integer, so one compiled kernel serves every degree
    return dense(jax.lax.fori_loop(0, degree, layer, zeros_like(k)), scale=2.0)


def modulated_from_inputs(k: Kernel, *, depth: int = 2, gate: str = "affine") -> Kernel:
    r"""Kernel of :func:`modulated` given the kernel ``k`` of a first-layer pre-activation.

    Feature map ``h = relu(k)``, then ``depth - 1`` times ``relu(dense(h, 2))``;
    gate ``bias(k)`` (affine) or ``relu(bias(k))``; readout
    ``dense(hadamard(h, gate), 2)``. For the affine gate and depth 1 the
    branches are :math:`(\kappa_1, t\kappa_0)` and :math:`(t+1, t+1)`, so

    .. math:: \Theta = 2\bigl[\kappa_1(t+1) + t\kappa_0(t+1) + \kappa_1(t+1)\bigr]
       = 2(t+1)(2\kappa_1+t\kappa_0),\quad t=x^\top x' .
    """
    h = relu(k)
    for _ in range(depth - 1):
        h = relu(dense(h, scale=2.0))
    g = bias(k)
    if gate == "relu":
        g = relu(g)
    return dense(hadamard(h, g), scale=2.0)


# ----------------------------------------------------------------------------
# finite-width models (NTK parametrisation, explicit keys)
# ----------------------------------------------------------------------------

def _gate(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"gate must be one of {GATES}, got {value!r}")
    if value not in GATES:
        raise ValueError(f"gate must be one of {GATES}, got {value!r}")
    return value


def _degree(degree) -> int:
    return _validate.positive_int(degree, "degree", maximum=_MAX_DEGREE)


def _check_x(x, fan_in):
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[1] != fan_in:
        raise ValueError(f"x must have shape (n, {fan_in}) for these params, got {x.shape}")
    return x


def ncp(degree: int, width: int, *, skip: bool = False, activation: str = "relu") -> Model:
    r"""The NCP polynomial net (nested coupled CP decomposition) of degree ``degree`` and width ``width``.

    :math:`x_0=0`, :math:`x_n=\phi(A_nz)*(\frac1{\sqrt m}S_nx_{n-1}+b_n)`
    (:math:`+\frac1{\sqrt m}V_nx_{n-1}` with ``skip``), :math:`f=\sqrt{2/m}\,c^\top x_N`
    (the NCP of the Pi-nets, Chrysos et al. 2020, with ReLU :math:`\phi` or
    the identity). All
    parameters i.i.d. :math:`\mathcal N(0,1)`.

    Returns:
      :class:`pntk.models.Model`; ``init_fn(key, input_dim)`` gives
      ``{"A": (N, m, d), "b": (N, m), "S": (N-1, m, m), "c": (m,)}`` and, with
      ``skip``, ``"V": (N-1, m, m)`` (:math:`S_1`, :math:`V_1` act on
      :math:`x_0=0` and are left out).
    """
    return _ncp(_degree(degree), _validate.positive_int(width, "width"), _validate.boolean(skip, "skip"),
                _validate.activation(activation))


@functools.lru_cache(maxsize=64)
def _ncp(degree, width, skip, activation):
    phi = jax.nn.relu if activation == "relu" else (lambda u: u)

    def init_fn(key, input_dim: int):
        key = _validate.prng_key(key)
        input_dim = _validate.positive_int(input_dim, "input_dim")
        k_a, k_b, k_s, k_v, k_c = jax.random.split(key, 5)
        dtype = jnp.result_type(float)
        params = {
            "A": jax.random.normal(k_a, (degree, width, input_dim), dtype),
            "b": jax.random.normal(k_b, (degree, width), dtype),
            "S": jax.random.normal(k_s, (degree - 1, width, width), dtype),
            "c": jax.random.normal(k_c, (width,), dtype),
        }
        if skip:
            params["V"] = jax.random.normal(k_v, (degree - 1, width, width), dtype)
        return params

    def apply_fn(params, x):
        x = _check_x(x, params["A"].shape[2])
        if params["A"].shape[:2] != (degree, width):
            raise ValueError(f"params['A'] has shape {params['A'].shape}; this model needs ({degree}, {width}, d)")
        scale = 1.0 / jnp.sqrt(width)
        h = None
        for n in range(degree):
            inject = phi(x @ params["A"][n].T)
            pre = params["b"][n] if h is None else scale * h @ params["S"][n - 1].T + params["b"][n]
            new = inject * pre
            if skip and h is not None:
                new = new + scale * h @ params["V"][n - 1].T
            h = new
        return jnp.sqrt(2.0 / width) * (h @ params["c"])

    return Model(init_fn, apply_fn)


def modulated(width: int, *, depth: int = 2, gate: str = "affine") -> Model:
    r"""A ReLU feature map of depth ``depth`` modulated (gated) by a function of the input.

    :math:`h_1=\sigma(W_1z)`, :math:`h_l=\sigma(\sqrt{2/m}\,W_lh_{l-1})`,
    :math:`g=Uz+b` (``gate="affine"``, StyleGAN-style modulation) or
    :math:`g=\sigma(Uz+b)` (``gate="relu"``, a ReLU-gated linear unit),
    :math:`f=\sqrt{2/m}\,c^\top(h_L*g)`. All parameters i.i.d. :math:`\mathcal N(0,1)`.

    Returns:
      :class:`pntk.models.Model`; ``init_fn(key, input_dim)`` gives
      ``{"W1": (m, d), "W": (L-1, m, m), "U": (m, d), "b": (m,), "c": (m,)}``.
    """
    return _modulated(_validate.positive_int(width, "width"), _validate.positive_int(depth, "depth"), _gate(gate))


@functools.lru_cache(maxsize=64)
def _modulated(width, depth, gate):
    def init_fn(key, input_dim: int):
        key = _validate.prng_key(key)
        input_dim = _validate.positive_int(input_dim, "input_dim")
        k1, kw, ku, kb, kc = jax.random.split(key, 5)
        dtype = jnp.result_type(float)
        return {
            "W1": jax.random.normal(k1, (width, input_dim), dtype),
            "W": jax.random.normal(kw, (depth - 1, width, width), dtype),
            "U": jax.random.normal(ku, (width, input_dim), dtype),
            "b": jax.random.normal(kb, (width,), dtype),
            "c": jax.random.normal(kc, (width,), dtype),
        }

    def apply_fn(params, x):
        x = _check_x(x, params["W1"].shape[1])
        if params["W1"].shape[0] != width:
            raise ValueError(f"params['W1'] has shape {params['W1'].shape}; this model needs ({width}, d)")
        h = jax.nn.relu(x @ params["W1"].T)
        for l in range(depth - 1):
            h = jax.nn.relu(jnp.sqrt(2.0 / width) * h @ params["W"][l].T)
        g = x @ params["U"].T + params["b"]
        if gate == "relu":
            g = jax.nn.relu(g)
        return jnp.sqrt(2.0 / width) * ((h * g) @ params["c"])

    return Model(init_fn, apply_fn)


# ----------------------------------------------------------------------------
# exact kernels of the finite-width models, between point sets and on the sphere
# ----------------------------------------------------------------------------

@functools.partial(jax.jit, static_argnames=("skip", "activation"))
def _ncp_jit(x1, x2, degree, skip, activation):
    return ncp_from_inputs(inputs(x1, x2), degree, skip=skip, activation=activation)


@functools.partial(jax.jit, static_argnames=("depth", "gate"))
def _modulated_jit(x1, x2, depth, gate):
    return modulated_from_inputs(inputs(x1, x2), depth=depth, gate=gate)


def _on_points(fn, x1, x2, **opts) -> Kernel:
    symmetric = x2 is None or x2 is x1
    x1, x2 = _validate.point_pair(x1, None if symmetric else x2)
    k = fn(x1, x2, **opts)
    if symmetric:
        k = k._replace(nngp=_symmetrize(k.nngp), ntk=_symmetrize(k.ntk))
    return k


def ncp_kernel(x1, x2=None, degree: int = 1, *, skip: bool = False, activation: str = "relu") -> Kernel:
    r"""NNGP and NTK of :func:`ncp` as width :math:`\to\infty` (:func:`ncp_from_inputs`), for inputs anywhere in :math:`\mathbb R^d`.

    Args:
      x1: ``(n1, d)`` inputs; x2: ``(n2, d)`` inputs or ``None`` for ``x1``.
      degree: :math:`N\ge1`, the number of Hadamard products (the degree along rays).
      skip: NCP-Skip (:math:`+V_nx_{n-1}`).
      activation: ``"relu"`` or ``"identity"`` on the injected factor :math:`\phi(A_nz)`.
    """
    return _on_points(_ncp_jit, x1, x2, degree=_degree(degree), skip=_validate.boolean(skip, "skip"),
                      activation=_validate.activation(activation))


def ncp_ntk(x1, x2=None, degree: int = 1, *, skip: bool = False, activation: str = "relu") -> jax.Array:
    """The NTK of :func:`ncp_kernel`."""
    return ncp_kernel(x1, x2, degree, skip=skip, activation=activation).ntk


def modulated_kernel(x1, x2=None, *, depth: int = 2, gate: str = "affine") -> Kernel:
    r"""NNGP and NTK of :func:`modulated` as width :math:`\to\infty` (:func:`modulated_from_inputs`)."""
    return _on_points(_modulated_jit, x1, x2, depth=_validate.positive_int(depth, "depth"), gate=_gate(gate))


def modulated_ntk(x1, x2=None, *, depth: int = 2, gate: str = "affine") -> jax.Array:
    """The NTK of :func:`modulated_kernel`."""
    return modulated_kernel(x1, x2, depth=depth, gate=gate).ntk


def _cosines(t):
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("t contains non-finite values; cosines must lie in [-1, 1]")
    if np.any(np.abs(arr) > 1 + 1e-12):
        raise ValueError("t must contain cosines in [-1, 1]")
    return jnp.clip(jnp.asarray(arr), -1.0, 1.0)


@functools.partial(jax.jit, static_argnames=("skip", "activation"))
def _ncp_cosine_jit(t, degree, skip, activation):
    return ncp_from_inputs(inputs_from_cosine(t), degree, skip=skip, activation=activation).ntk


@functools.partial(jax.jit, static_argnames=("depth", "gate"))
def _modulated_cosine_jit(t, depth, gate):
    return modulated_from_inputs(inputs_from_cosine(t), depth=depth, gate=gate).ntk


def ncp_ntk_cosine(t, degree: int = 1, *, skip: bool = False, activation: str = "relu") -> jax.Array:
    r"""The NTK of :func:`ncp` between unit vectors with inner product ``t``: a dot-product kernel on the sphere."""
    return _ncp_cosine_jit(_cosines(t), _degree(degree), _validate.boolean(skip, "skip"),
                           _validate.activation(activation))


def modulated_ntk_cosine(t, *, depth: int = 2, gate: str = "affine") -> jax.Array:
    r"""The NTK of :func:`modulated` between unit vectors with inner product ``t``."""
    return _modulated_cosine_jit(_cosines(t), _validate.positive_int(depth, "depth"), _gate(gate))


# ----------------------------------------------------------------------------
# the same nets in neural-tangents (an independent oracle)
# ----------------------------------------------------------------------------

def _stax():
    from .reference import neural_tangents

    return neural_tangents().stax


def _product(stax):
    from .reference import _FANIN_WARNING

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_FANIN_WARNING)
        return stax.FanInProd()


def ncp_stax(degree: int, width: int, input_dim: int, *, activation: str = "relu"):
    r"""``(init_fn, apply_fn, kernel_fn)`` of :func:`ncp` (without skip) in neural-tangents' ``stax``.

    :math:`x_n` = ``serial(FanOut(2), parallel(inject_n, serial(x_{n-1}, Dense(m, 1, b_std=1))), FanInProd())``
    with ``inject_n = serial(Dense(m, W_std=sqrt(d)), Relu())``; :math:`x_1` uses
    ``Dense(m, W_std=0, b_std=1)`` (the bias alone) for the second factor. The
    NCP-Skip cannot be written: ``FanInSum`` needs Gaussian branches and the
    product is not Gaussian (``FanInSum`` raises ``NotImplementedError``).
    """
    degree = _degree(degree)
    width = _validate.positive_int(width, "width")
    input_dim = _validate.positive_int(input_dim, "input_dim")
    activation = _validate.activation(activation)
    stax = _stax()
    return stax.serial(*_ncp_layers(stax, degree, width, input_dim, activation))


def _ncp_layers(stax, degree, width, input_dim, activation):
    def inject():
        layer = stax.Dense(width, W_std=np.sqrt(input_dim))
        return stax.serial(layer, stax.Relu()) if activation == "relu" else layer

    h = stax.Dense(width, W_std=0.0, b_std=1.0)  # x_0 = 0: S_1 x_0 + b_1 = b_1
    for n in range(degree):
        x_n = stax.serial(stax.FanOut(2), stax.parallel(inject(), h), _product(stax))
        h = stax.serial(x_n, stax.Dense(width, W_std=1.0, b_std=1.0)) if n < degree - 1 else x_n
    return [h, stax.Dense(1, W_std=np.sqrt(2.0))]


def modulated_stax(width: int, input_dim: int, *, depth: int = 2, gate: str = "affine"):
    r"""``(init_fn, apply_fn, kernel_fn)`` of :func:`modulated` in neural-tangents' ``stax``."""
    width = _validate.positive_int(width, "width")
    input_dim = _validate.positive_int(input_dim, "input_dim")
    depth = _validate.positive_int(depth, "depth")
    gate = _gate(gate)
    stax = _stax()
    feature = [stax.Dense(width, W_std=np.sqrt(input_dim)), stax.Relu()]
    for _ in range(depth - 1):
        feature += [stax.Dense(width, W_std=np.sqrt(2.0)), stax.Relu()]
    g = [stax.Dense(width, W_std=np.sqrt(input_dim), b_std=1.0)] + ([stax.Relu()] if gate == "relu" else [])
    return product_stax([stax.serial(*feature), stax.serial(*g)])


def product_stax(branches):
    r"""``serial(FanOut(k), parallel(*branches), FanInProd(), Dense(1, W_std=sqrt(2)))``: the readout of a Hadamard product of ``branches``."""
    branches = list(branches)
    if not branches:
        raise ValueError("branches must hold at least one stax layer")
    stax = _stax()
    return stax.serial(stax.FanOut(len(branches)), stax.parallel(*branches), _product(stax),
                       stax.Dense(1, W_std=np.sqrt(2.0)))


def kernel_nt(net, x1, x2=None, which: str = "ntk"):
    """neural-tangents' analytic kernel of the ``stax`` triple ``net`` (warnings about FanIn and jax.core silenced)."""
    from .reference import _FANIN_WARNING, _JAX_CORE_DEPRECATION

    if which not in ("ntk", "nngp"):
        raise ValueError(f"which must be 'ntk' or 'nngp', got {which!r}")
    x1, x2 = _validate.point_pair(x1, x2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JAX_CORE_DEPRECATION, category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=_FANIN_WARNING)
        return net[2](x1, x2, which)


# ----------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------

# axes of each parameter of ncp and modulated that run over the hidden units
_UNIT_AXES = {"A": (1,), "b": (-1,), "S": (1, 2), "V": (1, 2), "c": (0,), "W1": (0,), "W": (1, 2), "U": (0,)}


def shrink_params(params: dict, width: int) -> dict:
    r"""The first ``width`` units of the parameters of a wider :func:`ncp` or :func:`modulated`.

    Every entry is i.i.d. :math:`\mathcal N(0,1)`, so the slice is itself a
    correctly initialised net of width ``width`` (nested nets: one random draw
    serves every width, and only one draw is compiled).
    """
    width = _validate.positive_int(width, "width")
    if not isinstance(params, dict) or not set(params) <= set(_UNIT_AXES):
        raise TypeError(f"params must be a dict of ncp or modulated parameters (keys in {sorted(_UNIT_AXES)})")
    out = {}
    for name, value in params.items():
        index = [slice(None)] * value.ndim
        for axis in _UNIT_AXES[name]:
            if value.shape[axis] < width:
                raise ValueError(f"width {width} exceeds the {value.shape[axis]} units of params[{name!r}]")
            index[axis] = slice(0, width)
        out[name] = value[tuple(index)]
    return out


def ntk_error_vs_width(make_model: Callable, exact, x, widths, *, key, num_seeds: int = 2,
                       batch_size: int = 4) -> np.ndarray:
    r"""Relative Frobenius error :math:`\|\hat\Theta_m-\Theta\|_F/\|\Theta\|_F` of the autodiff NTK at initialisation.

    Args:
      make_model: ``width -> (init_fn, apply_fn)`` of :func:`ncp` or :func:`modulated`,
        e.g. ``lambda m: ncp(3, m)``.
      exact: ``(n, n)`` exact NTK of ``x``.
      x: ``(n, d)`` inputs.
      widths: 1-D sequence of widths.
      key: JAX PRNG key; seed ``s`` draws the widest net with ``fold_in(key, s)``, and
        the narrower ones are its first units (:func:`shrink_params`).
      num_seeds: independent initialisations per width.
      batch_size: points per Jacobian block of :func:`pntk.kernels.empirical_ntk`. The
        default 4 keeps the peak memory of the chapter's width-1024 checks within a Binder
        session (12 points: 1.15 GB for the process against 1.52 GB with blocks of 16).

    Returns:
      ``(len(widths), num_seeds)`` errors.
    """
    if not callable(make_model):
        raise TypeError("make_model must be callable: width -> (init_fn, apply_fn)")
    x = _validate.points(x, "x")
    exact = np.asarray(_validate.square_matrix(exact, "exact", size=x.shape[0]))
    widths = [_validate.positive_int(int(m), "widths") for m in np.atleast_1d(widths)]
    key = _validate.prng_key(key)
    num_seeds = _validate.positive_int(num_seeds, "num_seeds")
    errors = np.empty((len(widths), num_seeds))
    init_fn, _ = make_model(max(widths))
    for s in range(num_seeds):
        big = init_fn(jax.random.fold_in(key, s), x.shape[1])
        for j, m in enumerate(widths):
            _, apply_fn = make_model(m)
            params = shrink_params(big, m)
            errors[j, s] = data.relative_error(empirical_ntk(apply_fn, params, x, batch_size=batch_size), exact)
    return errors


def kernel_regressor(ntk_fn: Callable, x_train, y_train, *, ridge: float = 0.0) -> Callable:
    r"""Kernel regression :math:`f(x)=\Theta(x,X)(\Theta(X,X)+\delta I)^{-1}y` with any kernel ``ntk_fn(x1, x2)``.

    The predictor of a wide net trained to convergence by gradient flow from
    a zero-output initialisation (book chapter "Training a wide polynomial net is kernel
    regression"). Returns ``predict(x) -> (n,)``
    with ``predict.dual`` the dual coefficients
    :math:`\mathbf v=(\Theta(X,X)+\delta I)^{-1}y` (:math:`\delta` = ``ridge``), as
    :func:`pntk.extrapolation.ntk_regressor`.
    """
    if not callable(ntk_fn):
        raise TypeError("ntk_fn must be callable ntk_fn(x1, x2) -> (n1, n2)")
    x_train = _validate.points(x_train, "x_train")
    y_train = np.asarray(_validate.vector(y_train, "y_train", length=x_train.shape[0]))
    ridge = _validate.nonnegative_float(ridge, "ridge")
    k = np.asarray(ntk_fn(x_train, x_train))
    k = 0.5 * (k + k.T)
    dual = np.linalg.solve(k + ridge * np.eye(k.shape[0]), y_train)

    def predict(x):
        x = _validate.points(x, "x", dim=x_train.shape[1])
        return np.asarray(ntk_fn(x, x_train)) @ dual

    predict.dual = dual
    return predict
