r"""Spectral bias of polynomial nets: eigenvalues per frequency and learning speed per frequency.

Book chapters "Spectra of polynomial-net NTKs" (``book/spectra.md``) and "Learning speed
per frequency" (``book/learning_speed.md``); the experiment of the official code
LIONS-EPFL/pntk, ``spectral/main.py``.

On the sphere :math:`\mathbb S^{d-1}` the NTK of a bias-free polynomial net is a
dot-product kernel :math:`\Theta(x,x')=\Theta(t)`, :math:`t=x^\top x'`. By the
Funk-Hecke formula (:func:`pntk.spectra.sphere_eigenvalues`) its eigenfunctions
are the spherical harmonics, and all :math:`N(d,k)` harmonics of degree
:math:`k` share one eigenvalue :math:`\mu_k`. Mercer's theorem gives the trace

.. math:: \sum_{k\ge0} N(d,k)\,\mu_k = \Theta(1),

the value on the diagonal. Gradient descent on the mean squared error of the
linearised net (:func:`pntk.training.linearized_dynamics`) shrinks the
residual along the :math:`j`-th eigenvector of :math:`\Theta(X,X)` by
:math:`1-2\eta\lambda_j/n` per step; for many uniform points
:math:`\lambda_j/n\approx\mu_k`, so a degree-:math:`k` component decays like
:math:`(1-2\eta\mu_k)^s` after :math:`s` steps (:func:`predicted_residual`, :func:`learning_time`).

Everything here is a pure function of its arguments; the spectra are exact
(quadrature to round-off), not sampled.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import eval_gegenbauer

from . import _validate
from . import kernels as _kernels
from . import training as _training
from .kernels import pnn_ntk_cosine
from .spectra import harmonic_multiplicity, sphere_eigenvalues, sphere_legendre

__all__ = [
    "DEFAULT_NODES",
    "pnn_spectrum",
    "pnn_spectra",
    "multiplicities",
    "mercer_trace",
    "trace_fraction",
    "ParityExponents",
    "parity_exponents",
    "normalize_kernel",
    "predicted_residual",
    "learning_time",
    "gegenbauer_energy",
    "projection_dynamics",
    "component_coefficients",
]

DEFAULT_NODES = 512
r"""Gauss-Legendre nodes in the angle for the spectra of this module.

The PNN kernels are analytic functions of the angle :math:`\vartheta`
(:math:`\kappa_0` is linear in :math:`\vartheta`, :math:`\kappa_1` is
:math:`\sin\vartheta+(\pi-\vartheta)\cos\vartheta`), so 512 nodes already
integrate every :math:`\mu_k` with :math:`k\le 60` to round-off; numpy's node
computation costs :math:`O(n^3)`, which makes the 4000-node default of
:func:`pntk.spectra.sphere_eigenvalues` take seconds per call.
"""


def _max_k(max_k):
    return _validate.positive_int(max_k, "max_k", minimum=0)


def _spectrum_array(mu, name="mu") -> np.ndarray:
    arr = np.asarray(mu, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of eigenvalues mu_0, mu_1, ..., got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def pnn_spectrum(degree: int, dim: int, max_k: int, *, normalize: bool = False, bias: bool = False,
                 num_nodes: int = DEFAULT_NODES) -> np.ndarray:
    r"""Funk-Hecke eigenvalues :math:`\mu_0,\dots,\mu_{\max k}` of the degree-``degree`` PNN NTK on :math:`\mathbb S^{\dim-1}`.

    The kernel is :func:`pntk.kernels.pnn_ntk_cosine` (ReLU CCP with skip, book
    chapter "The NTK of a polynomial net"). With ``normalize=True`` it is divided by its diagonal value
    :math:`\Theta(1)` first (a kernel with unit diagonal, trace 1), which removes
    the growth of the kernel's scale with the degree and leaves only its shape.
    ``bias=True`` uses the net with a bias (a constant input coordinate); that
    kernel is still a function of :math:`t` on the sphere.
    """
    degree = _validate.positive_int(degree, "degree")
    dim = _validate.positive_int(dim, "dim", minimum=2)
    max_k = _max_k(max_k)
    normalize = _validate.boolean(normalize, "normalize")
    bias = _validate.boolean(bias, "bias")
    num_nodes = _validate.positive_int(num_nodes, "num_nodes", minimum=2)

    def kernel(t):
        return np.asarray(pnn_ntk_cosine(t, degree, bias=bias))

    mu = sphere_eigenvalues(kernel, dim, max_k, num_nodes=num_nodes)
    if normalize:
        mu = mu / float(kernel(np.ones(1))[0])
    return mu


@functools.lru_cache(maxsize=8)
def _angle_rule(num_nodes: int):
    nodes, weights = np.polynomial.legendre.leggauss(num_nodes)
    theta = 0.5 * math.pi * (nodes + 1.0)
    return np.cos(theta), np.sin(theta), 0.5 * math.pi * weights


def pnn_spectra(degrees, dim: int, max_k: int, *, normalize: bool = False,
                num_nodes: int = DEFAULT_NODES) -> np.ndarray:
    r""":func:`pnn_spectrum` for several degrees at once: a ``(len(degrees), max_k + 1)`` array.

    Same Funk-Hecke quadrature as :func:`pntk.spectra.sphere_eigenvalues`, but the
    nodes are computed once and cached, and the kernels are evaluated with the
    public kernel algebra of :mod:`pntk.kernels` (``dense(hadamard_power(relu,
    one_plus_relu, N - 1), 2)`` on :func:`~pntk.kernels.inputs_from_cosine`) without
    compiling one program per degree, which makes a table of spectra cheap.
    Bias-free nets only.
    """
    degrees = [_validate.positive_int(n, "degrees") for n in np.atleast_1d(degrees).tolist()]
    dim = _validate.positive_int(dim, "dim", minimum=2)
    max_k = _max_k(max_k)
    normalize = _validate.boolean(normalize, "normalize")
    num_nodes = _validate.positive_int(num_nodes, "num_nodes", minimum=2)
    t, sin, w = _angle_rule(num_nodes)
    t_all = np.concatenate([t, [1.0]])  # last entry: the diagonal Theta(1)
    k = _kernels.inputs_from_cosine(t_all)
    first, repeated = _kernels.relu(k), _kernels.one_plus_relu(k)
    values = np.stack([np.asarray(_kernels.dense(_kernels.hadamard_power(first, repeated, n - 1), 2.0).ntk)
                       for n in degrees])
    const = math.exp(math.lgamma(dim / 2) - math.lgamma((dim - 1) / 2)) / math.sqrt(math.pi)
    mu = const * (values[:, :-1] * (w * sin ** (dim - 2))) @ sphere_legendre(max_k, dim, t).T
    if normalize:
        mu = mu / values[:, -1:]
    return mu


def multiplicities(dim: int, max_k: int) -> np.ndarray:
    r"""``(max_k + 1,)`` array of :math:`N(d,k)`, the number of degree-:math:`k` spherical harmonics on :math:`\mathbb S^{d-1}`."""
    dim = _validate.positive_int(dim, "dim", minimum=2)
    max_k = _max_k(max_k)
    return np.array([harmonic_multiplicity(dim, k) for k in range(max_k + 1)], dtype=float)


def mercer_trace(mu, dim: int) -> float:
    r"""Partial Mercer trace :math:`\sum_{k\le K} N(d,k)\,\mu_k` of a spectrum ``mu`` = :math:`(\mu_0,\dots,\mu_K)`.

    For the full spectrum (:math:`K\to\infty`) it equals the kernel's diagonal
    value :math:`\Theta(1)`; the truncation error is the tail
    :math:`\sum_{k>K}N(d,k)\mu_k`.
    """
    mu = _spectrum_array(mu)
    return float(np.sum(multiplicities(dim, mu.size - 1) * mu))


def trace_fraction(mu, dim: int, min_k: int, *, total: float | None = None) -> float:
    r"""Fraction of the trace carried by harmonics of degree :math:`\ge` ``min_k``.

    .. math:: \frac{\sum_{k\ge k_0} N(d,k)\mu_k}{\sum_k N(d,k)\mu_k}

    ``total`` is the denominator; by default :math:`\Theta(1)` is not known here,
    so the partial trace of ``mu`` is used (pass the diagonal value to include
    the truncated tail, which then counts as high frequency).
    """
    mu = _spectrum_array(mu)
    min_k = _validate.positive_int(min_k, "min_k", minimum=0)
    weighted = multiplicities(dim, mu.size - 1) * mu
    denom = float(np.sum(weighted)) if total is None else _validate.positive_float(total, "total")
    if total is None:
        return float(np.sum(weighted[min_k:]) / denom)
    return float(1.0 - np.sum(weighted[:min_k]) / denom)


class ParityExponents(NamedTuple):
    """Decay exponents :math:`p` of :math:`\\mu_k\\asymp k^{-p}`, fitted on even and on odd :math:`k` separately.

    ``odd`` is ``nan`` when the odd eigenvalues in the range vanish (to the given
    relative tolerance), as for the bias-free two-layer ReLU NTK.
    """

    even: float
    odd: float


def parity_exponents(mu, k_min: int, k_max: int | None = None, *, zero_tol: float = 1e-10) -> ParityExponents:
    r"""Least-squares slopes of :math:`\log\mu_k` against :math:`\log k` on :math:`k\in[k_{\min},k_{\max}]`, even and odd :math:`k` apart.

    By Bietti & Bach (2021) an endpoint singularity
    :math:`c_{\pm1}(1\mp t)^{\nu}` of the kernel at :math:`t=\pm1` gives
    :math:`\mu_k\sim C\,(c_1+(-1)^k c_{-1})\,k^{-d-2\nu+1}`: the two parities can
    have different constants (or one can vanish), so they are fitted apart.
    Eigenvalues with :math:`|\mu_k|\le` ``zero_tol`` :math:`\cdot\max|\mu|` count as zero;
    a parity whose range holds any zero eigenvalue gets ``nan``.
    """
    mu = _spectrum_array(mu)
    k_min = _validate.positive_int(k_min, "k_min", minimum=1)
    k_max = mu.size - 1 if k_max is None else _validate.positive_int(k_max, "k_max", minimum=1, maximum=mu.size - 1)
    zero_tol = _validate.nonnegative_float(zero_tol, "zero_tol")
    ks = np.arange(k_min, k_max + 1)
    if ks.size < 4:
        raise ValueError(f"need at least two even and two odd k in [k_min, k_max], got [{k_min}, {k_max}]")
    scale = float(np.max(np.abs(mu)))
    out = []
    for parity in (0, 1):
        k = ks[ks % 2 == parity]
        vals = mu[k]
        if np.any(np.abs(vals) <= zero_tol * scale) or np.any(vals < 0):
            out.append(float("nan"))
            continue
        slope, _ = np.polyfit(np.log(k), np.log(vals), 1)
        out.append(float(-slope))
    return ParityExponents(*out)


def normalize_kernel(k) -> np.ndarray:
    r"""The kernel with unit diagonal, :math:`\Theta(x,x')/\sqrt{\Theta(x,x)\Theta(x',x')}`.

    On the sphere the diagonal of a dot-product kernel is the constant
    :math:`\Theta(1)`, so this is :math:`\Theta/\Theta(1)`: gradient descent
    with it at rate :math:`\eta` is gradient descent with the raw kernel at
    rate :math:`\eta/\Theta(1)`.
    """
    arr = np.asarray(_validate.square_matrix(k, "k"))
    diag = np.diag(arr)
    if np.any(diag <= 0):
        raise ValueError("k must have a positive diagonal to be normalised")
    s = np.sqrt(diag)
    return arr / s[:, None] / s[None, :]


def predicted_residual(mu, learning_rate: float, steps) -> np.ndarray:
    r"""Residual factor :math:`(1-2\eta\mu_k)^s` after :math:`s` steps, of each frequency, ``(len(steps), len(mu))``.

    The linearised dynamics :math:`r_{s+1}=(I-\frac{2\eta}{n}\Theta(X,X))r_s`
    (mean squared error, :mod:`pntk.training`) with the Gram eigenvalues
    :math:`\lambda/n` replaced by the operator eigenvalues :math:`\mu_k`.
    """
    mu = _spectrum_array(mu)
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    t = np.atleast_1d(np.asarray(steps))
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError("steps must be a non-negative integer or a 1-D array of them")
    return (1.0 - 2.0 * learning_rate * mu)[None, :] ** t[:, None].astype(float)


def learning_time(mu, learning_rate: float, *, factor: float = math.e) -> np.ndarray:
    r"""Steps for each frequency's residual to shrink by ``factor``: :math:`\lceil \ln(\text{factor}) / (-\ln|1-2\eta\mu_k|)\rceil`.

    For small :math:`\eta\mu_k` this is :math:`\approx\ln(\text{factor})/(2\eta\mu_k)`,
    so learning time is inversely proportional to the eigenvalue (Basri et al.
    2019: :math:`\mu_k\asymp k^{-d}` gives time :math:`\asymp k^d`). ``inf`` where
    :math:`\mu_k\le0` or the step diverges (:math:`|1-2\eta\mu_k|\ge1`).
    """
    mu = _spectrum_array(mu)
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    factor = _validate.positive_float(factor, "factor")
    if factor <= 1:
        raise ValueError(f"factor must be > 1 (the residual shrinks by it), got {factor}")
    q = np.abs(1.0 - 2.0 * learning_rate * mu)
    out = np.full(mu.shape, np.inf)
    ok = (mu > 0) & (q < 1)
    with np.errstate(divide="ignore"):
        out[ok] = np.ceil(math.log(factor) / -np.log(q[ok]))
    out[ok & (q == 0)] = 1.0
    return out


def gegenbauer_energy(k: int, alpha: float, dim: int, *, num_nodes: int = DEFAULT_NODES) -> np.ndarray:
    r"""How the zonal function :math:`g(x)=C_k^{(\alpha)}(\langle x,\zeta\rangle)` splits over spherical-harmonic degrees on :math:`\mathbb S^{\dim-1}`.

    Returns the fractions :math:`e_0,\dots,e_k` (summing to 1) of
    :math:`\|g\|^2_{L^2(\mathbb S^{d-1})}` in harmonics of degree :math:`j`.
    With the Funk-Hecke coefficients :math:`c_j` of :math:`g` (its "eigenvalues"
    as a kernel) :math:`g=\sum_j c_j N(d,j)P_j^{(d)}(\langle x,\zeta\rangle)`, and
    the degree-:math:`j` energy is :math:`N(d,j)c_j^2`. For the correct parameter
    :math:`\alpha=(d-2)/2` all energy is at :math:`j=k`; the official code's
    :math:`\alpha=(d-1)/2` leaks into :math:`j=k-2,k-4,\dots` (official code LIONS-EPFL/pntk, ``spectral/main.py``).
    """
    k = _validate.positive_int(k, "k", minimum=0)
    alpha = _validate.nonnegative_float(alpha, "alpha")
    dim = _validate.positive_int(dim, "dim", minimum=2)
    num_nodes = _validate.positive_int(num_nodes, "num_nodes", minimum=2)
    c = sphere_eigenvalues(lambda t: eval_gegenbauer(k, alpha, t), dim, k, num_nodes=num_nodes)
    energy = multiplicities(dim, k) * c**2
    return energy / energy.sum()


def projection_dynamics(k_train, y, projections, learning_rates, steps, *, f0_train=None) -> np.ndarray:
    r"""Residual projections :math:`a(s)=P\,(y-f_s(X))` of the linearised dynamics for several learning rates at once.

    The same closed form as :func:`pntk.training.linearized_dynamics`
    (:math:`y-f_s(X)=V q^s V^\top (y-f_0(X))`, :math:`q=1-2\eta\lambda/n`), but
    with one eigendecomposition of :math:`\Theta(X,X)` shared by every
    learning rate and every target column: a kernel normalised to unit diagonal
    at rate :math:`\eta` is the raw kernel at rate :math:`\eta/\Theta(1)`.

    Args:
      k_train: ``(n, n)`` kernel matrix.
      y: ``(n,)`` targets, or ``(n, T)`` for ``T`` targets.
      projections: ``(K, n)`` rows (e.g. ``ZonalTarget.projections(x)``), or
        ``(T, K, n)``, one set per target.
      learning_rates: ``(L,)`` positive step sizes.
      steps: ``(R,)`` non-negative integer step numbers.
      f0_train: optional ``(n,)`` outputs at initialisation (default 0).

    Returns:
      ``(L, R, K)`` array for one target, ``(L, T, R, K)`` for ``T`` targets.
    """
    k = np.asarray(_validate.square_matrix(k_train, "k_train"))
    n = k.shape[0]
    y = np.asarray(y, dtype=float)
    single = y.ndim == 1
    if single:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n or not np.all(np.isfinite(y)):
        raise ValueError(f"y must have shape ({n},) or ({n}, T) with finite values, got {y.shape}")
    p = np.asarray(projections, dtype=float)
    if p.ndim == 2:
        p = np.broadcast_to(p, (y.shape[1],) + p.shape)
    if p.ndim != 3 or p.shape[0] != y.shape[1] or p.shape[2] != n:
        raise ValueError(f"projections must have shape (K, {n}) or ({y.shape[1]}, K, {n}), got {np.shape(projections)}")
    rates = np.atleast_1d(np.asarray(learning_rates, dtype=float))
    if rates.ndim != 1 or np.any(~np.isfinite(rates)) or np.any(rates <= 0):
        raise ValueError("learning_rates must be a 1-D array of positive step sizes")
    t = np.atleast_1d(np.asarray(steps))
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError("steps must be a non-negative integer or a 1-D array of them")
    r0 = y if f0_train is None else y - np.asarray(_validate.vector(f0_train, "f0_train", length=n))[:, None]
    lam, v = _training._eigh_psd(k)
    coef = v.T @ r0  # (n, T)
    pv = np.einsum("tkn,nj->tkj", p, v)  # (T, K, n) projections in the eigenbasis
    out = np.empty((rates.size, y.shape[1], t.size, p.shape[1]))
    for i, eta in enumerate(rates):
        decay = _training._contraction_powers(lam, eta, t, n)
        out[i] = np.einsum("rj,jt,tkj->trk", decay, coef, pv)
    return out[:, 0] if single else out


def component_coefficients(harmonics, values) -> np.ndarray:
    r"""Least-squares coefficients :math:`c` of ``values`` on the rows of ``harmonics``: :math:`\min_c\|H^\top c - v\|`.

    ``harmonics`` is a ``(K, n)`` matrix of sampled functions (for example
    :meth:`pntk.data.ZonalTarget.components` at the points) and ``values`` is
    ``(n,)`` or ``(R, n)``. Unlike the inner products :math:`\langle h_k, v\rangle`
    of the paper's :math:`a_k`, the coefficients separate the components even
    where their sampled vectors are far from orthogonal: if
    :math:`v=\sum_k c_k h_k` exactly, the result is :math:`c`. Applied to a
    predictor on fresh points with :math:`h_k` the target's components there,
    :math:`c_k=1` means the component is learned and :math:`c_k=0` that nothing of
    it is predicted (book chapter "Learning speed per frequency").

    Returns ``(K,)`` or ``(R, K)``.
    """
    h = np.asarray(harmonics, dtype=float)
    if h.ndim != 2 or h.shape[0] > h.shape[1] or not np.all(np.isfinite(h)):
        raise ValueError(f"harmonics must be a finite (K, n) array with K <= n, got shape {h.shape}")
    v = np.asarray(values, dtype=float)
    if v.ndim not in (1, 2) or v.shape[-1] != h.shape[1] or not np.all(np.isfinite(v)):
        raise ValueError(f"values must be a finite array of shape ({h.shape[1]},) or (R, {h.shape[1]}), got {v.shape}")
    coef, *_ = np.linalg.lstsq(h.T, v.T, rcond=None)
    return coef.T


