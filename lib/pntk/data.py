r"""Inputs and targets used by the chapters, each drawn from an explicit PRNG key.

Samplers return ``(n, dim)`` float arrays. Targets map ``(n, d)`` inputs to
``(n,)`` values and are looked up by name with :func:`target`.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import eval_gegenbauer

from . import _validate

__all__ = [
    "sphere",
    "ball",
    "cube",
    "ray",
    "TARGETS",
    "target",
    "mape",
    "relative_error",
    "ZonalTarget",
    "zonal_harmonic_target",
    "harmonic_count",
]


def _sampler_args(key, n, dim):
    return _validate.prng_key(key), _validate.positive_int(n, "n"), _validate.positive_int(dim, "dim")


def sphere(key, n: int, dim: int) -> jax.Array:
    r"""``n`` points uniform on the unit sphere :math:`\mathbb S^{\dim-1}\subset\mathbb R^{\dim}` (Gaussian, normalised)."""
    key, n, dim = _sampler_args(key, n, dim)
    g = jax.random.normal(key, (n, dim), jnp.result_type(float))
    return g / jnp.linalg.norm(g, axis=1, keepdims=True)


def ball(key, n: int, dim: int, radius: float = 1.0) -> jax.Array:
    """``n`` points uniform in the ``dim``-ball of the given radius (direction uniform, radius ``r U^(1/dim)``)."""
    key, n, dim = _sampler_args(key, n, dim)
    radius = _validate.positive_float(radius, "radius")
    k_dir, k_rad = jax.random.split(key)
    r = radius * jax.random.uniform(k_rad, (n, 1), jnp.result_type(float)) ** (1.0 / dim)
    return r * sphere(k_dir, n, dim)


def cube(key, n: int, dim: int, half_width: float = 1.0) -> jax.Array:
    """``n`` points uniform in the cube :math:`[-a, a]^{\\dim}`, ``a = half_width``."""
    key, n, dim = _sampler_args(key, n, dim)
    half_width = _validate.positive_float(half_width, "half_width")
    return jax.random.uniform(key, (n, dim), jnp.result_type(float), -half_width, half_width)


def ray(direction, t) -> jax.Array:
    r"""Points :math:`t\,v/\|v\|` along the ray through ``direction`` for the scalars ``t``: shape ``(len(t), d)``."""
    v = np.asarray(direction, dtype=float)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)) or not np.any(v):
        raise ValueError(f"direction must be a non-zero finite vector of shape (d,), got {v!r}")
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ValueError("t must be a finite scalar or 1-D array")
    return jnp.asarray(t[:, None] * (v / np.linalg.norm(v))[None, :])


class _Target(NamedTuple):
    fn: Callable
    min_dim: int
    description: str


TARGETS = {
    "quadratic": _Target(lambda x: jnp.sum(x**2, axis=1), 1, r"$\|x\|^2$ (in 1-D, $x^2$)"),
    "cubic": _Target(lambda x: x[:, 0] ** 3 + x[:, 0] ** 2 - 5 * x[:, 0] + 5, 1,
                     r"$x^3+x^2-5x+5$ of the first coordinate (official 1-D experiment)"),
    "cos2x": _Target(lambda x: jnp.cos(2 * x[:, 0]), 1, r"$\cos(2x)$ of the first coordinate"),
    "cos": _Target(lambda x: jnp.cos(x[:, 0]), 1, r"$\cos(x)$ of the first coordinate"),
    "linear": _Target(lambda x: jnp.sum(x, axis=1), 1, r"$\sum_i x_i$"),
    "cubic_plus_linear": _Target(lambda x: x[:, 0] ** 3 + x[:, 1], 2, r"$x_1^3 + x_2$"),
}


def target(name: str) -> Callable:
    """The target function called ``name`` (one of :data:`TARGETS`), checking its inputs."""
    if not isinstance(name, str) or name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose one of {sorted(TARGETS)}")
    spec = TARGETS[name]

    def fn(x):
        x = _validate.points(x, "x")
        if x.shape[1] < spec.min_dim:
            raise ValueError(f"target {name!r} needs inputs of dimension >= {spec.min_dim}, got {x.shape[1]}")
        return spec.fn(x)

    fn.__name__ = name
    fn.__doc__ = spec.description
    return fn


def mape(y_true, y_pred) -> float:
    r"""Median absolute percentage error, :math:`100\,\mathrm{median}_i |y_i-\hat y_i|/|y_i|`.

    The extrapolation metric of Xu et al. and of the paper's code (a *median*,
    not a mean; official code LIONS-EPFL/pntk, ``mape()`` in ``extra/main_cos.py``). Points with :math:`y_i = 0` are refused.
    """
    y_true = np.asarray(_validate.vector(y_true, "y_true"))
    y_pred = np.asarray(_validate.vector(y_pred, "y_pred", length=y_true.shape[0]))
    if np.any(y_true == 0):
        raise ValueError("mape is undefined where y_true == 0; drop those points or shift the target")
    return float(100 * np.median(np.abs(y_true - y_pred) / np.abs(y_true)))


def relative_error(estimate, exact) -> float:
    r"""Relative Frobenius error :math:`\|A-B\|_F/\|B\|_F`."""
    a, b = np.asarray(estimate, dtype=float), np.asarray(exact, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"estimate and exact must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("estimate and exact are empty")
    for arr, name in ((a, "estimate"), (b, "exact")):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    if not np.any(b):
        raise ValueError("exact is zero; the relative error is undefined")
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


class ZonalTarget(NamedTuple):
    r"""A sum of zonal harmonics :math:`f^*(x)=\sum_{k}w\,P_k(\langle x,\zeta_k\rangle)` on :math:`\mathbb S^{d-1}`.

    With ``normalized=False`` (the official code LIONS-EPFL/pntk, ``spectral/main.py``)
    :math:`P_k=C_k^{(\alpha)}` is the unnormalised Gegenbauer polynomial, whose size grows
    fast with :math:`k` (:math:`C_{12}^{(4)}(1)=\binom{19}{12}=50\,388` in :math:`d=10`).
    With ``normalized=True`` it is the *equal-energy* harmonic
    :math:`\sqrt{N(d,k)}\,C_k^{(\alpha)}/C_k^{(\alpha)}(1)`, which for the correct
    :math:`\alpha=(d-2)/2` has :math:`\int P_k^2\,\mathrm d\omega = 1` for the
    uniform probability measure (addition theorem; book chapter "Learning speed per
    frequency").
    """

    degrees: tuple
    zetas: np.ndarray  # (K, d) unit vectors
    weight: float
    gegenbauer_parameter: float
    normalized: bool = False

    def harmonics(self, x) -> np.ndarray:
        r"""``(K, n)`` values :math:`P_k(\langle x_i,\zeta_k\rangle)` (see the class docstring for the two scalings)."""
        x = np.asarray(_validate.points(x, "x", dim=self.zetas.shape[1]))
        alpha = self.gegenbauer_parameter
        rows = []
        for k, z in zip(self.degrees, self.zetas):
            row = eval_gegenbauer(k, alpha, x @ z)
            if self.normalized:
                row = row * (math.sqrt(harmonic_count(x.shape[1], k)) / eval_gegenbauer(k, alpha, 1.0))
            rows.append(row)
        return np.stack(rows)

    def __call__(self, x) -> np.ndarray:
        return self.weight * self.harmonics(x).sum(axis=0)

    def components(self, x) -> np.ndarray:
        r"""``(K, n)`` rows :math:`w\,P_k(\langle x_i,\zeta_k\rangle)`: the target's terms, summing to :math:`f^*(x)`."""
        return self.weight * self.harmonics(x)

    def projections(self, x) -> np.ndarray:
        r"""``(K, n)`` rows :math:`P_k(\langle X,\zeta_k\rangle)/\sqrt n`: ``rows @ (y - f)`` is the paper's :math:`a_k(s)`."""
        h = self.harmonics(x)
        return h / np.sqrt(h.shape[1])


def harmonic_count(dim: int, k: int) -> int:
    r""":math:`N(d,k)`, the dimension of the degree-:math:`k` spherical harmonics on :math:`\mathbb S^{d-1}`.

    :math:`N(d,0)=1` and :math:`N(d,k)=\frac{2k+d-2}{k}\binom{k+d-3}{k-1}` for :math:`k\ge1`
    (the same number as :func:`pntk.spectra.harmonic_multiplicity`).
    """
    dim = _validate.positive_int(dim, "dim", minimum=2)
    k = _validate.positive_int(k, "k", minimum=0)
    if k == 0:
        return 1
    return (2 * k + dim - 2) * math.comb(k + dim - 3, k - 1) // k


def zonal_harmonic_target(key, dim: int, degrees=(1, 3, 4, 5, 8, 12), *, weight: float = 0.1,
                          gegenbauer_parameter: float | None = None, normalized: bool = False) -> ZonalTarget:
    r"""The spectral-bias target of the official code (LIONS-EPFL/pntk, ``spectral/main.py``), with random directions :math:`\zeta_k`.

    ``gegenbauer_parameter`` defaults to the correct :math:`(d-2)/2`, for which
    each term is a pure degree-:math:`k` spherical harmonic on :math:`\mathbb S^{d-1}`;
    the official code used :math:`(d-1)/2`. ``normalized=True`` scales every term to
    unit :math:`L^2` norm (equal energy per frequency, see :class:`ZonalTarget`); the
    official code does not.
    """
    key = _validate.prng_key(key)
    dim = _validate.positive_int(dim, "dim", minimum=2)
    degrees = tuple(_validate.positive_int(k, "degrees", minimum=0) for k in degrees)
    if not degrees:
        raise ValueError("degrees must contain at least one harmonic degree")
    alpha = (dim - 2) / 2 if gegenbauer_parameter is None else _validate.nonnegative_float(gegenbauer_parameter, "gegenbauer_parameter")
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)) \
            or not math.isfinite(weight):
        raise ValueError(f"weight must be a finite real number, got {weight!r}")
    normalized = _validate.boolean(normalized, "normalized")
    zetas = np.asarray(sphere(key, len(degrees), dim))
    return ZonalTarget(degrees, zetas, float(weight), float(alpha), normalized)
