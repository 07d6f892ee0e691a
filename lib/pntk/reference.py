r"""The nets of :mod:`pntk.models` written in neural-tangents' ``stax``: kernel oracles, and what each checks.

This is the only module of ``pntk`` that imports neural-tangents. neural-tangents
0.6.5 imports ``neural_tangents.experimental`` (and through it TensorFlow) on
``import neural_tangents``; nothing used here needs it, and TensorFlow is not
installed (it would triple the environment and slow every import). So an empty
``neural_tangents.experimental`` module is registered before the first import.

The skip :math:`h*\sigma(Wx)+h` cannot be written with ``FanInSum`` (it
requires Gaussian inputs), so it is written as the Hadamard factor
:math:`1+\sigma(Wx)` (book chapter "The NTK of a polynomial net"). neural-tangents has
no layer for it, and :func:`pnn_stax` offers two ways to supply one:

* ``numerical=False`` (default): ``stax.Elementwise`` with closed forms written here of
  :math:`\beta=E[(1+\sigma(u))(1+\sigma(u'))]` and :math:`\kappa_0=E[\sigma'(u)\sigma'(u')]`.
  This path checks independently the product rule of the NTK (``FanInProd``), the first
  ReLU branch (neural-tangents' ``Relu``), the dense layers and the readout, and the
  composition of all of them; for degree :math:`N\ge2` the :math:`\beta` and :math:`\kappa_0`
  it uses are ours, so it does not check them (two transcriptions of one formula).
* ``numerical=True``: ``stax.ElementwiseNumerical(fn=lambda u: 1 + relu(u), deg=deg)``, in which
  neural-tangents computes the NNGP and the NTK of the factor itself, by bivariate
  Gauss-Hermite quadrature of the function and of its ``jax.grad``: no formula of ours
  enters, so :math:`\beta` and :math:`\kappa_0` are checked too. The kink of the ReLU makes
  the quadrature converge slowly: measured against ``pntk.kernels.pnn_ntk`` on points on and
  off :math:`\mathbb S^4` (norms up to 3), the largest error relative to :math:`\max|\Theta|` is,
  for degrees 2 / 3 / 4, about 3e-2 / 6e-2 / 8e-2 at ``deg=25``, 3e-3 / 6e-3 / 8e-3 at 50,
  2e-3 / 3e-3 / 4e-3 at 100, 1e-3 / 2e-3 / 2e-3 at 200 and 6e-4 / 9e-4 / 1.2e-3 at 400: it falls
  like :math:`\deg^{-0.85}`, so the agreement is a convergence (a wrong closed form would
  level off), not round-off (``tests/test_kernels.py``). Degree 1 has no such factor and
  agrees to round-off on both paths.

:func:`relu_mlp_stax` (the deep ReLU baselines) uses neural-tangents' own ``Dense`` and
``Relu`` layers only, with its ``b_std`` biases: every part of it is independent of ``pntk``.
"""

from __future__ import annotations

import sys
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate

__all__ = ["neural_tangents", "NUMERICAL_DEG", "pnn_stax", "pnn_kernel_nt", "relu_mlp_stax", "relu_mlp_kernel_nt"]


# neural-tangents 0.6.5 predates jax 0.5.3 and touches deprecated jax.core names, at import
# and inside kernel_fn; these warnings say nothing about the kernels' values.
_JAX_CORE_DEPRECATION = r"jax\.core\.\w+ is deprecated"
# FanInProd cannot check that its branches are independent; ours have independent weights by construction
_FANIN_WARNING = r".*FanIn. layers assume independent inputs"


def neural_tangents():
    """Import and return ``neural_tangents`` without TensorFlow (see the module docstring)."""
    sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JAX_CORE_DEPRECATION, category=DeprecationWarning)
        import neural_tangents as nt
    return nt


def _one_plus_relu_nngp(c12, v1, v2):
    r""":math:`E[(1+\sigma(u))(1+\sigma(u'))]` for Gaussian :math:`(u,u')` with covariance ``c12`` and variances ``v1, v2``."""
    s = jnp.sqrt(v1 * v2)
    ct = jnp.clip(c12 / s, -1.0, 1.0)
    th = jnp.arccos(ct)
    return 1 + jnp.sqrt(v1 / (2 * jnp.pi)) + jnp.sqrt(v2 / (2 * jnp.pi)) + s * (jnp.sin(th) + (jnp.pi - th) * ct) / (2 * jnp.pi)


def _relu_derivative_nngp(c12, v1, v2):
    r""":math:`E[\sigma'(u)\sigma'(u')]`."""
    return (jnp.pi - jnp.arccos(jnp.clip(c12 / jnp.sqrt(v1 * v2), -1.0, 1.0))) / (2 * jnp.pi)


# ElementwiseNumerical warns, when built, that deg controls its error and that the NTK uses jax.grad
_NUMERICAL_WARNINGS = (r"Numerical Activation Layer with fn", r"Using JAX autodiff to compute the `fn` derivative")


def _numerical(stax, fn, deg):
    with warnings.catch_warnings():
        for message in _NUMERICAL_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        return stax.ElementwiseNumerical(fn, deg=deg)


NUMERICAL_DEG = 100
"""Default Gauss-Hermite degree of the ``numerical=True`` path (relative error about 4e-3 up to degree 4)."""


def pnn_stax(degree: int, width: int, input_dim: int, *, skip: bool = True, activation: str = "relu",
             numerical: bool = False, deg: int = NUMERICAL_DEG):
    """``(init_fn, apply_fn, kernel_fn)`` of ``pntk.models.pnn(degree, width, ...)`` in neural-tangents.

    ``Dense(W_std)`` computes :math:`\\frac{W_{std}}{\\sqrt{n_{in}}}Wx`, so
    ``W_std = sqrt(input_dim)`` gives the paper's unscaled first layer and the
    readout ``W_std = sqrt(2)`` gives :math:`\\sqrt{2/m}\\,c^\\top h`. ``numerical=True``
    writes the factor :math:`1+\\phi(u)` as ``stax.ElementwiseNumerical(fn, deg)`` (neural-tangents
    integrates it by Gauss-Hermite quadrature of degree ``deg``, an integer in [2, 2000]) instead
    of ``stax.Elementwise`` with our closed forms; see the module docstring for what each path checks.
    """
    degree = _validate.positive_int(degree, "degree")
    width = _validate.positive_int(width, "width")
    input_dim = _validate.positive_int(input_dim, "input_dim")
    activation = _validate.activation(activation)
    numerical = _validate.boolean(numerical, "numerical")
    deg = _validate.positive_int(deg, "deg", minimum=2, maximum=2000)
    stax = neural_tangents().stax

    def layer():
        return stax.Dense(width, W_std=np.sqrt(input_dim))

    if activation == "relu":
        first = stax.serial(layer(), stax.Relu())
        if numerical:
            # jax.nn.relu: its jax.grad at 0 is 0, as in pntk.models (jnp.maximum's is 1/2)
            one_plus = _numerical(stax, lambda u: 1 + jax.nn.relu(u), deg)
        else:
            one_plus = stax.Elementwise(lambda u: 1 + jnp.maximum(u, 0), _one_plus_relu_nngp, _relu_derivative_nngp)
    else:
        first = layer()
        if numerical:
            one_plus = _numerical(stax, lambda u: 1 + u, deg)
        else:
            one_plus = stax.Elementwise(lambda u: 1 + u, lambda c, v1, v2: 1 + c, lambda c, v1, v2: jnp.ones_like(c))
    repeated = stax.serial(layer(), one_plus) if skip else first
    readout = stax.Dense(1, W_std=np.sqrt(2.0))
    if degree == 1:
        return stax.serial(first, readout)
    branches = [first] + [repeated] * (degree - 1)
    with warnings.catch_warnings():
        # FanInProd warns that it cannot check independence; the branches have independent weights
        warnings.filterwarnings("ignore", message=_FANIN_WARNING)
        product = stax.FanInProd()
    return stax.serial(stax.FanOut(degree), stax.parallel(*branches), product, readout)


def pnn_kernel_nt(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
                  bias: bool = False, which: str = "ntk", numerical: bool = False, deg: int = NUMERICAL_DEG):
    """neural-tangents' ``kernel_fn`` for the same model as ``pntk.kernels.pnn_ntk``.

    ``numerical=True``: the factor :math:`1+\\sigma` integrated by neural-tangents' Gauss-Hermite
    quadrature of degree ``deg`` (independent of our :math:`\\beta`, :math:`\\kappa_0`; accurate to
    about 4e-3 relative at the default degree, see the module docstring).
    """
    x1, x2 = _validate.point_pair(x1, x2)
    if which not in ("ntk", "nngp"):
        raise ValueError(f"which must be 'ntk' or 'nngp', got {which!r}")
    if _validate.boolean(bias, "bias"):
        x1 = jnp.concatenate([x1, jnp.ones((x1.shape[0], 1), x1.dtype)], axis=1)
        x2 = jnp.concatenate([x2, jnp.ones((x2.shape[0], 1), x2.dtype)], axis=1)
    _, _, kernel_fn = pnn_stax(degree, 1, x1.shape[1], skip=skip, activation=activation, numerical=numerical, deg=deg)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JAX_CORE_DEPRECATION, category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=_FANIN_WARNING)
        return kernel_fn(x1, x2, which)


def relu_mlp_stax(depth: int, width: int, input_dim: int, *, bias: bool = False):
    r"""``(init_fn, apply_fn, kernel_fn)`` of ``pntk.models.relu_mlp(depth, width, bias=...)`` in neural-tangents.

    ``stax.serial(Dense(m, W_std=sqrt(d), b_std), Relu(), [Dense(m, W_std=sqrt(2), b_std), Relu()] * (depth - 1),
    Dense(1, W_std=sqrt(2)))`` with ``b_std = 1`` (bias) or ``None``: ``Dense`` computes
    :math:`\frac{W_{std}}{\sqrt{n_{in}}}Wh + b_{std}\,b`, so this is
    :math:`u_1=W_1x+b_1`, :math:`u_l=\sqrt{2/m}\,W_l\sigma(u_{l-1})+b_l`,
    :math:`f=\sqrt{2/m}\,c^\top\sigma(u_L)` with every weight and bias :math:`\mathcal N(0,1)`.
    The first-layer bias is neural-tangents' own ``b_std`` (pntk appends an input coordinate
    instead), and the arc-cosine kernels are neural-tangents' ``Relu``: every part is independent.
    """
    depth = _validate.positive_int(depth, "depth")
    width = _validate.positive_int(width, "width")
    input_dim = _validate.positive_int(input_dim, "input_dim")
    b_std = 1.0 if _validate.boolean(bias, "bias") else None
    stax = neural_tangents().stax
    layers = [stax.Dense(width, W_std=np.sqrt(input_dim), b_std=b_std), stax.Relu()]
    for _ in range(depth - 1):
        layers += [stax.Dense(width, W_std=np.sqrt(2.0), b_std=b_std), stax.Relu()]
    return stax.serial(*layers, stax.Dense(1, W_std=np.sqrt(2.0)))


def relu_mlp_kernel_nt(x1, x2=None, depth: int = 1, *, bias: bool = False, which: str = "ntk"):
    """neural-tangents' analytic ``kernel_fn`` for the same net as ``pntk.kernels.relu_mlp_ntk``."""
    x1, x2 = _validate.point_pair(x1, x2)
    if which not in ("ntk", "nngp"):
        raise ValueError(f"which must be 'ntk' or 'nngp', got {which!r}")
    _, _, kernel_fn = relu_mlp_stax(depth, 1, x1.shape[1], bias=bias)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JAX_CORE_DEPRECATION, category=DeprecationWarning)
        return kernel_fn(x1, x2, which)
