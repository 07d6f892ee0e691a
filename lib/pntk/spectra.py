r"""Eigenvalues of dot-product kernels on the sphere, exact (Funk-Hecke) and sampled (Gram matrices).

A kernel :math:`k(x,x')=k(x^\top x')` on :math:`\mathbb S^{d-1}` with the uniform
probability measure is diagonalised by spherical harmonics; all :math:`N(d,k)`
harmonics of degree :math:`k` share the eigenvalue (Funk-Hecke formula; Atkinson & Han 2012, chapter 2; book chapter "Spectra of
polynomial-net NTKs")

.. math::
   \mu_k = \frac{\Gamma(d/2)}{\sqrt\pi\,\Gamma(\frac{d-1}{2})}
   \int_0^\pi k(\cos\vartheta)\,P_k^{(d)}(\cos\vartheta)\,\sin^{d-2}\vartheta\,d\vartheta ,

where :math:`P_k^{(d)}=C_k^{(\alpha)}/C_k^{(\alpha)}(1)` is the Legendre
polynomial of dimension :math:`d`, a normalised Gegenbauer polynomial with
parameter :math:`\alpha=(d-2)/2` (not :math:`(d-1)/2`, the official code's choice).
"""

from __future__ import annotations

import functools
from math import comb, lgamma, pi, sqrt, exp
from typing import Callable

import numpy as np
from scipy.special import roots_legendre

from . import _validate

__all__ = [
    "sphere_legendre",
    "harmonic_multiplicity",
    "sphere_eigenvalues",
    "expand_by_multiplicity",
    "gram_eigenvalues",
    "decay_exponent",
]


def sphere_legendre(max_k: int, dim: int, t) -> np.ndarray:
    r"""Legendre polynomials of dimension ``dim``, :math:`P_0^{(d)},\dots,P_{\max k}^{(d)}` at ``t``, with :math:`P_k^{(d)}(1)=1`.

    Three-term recurrence (Atkinson & Han, *Spherical Harmonics and
    Approximations on the Unit Sphere*, eq. 2.84), stable on [-1, 1]:
    :math:`(k+d-2)P_{k+1} = (2k+d-2)\,t\,P_k - k\,P_{k-1}`.
    Returns an array of shape ``(max_k + 1,) + t.shape``.
    """
    max_k = _validate.positive_int(max_k, "max_k", minimum=0)
    dim = _validate.positive_int(dim, "dim", minimum=2)
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(np.abs(t) > 1 + 1e-12):
        raise ValueError("t must contain finite cosines in [-1, 1]")
    out = np.empty((max_k + 1,) + t.shape)
    out[0] = 1.0
    if max_k >= 1:
        out[1] = t
    for k in range(1, max_k):
        out[k + 1] = ((2 * k + dim - 2) * t * out[k] - k * out[k - 1]) / (k + dim - 2)
    return out


def harmonic_multiplicity(dim: int, k: int) -> int:
    r"""Number :math:`N(d,k)` of linearly independent spherical harmonics of degree ``k`` on :math:`\mathbb S^{d-1}`.

    :math:`N(d,0)=1`, :math:`N(d,k)=\frac{2k+d-2}{k}\binom{k+d-3}{k-1}` (:math:`\asymp k^{d-2}`).
    """
    dim = _validate.positive_int(dim, "dim", minimum=2)
    k = _validate.positive_int(k, "k", minimum=0)
    if k == 0:
        return 1
    return (2 * k + dim - 2) * comb(k + dim - 3, k - 1) // k


def sphere_eigenvalues(kernel: Callable, dim: int, max_k: int, *, num_nodes: int | None = None) -> np.ndarray:
    r"""Funk-Hecke eigenvalues :math:`\mu_0,\dots,\mu_{\max k}` of a dot-product kernel on :math:`\mathbb S^{\dim-1}`.

    Args:
      kernel: a vectorised function of the cosine :math:`t\in[-1,1]`, e.g.
        ``lambda t: pntk.kernels.pnn_ntk_cosine(t, degree=3)``.
      dim: ambient dimension :math:`d\ge2` (the sphere :math:`\mathbb S^{d-1}\subset\mathbb R^d`).
      max_k: largest harmonic degree.
      num_nodes: Gauss-Legendre nodes in the angle :math:`\vartheta\in[0,\pi]`
        (default ``max(2000, 20 * max_k)``). The integrand is smooth in
        :math:`\vartheta`, so the result is exact to round-off once the nodes
        resolve :math:`P_k`.

    Returns:
      ``(max_k + 1,)`` array; :math:`\sum_k N(d,k)\mu_k = k(1)` (Mercer's trace).

    Example: the NTK of a ReLU MLP with 3 hidden layers on :math:`\mathbb S^2`, relative to
    :math:`\mu_0` and per unit diagonal :math:`\Theta(1)` (the two normalisations of the book
    chapter "Spectra of polynomial-net NTKs"):

    >>> import numpy as np
    >>> from pntk import kernels, spectra
    >>> ntk = lambda t: kernels.relu_mlp_ntk_cosine(t, depth=3)
    >>> mu = spectra.sphere_eigenvalues(ntk, dim=3, max_k=40)
    >>> print(" ".join(f"{r:.3g}" for r in mu[[2, 3, 10, 40]] / mu[0]))
    0.0975 0.0261 0.000689 1.12e-05
    >>> print(round(float(mu[0] / ntk(np.ones(1))[0]), 4))   # Theta(1) = depth + 1 = 4
    0.3371
    """
    if not callable(kernel):
        raise TypeError("kernel must be a function of the cosine t, e.g. lambda t: pnn_ntk_cosine(t, 2)")
    dim = _validate.positive_int(dim, "dim", minimum=2)
    max_k = _validate.positive_int(max_k, "max_k", minimum=0)
    num_nodes = max(2000, 20 * max_k) if num_nodes is None else _validate.positive_int(num_nodes, "num_nodes")
    theta, weights = _angle_quadrature(num_nodes)
    weights = weights * np.sin(theta) ** (dim - 2)
    t = np.cos(theta)
    values = np.asarray(kernel(t), dtype=float)
    if values.shape != t.shape:
        raise ValueError(f"kernel(t) must return one value per cosine (shape {t.shape}), got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("kernel(t) returned non-finite values on [-1, 1]")
    const = exp(lgamma(dim / 2) - lgamma((dim - 1) / 2)) / sqrt(pi)
    return const * sphere_legendre(max_k, dim, t) @ (weights * values)


@functools.lru_cache(maxsize=8)
def _angle_quadrature(num_nodes: int):
    """Gauss-Legendre nodes and weights on [0, pi], cached (numpy's leggauss is O(n^3); scipy's is not)."""
    nodes, weights = roots_legendre(num_nodes)
    theta = 0.5 * pi * (nodes + 1.0)
    theta.flags.writeable = False
    weights = 0.5 * pi * weights
    weights.flags.writeable = False
    return theta, weights


def expand_by_multiplicity(mu, dim: int) -> np.ndarray:
    r"""Each :math:`\mu_k` repeated :math:`N(d,k)` times, sorted descending: the spectrum a Gram matrix estimates."""
    mu = np.asarray(mu, dtype=float)
    if mu.ndim != 1 or mu.size == 0 or not np.all(np.isfinite(mu)):
        raise ValueError(f"mu must be a non-empty finite 1-D array mu_0, mu_1, ..., got shape {mu.shape}")
    reps = [harmonic_multiplicity(dim, k) for k in range(mu.shape[0])]
    return np.sort(np.repeat(mu, reps))[::-1]


def gram_eigenvalues(k, *, max_n: int | None = 16384) -> np.ndarray:
    r"""Eigenvalues of :math:`K/n` for an ``(n, n)`` Gram matrix, descending.

    For points sampled uniformly on the sphere they estimate the operator's
    eigenvalues :func:`expand_by_multiplicity` of :func:`sphere_eigenvalues`.
    A dense eigendecomposition costs :math:`O(n^3)` time and several copies of
    the matrix; ``n > max_n`` (default 16384; ``None``: no limit) is refused.
    """
    shape = np.shape(k)
    if max_n is not None and len(shape) == 2 and shape[0] > _validate.positive_int(max_n, "max_n"):
        raise ValueError(
            f"k is {shape[0]} x {shape[1]}, larger than max_n={max_n} for a dense O(n^3) eigendecomposition; "
            "on the sphere use pntk.spectra.sphere_eigenvalues (exact Funk-Hecke eigenvalues), otherwise "
            "the top eigenvalues from scipy.sparse.linalg.eigsh, or pass a larger max_n"
        )
    k = np.asarray(_validate.square_matrix(k, "k"))
    return np.linalg.eigvalsh(k / k.shape[0])[::-1]


def decay_exponent(ks, mus) -> float:
    r"""Least-squares slope :math:`p` of :math:`\log\mu_k = c - p\log k` (so :math:`\mu_k\asymp k^{-p}`)."""
    ks = np.asarray(ks, dtype=float)
    mus = np.asarray(mus, dtype=float)
    if ks.shape != mus.shape or ks.ndim != 1 or ks.size < 2:
        raise ValueError("ks and mus must be 1-D arrays of the same length >= 2")
    if np.any(ks <= 0) or np.any(mus <= 0):
        raise ValueError("decay_exponent needs positive k and positive eigenvalues (drop the zero ones)")
    slope, _ = np.polyfit(np.log(ks), np.log(mus), 1)
    return float(-slope)
