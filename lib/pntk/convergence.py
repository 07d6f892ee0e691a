r"""Checks of the infinite-width picture at finite width, and the polynomial structure of CCP nets.

Used by the book chapters "The neural tangent kernel in one chapter" (``book/ntk.md``)
and "Polynomial nets and the Hadamard product" (``book/polynomial_nets.md``).

NTK chapter:

* :func:`arc_cosine` and :func:`arc_cosine_monte_carlo` — the arc-cosine kernels of
  Cho & Saul (2009), :math:`\kappa_0=\E[\sigma'(w^\top x)\sigma'(w^\top x')]=\frac{\pi-\vartheta}{2\pi}`,
  :math:`\kappa_1=\E[\sigma(w^\top x)\sigma(w^\top x')]=\frac{\|x\|\|x'\|}{2\pi}(\sin\vartheta+(\pi-\vartheta)\cos\vartheta)`
  (book chapter "The neural tangent kernel in one chapter"), in closed form and by Monte Carlo
  over :math:`w\sim\mathcal N(0,I_d)`;
* :func:`ntk_convergence` — relative Frobenius error of the empirical NTK of
  ``pntk.models.pnn(degree, m)`` against the exact kernel, for several widths and seeds
  (the finite-width NTK is an average of :math:`m` i.i.d. terms, eq. ``pnnntk-finite`` of the chapter
  "The NTK of a polynomial net", so the error is :math:`O(m^{-1/2})`);
* :func:`kernel_drift` — how far the empirical NTK moves during full-batch gradient descent;
* :func:`loglog_slope` — the slope of a power law fitted in log-log coordinates.

Polynomial-nets chapter:

* :func:`ccp_coefficients` / :func:`evaluate_coefficients` — the coefficient tensors of the
  activation-free CCP :math:`f(x)=\sqrt{2/m}\,c^\top\bigl[(W_1x)*\prod_{n\ge2}(1+W_nx)\bigr]`;
* :func:`ray_coefficients` — the coefficients of :math:`r\mapsto f(rv)`, :math:`r\ge0`, of a
  bias-free CCP, a polynomial of degree at most :math:`N` by positive homogeneity of the ReLU;
* :func:`polyfit_residuals` — relative least-squares residual of polynomial fits of each degree;
* :func:`init_outputs` — outputs of many independently initialised nets (prior samples).

NTK-of-a-polynomial-net chapter (``book/pnn_ntk.md``):

* :func:`half_line_polyfit` — least squares by polynomials through 0 on each half-line, which is
  NTK kernel regression with a bias-free polynomial net in one dimension;
* :func:`empirical_nngp` and :func:`nngp_convergence` — the finite-width NNGP
  :math:`\frac2m\sum_i h_{N,i}(x)h_{N,i}(x')` and its relative error against
  :func:`pntk.kernels.pnn_nngp` over widths and seeds.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, data, kernels, models, training

__all__ = [
    "arc_cosine",
    "arc_cosine_monte_carlo",
    "ntk_convergence",
    "gram_ntk_fn",
    "subnet",
    "loglog_slope",
    "KernelDrift",
    "kernel_drift",
    "ccp_coefficients",
    "evaluate_coefficients",
    "ray_coefficients",
    "polyfit_residuals",
    "init_outputs",
    "half_line_polyfit",
    "empirical_nngp",
    "nngp_convergence",
]


# ----------------------------------------------------------------------------
# arc-cosine kernels
# ----------------------------------------------------------------------------

def arc_cosine(x1, x2=None):
    r"""Closed-form arc-cosine kernels :math:`(\kappa_0, \kappa_1)` between the rows of ``x1`` and ``x2``.

    With :math:`\vartheta=\arccos\frac{x^\top x'}{\|x\|\|x'\|}` (Cho & Saul 2009; lemma ``ntk-lemma-arccos``
    of the chapter "The neural tangent kernel in one chapter"):

    .. math::
       \kappa_0(x,x')=\frac{\pi-\vartheta}{2\pi},\qquad
       \kappa_1(x,x')=\frac{\|x\|\|x'\|}{2\pi}\bigl(\sin\vartheta+(\pi-\vartheta)\cos\vartheta\bigr).

    Inputs must be non-zero (the angle is undefined at 0). Returns two ``(n1, n2)`` numpy arrays.
    """
    x1, x2 = _validate.point_pair(x1, x2)
    a, b = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    if np.any(na == 0) or np.any(nb == 0):
        raise ValueError("x1 and x2 must not contain the zero vector (its angle is undefined)")
    scale = na[:, None] * nb[None, :]
    cos = np.clip(a @ b.T / scale, -1.0, 1.0)
    # cosines within a few ulps of +-1 are round-off around an exact +-1 (the diagonal):
    # arccos is ill-conditioned there, so snap them, as pntk.kernels does
    eps = 4 * np.finfo(float).eps
    cos = np.where(cos > 1 - eps, 1.0, np.where(cos < -1 + eps, -1.0, cos))
    theta = np.arccos(cos)
    kappa0 = (np.pi - theta) / (2 * np.pi)
    kappa1 = scale * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return kappa0, kappa1


def arc_cosine_monte_carlo(key, x1, x2=None, num_samples: int = 10_000, *, chunk: int = 4096):
    r"""Monte Carlo estimates of :math:`(\kappa_0,\kappa_1)`: averages over ``num_samples`` draws :math:`w\sim\mathcal N(0,I_d)`.

    :math:`\hat\kappa_0=\frac1S\sum_s\mathbb 1[w_s^\top x>0]\mathbb 1[w_s^\top x'>0]` and
    :math:`\hat\kappa_1=\frac1S\sum_s\sigma(w_s^\top x)\sigma(w_s^\top x')`; their errors are
    :math:`O(S^{-1/2})`. The draws are processed ``chunk`` at a time to bound memory.
    Returns two ``(n1, n2)`` numpy arrays.
    """
    key = _validate.prng_key(key)
    x1, x2 = _validate.point_pair(x1, x2)
    num_samples = _validate.positive_int(num_samples, "num_samples")
    chunk = _validate.positive_int(chunk, "chunk")
    a, b = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    w = np.asarray(jax.random.normal(key, (num_samples, a.shape[1]), jnp.float64))
    k0 = np.zeros((a.shape[0], b.shape[0]))
    k1 = np.zeros_like(k0)
    for start in range(0, num_samples, chunk):
        ua, ub = a @ w[start:start + chunk].T, b @ w[start:start + chunk].T  # (n1, s), (n2, s)
        k0 += (ua > 0).astype(float) @ (ub > 0).astype(float).T
        k1 += np.maximum(ua, 0) @ np.maximum(ub, 0).T
    return k0 / num_samples, k1 / num_samples


# ----------------------------------------------------------------------------
# convergence of the empirical NTK, and its drift during training
# ----------------------------------------------------------------------------

def ntk_convergence(key, x, degree: int, widths, num_seeds: int, *, skip: bool = True,
                    activation: str = "relu", bias: bool = False) -> np.ndarray:
    r"""Relative Frobenius errors :math:`\|\hat\Theta_m-\Theta\|_F/\|\Theta\|_F` of the empirical NTK on ``x``.

    :math:`\hat\Theta_m(X,X)` is the NTK of ``pntk.models.pnn(degree, m, ...)`` at a random
    initialisation (``num_seeds`` independent ones per width, keys split from ``key``),
    :math:`\Theta` the exact infinite-width kernel :func:`pntk.kernels.pnn_ntk`.
    Returns an array of shape ``(num_seeds, len(widths))``.
    """
    key = _validate.prng_key(key)
    x = _validate.points(x, "x")
    degree = _validate.positive_int(degree, "degree")
    num_seeds = _validate.positive_int(num_seeds, "num_seeds")
    widths = [_validate.positive_int(int(m) if isinstance(m, np.integer) else m, "widths") for m in widths]
    if not widths:
        raise ValueError("widths must contain at least one width")
    opts = dict(skip=skip, activation=activation, bias=bias)
    exact = np.asarray(kernels.pnn_ntk(x, x, degree, **opts))
    errors = np.empty((num_seeds, len(widths)))
    init_fn, _ = models.pnn(degree, max(widths), **opts)
    # one draw at the largest width per seed; its first m units are a width-m initialisation
    full = [init_fn(k, x.shape[1]) for k in jax.random.split(key, num_seeds)]
    for j, m in enumerate(widths):
        _, apply_fn = models.pnn(degree, m, **opts)
        ntk_fn = gram_ntk_fn(apply_fn)  # one compilation per width, shared by the seeds
        for s in range(num_seeds):
            errors[s, j] = data.relative_error(ntk_fn(subnet(full[s], m), x), exact)
    return errors


def subnet(params, width: int | None = None, *, degree: int | None = None):
    r"""The first ``width`` hidden units and the first ``degree`` branches of ``pntk.models.pnn`` parameters.

    Returns ``{"W": W[:degree, :width], "c": c[:width]}``. The units are i.i.d. and the
    branches independent, so this is distributed exactly as a fresh initialisation of
    ``pnn(degree, width)``: nested nets share their first units and branches. Drawing
    once at the largest width and degree avoids compiling a random-number generator
    for every shape (the slow part of small experiments on a CPU).
    """
    _params(params)
    w, c = params["W"], params["c"]
    width = c.shape[0] if width is None else _validate.positive_int(width, "width", maximum=int(c.shape[0]))
    degree = w.shape[0] if degree is None else _validate.positive_int(degree, "degree", maximum=int(w.shape[0]))
    return {"W": w[:degree, :width], "c": c[:width]}


def gram_ntk_fn(apply_fn):
    r"""A jit-compiled ``ntk(params, x)`` giving the empirical NTK Gram matrix :math:`\hat\Theta(X,X)=JJ^\top`.

    The same quantity as :func:`pntk.kernels.empirical_ntk` for one block of points, but compiled
    once per model, so that many seeds (or the parameters before and after training) reuse it.
    """
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable apply_fn(params, x), got {type(apply_fn).__name__}")

    def scalar(params, xi):
        return apply_fn(params, xi[None])[0]

    @jax.jit
    def ntk(params, x):
        jac = jax.vmap(jax.grad(scalar), in_axes=(None, 0))(params, x)
        return sum(j.reshape(x.shape[0], -1) @ j.reshape(x.shape[0], -1).T for j in jax.tree_util.tree_leaves(jac))

    return ntk


def loglog_slope(xs, ys):
    r"""Least-squares fit :math:`\log y = b + p\log x`; returns ``(p, exp(b))``, so :math:`y\approx e^b x^p`."""
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size < 2:
        raise ValueError(f"xs and ys must be 1-D arrays of the same length >= 2, got {xs.shape} and {ys.shape}")
    if np.any(xs <= 0) or np.any(ys <= 0) or not np.all(np.isfinite(xs) & np.isfinite(ys)):
        raise ValueError("xs and ys must be finite and positive for a log-log fit")
    slope, intercept = np.polyfit(np.log(xs), np.log(ys), 1)
    return float(slope), float(np.exp(intercept))


class KernelDrift(NamedTuple):
    """Result of :func:`kernel_drift`.

    Attributes:
      relative_change: :math:`\\|\\hat\\Theta_T-\\hat\\Theta_0\\|_F/\\|\\hat\\Theta_0\\|_F`.
      relative_weight_change: :math:`\\|\\theta_T-\\theta_0\\|/\\|\\theta_0\\|` (all parameters).
      loss: ``(2,)`` training loss before and after training.
      ntk_before, ntk_after: the ``(n, n)`` empirical NTKs on the training inputs.
    """

    relative_change: float
    relative_weight_change: float
    loss: np.ndarray
    ntk_before: np.ndarray
    ntk_after: np.ndarray


def kernel_drift(params, x, y, *, learning_rate: float, steps: int, skip: bool = True,
                 activation: str = "relu", bias: bool = False) -> KernelDrift:
    r"""Train ``pntk.models.pnn(degree, width)`` from ``params`` by full-batch GD and measure how much its NTK moved.

    Degree and width are read from ``params["W"]`` (shape ``(degree, width, d)``); the other
    options must be those the parameters were drawn for. Training is :func:`pntk.training.train`
    on the mean squared error.

    In the NTK parametrisation each weight moves by :math:`O(m^{-1/2})` and the kernel by
    :math:`O(m^{-1/2})` (Jacot et al. 2018; Lee et al. 2019): the kernel "freezes" as :math:`m\to\infty`.
    """
    w, _ = _params(params)
    x = _validate.points(x, "x")
    y = _validate.vector(y, "y", length=x.shape[0])
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    steps = _validate.positive_int(steps, "steps")
    _, apply_fn = models.pnn(w.shape[0], w.shape[1], skip=skip, activation=activation, bias=bias)
    params0 = {"W": jnp.asarray(params["W"]), "c": jnp.asarray(params["c"])}
    hist = training.train(apply_fn, params0, x, y, learning_rate=learning_rate, steps=steps, record_every=steps)
    ntk_fn = gram_ntk_fn(apply_fn)
    before = np.asarray(ntk_fn(params0, x))
    after = np.asarray(ntk_fn(hist.params, x))
    flat0 = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(params0)])
    flat1 = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(hist.params)])
    return KernelDrift(
        relative_change=float(np.linalg.norm(after - before) / np.linalg.norm(before)),
        relative_weight_change=float(np.linalg.norm(flat1 - flat0) / np.linalg.norm(flat0)),
        loss=np.asarray(hist.loss)[[0, -1]],
        ntk_before=before,
        ntk_after=after,
    )


# ----------------------------------------------------------------------------
# polynomial structure of CCP nets
# ----------------------------------------------------------------------------

def _params(params):
    if not isinstance(params, dict) or "W" not in params or "c" not in params:
        raise TypeError("params must be the dict {'W': (degree, width, d), 'c': (width,)} of pntk.models.pnn")
    w, c = np.asarray(params["W"], dtype=float), np.asarray(params["c"], dtype=float)
    if w.ndim != 3 or c.ndim != 1 or w.shape[1] != c.shape[0]:
        raise ValueError(f"params has inconsistent shapes W {w.shape} and c {c.shape}")
    return w, c


def ccp_coefficients(params) -> list:
    r"""Coefficient tensors :math:`T_1,\dots,T_N` of the activation-free CCP with skip (``pnn(..., activation="identity")``).

    Expanding :math:`f(x)=\sqrt{2/m}\sum_i c_i\,(w_{1,i}^\top x)\prod_{n=2}^N(1+w_{n,i}^\top x)`
    gives :math:`f(x)=\sum_{k=1}^N T_k[x,\dots,x]` with

    .. math:: T_k=\sqrt{2/m}\sum_i c_i\sum_{S\subseteq\{2..N\},\,|S|=k-1} w_{1,i}\otimes\bigotimes_{n\in S}w_{n,i},

    a tensor of order :math:`k` (shape ``(d,)*k``). For :math:`N=2`:
    :math:`T_1=\sqrt{2/m}\sum_ic_iw_{1,i}` and :math:`T_2=\sqrt{2/m}\sum_ic_i\,w_{1,i}w_{2,i}^\top`.
    A bias (``bias=True``) is the last input coordinate, fixed to 1. Costs :math:`O(2^N m d^N)`.
    """
    w, c = _params(params)
    degree, m, d = w.shape
    if d ** degree > 5_000_000:
        raise ValueError(f"the order-{degree} tensor in dimension {d} has {d ** degree:,} entries; too large")
    scale = math.sqrt(2.0 / m)
    tensors = []
    for k in range(1, degree + 1):
        t = np.zeros((d,) * k)
        for subset in itertools.combinations(range(1, degree), k - 1):
            factors = [w[0]] + [w[n] for n in subset]  # each (m, d)
            letters = "abcdefghijklmnopqrstuvw"[:k]
            spec = ",".join(f"z{l}" for l in letters) + ",z->" + letters
            t += np.einsum(spec, *factors, c)
        tensors.append(scale * t)
    return tensors


def evaluate_coefficients(tensors, x) -> np.ndarray:
    r""":math:`\sum_k T_k[x,\dots,x]` for each row of ``x`` (shape ``(n, d)``), the polynomial of :func:`ccp_coefficients`."""
    if not tensors:
        raise ValueError("tensors must contain at least one coefficient tensor")
    x = np.asarray(_validate.points(x, "x", dim=np.asarray(tensors[0]).shape[0]), dtype=float)
    out = np.zeros(x.shape[0])
    for t in tensors:
        t = np.asarray(t, dtype=float)
        out += np.array([_contract(t, xi) for xi in x])
    return out


def _contract(t, x):
    """T[x, ..., x] for one point: contract every axis of ``t`` with ``x``."""
    while t.ndim:
        t = t @ x
    return float(t)


def ray_coefficients(params, direction, *, skip: bool = True, activation: str = "relu") -> np.ndarray:
    r"""Coefficients :math:`a_0,\dots,a_N` of :math:`f(rv)=\sum_k a_kr^k` for :math:`r\ge0`, bias-free CCP.

    Positive homogeneity :math:`\sigma(ru)=r\sigma(u)` for :math:`r\ge0` gives, with
    :math:`u_{n,i}=\phi(w_{n,i}^\top v)` and :math:`v=` ``direction`` (not normalised),

    .. math:: f(rv)=\sqrt{2/m}\sum_ic_i\,r\,u_{1,i}\prod_{n=2}^N(1+r\,u_{n,i})
              \quad(\text{skip}),\qquad \sqrt{2/m}\sum_ic_i\,r^N\prod_n u_{n,i}\quad(\text{no skip}),

    a polynomial of degree at most :math:`N` with :math:`a_0=0` (proposition ``poly-prop-rays`` of the
    chapter "Polynomial nets and the Hadamard product"). For ``activation="identity"`` it holds for
    every real :math:`r`. ``params`` must come from ``pnn(..., bias=False)``.
    """
    w, c = _params(params)
    degree, m, d = w.shape
    v = np.asarray(direction, dtype=float)
    if v.ndim != 1 or v.shape[0] != d:
        raise ValueError(f"direction must have shape ({d},) to match params['W'], got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("direction must be finite")
    activation = _validate.activation(activation)
    skip = _validate.boolean(skip, "skip")
    u = w @ v  # (degree, m)
    if activation == "relu":
        u = np.maximum(u, 0.0)
    poly = np.zeros((m, degree + 1))
    poly[:, 1] = u[0]  # t u_1
    for n in range(1, degree):
        shifted = np.zeros_like(poly)
        shifted[:, 1:] = poly[:, :-1] * u[n][:, None]  # multiply by t u_n
        poly = poly + shifted if skip else shifted
    return math.sqrt(2.0 / m) * (c @ poly)


def polyfit_residuals(ts, values, max_degree: int) -> np.ndarray:
    r"""Relative residual :math:`\|y-p_k(t)\|/\|y\|` of the least-squares polynomial fit of each degree :math:`k=0..` ``max_degree``.

    A function that is a polynomial of degree exactly :math:`N` has residuals of order one
    below :math:`N` and round-off (about 1e-12) from :math:`N` on. The fit uses a Chebyshev basis on the
    range of ``ts`` for conditioning.
    """
    ts = np.asarray(ts, dtype=float)
    y = np.asarray(values, dtype=float)
    max_degree = _validate.positive_int(max_degree, "max_degree", minimum=0)
    if ts.ndim != 1 or y.shape != ts.shape:
        raise ValueError(f"ts and values must be 1-D of the same length, got {ts.shape} and {y.shape}")
    if ts.size <= max_degree + 1:
        raise ValueError(f"need more than max_degree + 1 = {max_degree + 1} points, got {ts.size}")
    norm = np.linalg.norm(y)
    if norm == 0:
        raise ValueError("values are all zero; the relative residual is undefined")
    out = np.empty(max_degree + 1)
    for k in range(max_degree + 1):
        fit = np.polynomial.Chebyshev.fit(ts, y, k)
        out[k] = np.linalg.norm(y - fit(ts)) / norm
    return out


def init_outputs(key, x, degrees, width: int, num_nets: int, *, skip: bool = True,
                 activation: str = "relu", bias: bool = False) -> np.ndarray:
    r"""Outputs :math:`f_\theta(x)` of ``num_nets`` random nets ``pnn(N, width)`` for each ``N`` in ``degrees``.

    Returns an array of shape ``(len(degrees), num_nets, n)``: samples of the prior over
    functions at initialisation. The nets of different degrees are nested (the degree-:math:`N`
    net uses the first :math:`N` branches of one draw at the largest degree, see :func:`subnet`),
    so each degree's samples are exact but the degrees are not independent of each other.
    For every width, :math:`\operatorname{Var}f(x)=2\,\E[h_{N,i}(x)^2]`, the diagonal of the
    NNGP :func:`pntk.kernels.pnn_nngp` (the readout :math:`c` is independent of :math:`h` with
    mean 0); as :math:`m\to\infty`, :math:`f` becomes a Gaussian process with that covariance.
    """
    key = _validate.prng_key(key)
    x = _validate.points(x, "x")
    num_nets = _validate.positive_int(num_nets, "num_nets")
    width = _validate.positive_int(width, "width")
    degrees = [_validate.positive_int(int(n) if isinstance(n, np.integer) else n, "degrees") for n in np.atleast_1d(degrees).tolist()]
    if not degrees:
        raise ValueError("degrees must contain at least one degree")
    opts = dict(skip=skip, activation=activation, bias=bias)
    init_fn, _ = models.pnn(max(degrees), width, **opts)
    params = jax.vmap(lambda k: init_fn(k, x.shape[1]))(jax.random.split(key, num_nets))
    out = []
    for n in degrees:
        _, apply_fn = models.pnn(n, width, **opts)
        sub = {"W": params["W"][:, :n], "c": params["c"]}
        out.append(np.asarray(jax.jit(jax.vmap(apply_fn, in_axes=(0, None)))(sub, x)))
    return np.stack(out)


def half_line_polyfit(x, y, x_eval, degree: int) -> np.ndarray:
    r"""Least-squares fit by polynomials through 0 of degree at most ``degree``, separately on each half-line.

    For scalar inputs, fits :math:`p_\pm(x)=\sum_{k=1}^N a^\pm_k x^k` (no constant term) to the
    points with :math:`x>0` and with :math:`x<0` by least squares (minimum-norm coefficients when a
    side has fewer than :math:`N` points), and evaluates :math:`p_+` at the positive and :math:`p_-`
    at the negative entries of ``x_eval`` (0 at 0, and 0 on a side without training points).

    This is what NTK kernel regression (gradient descent on the linearised model from
    :math:`f_0=0`, i.e. :math:`\Theta(x,X)\Theta(X,X)^+y`) computes with the bias-free
    ``pntk.models.pnn(N, ...)`` in one dimension: there, on :math:`xx'>0`,
    :math:`\Theta(x,x')=2xx'\beta^{N-1}+\tfrac{N-1}{2}(xx')^2\beta^{N-2}` with
    :math:`\beta=1+(|x|+|x'|)/\sqrt{2\pi}+xx'/2`, a kernel on the features
    :math:`x,\dots,x^N` of each half-line, and :math:`\Theta=0` across the origin (book chapter
    "The NTK of a polynomial net", section "The kernel in one dimension"). The two agree when each
    side holds at least :math:`N` distinct points; with fewer, kernel regression picks the
    interpolant of least RKHS norm, not of least Euclidean norm of the coefficients.

    Args:
      x: training inputs, shape ``(n,)`` or ``(n, 1)``, non-zero.
      y: targets, shape ``(n,)``.
      x_eval: inputs to evaluate the fit at, shape ``(k,)`` or ``(k, 1)``.
      degree: the degree :math:`N\ge1`.
    Returns a ``(k,)`` numpy array.
    """
    def scalars(v, name):
        a = np.asarray(v, dtype=float)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"{name} must be a non-empty (n,) or (n, 1) array of scalar inputs, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
        return a

    x, x_eval = scalars(x, "x"), scalars(x_eval, "x_eval")
    y = np.asarray(_validate.vector(y, "y", length=x.shape[0]), dtype=float)
    degree = _validate.positive_int(degree, "degree")
    if np.any(x == 0):
        raise ValueError("x must not contain 0 (the bias-free net is 0 there and its kernel row vanishes)")
    powers = np.arange(1, degree + 1)
    out = np.zeros(x_eval.shape[0])
    for side in (1.0, -1.0):
        train, evaluate = np.sign(x) == side, np.sign(x_eval) == side
        if not np.any(train) or not np.any(evaluate):
            continue
        coeffs = np.linalg.lstsq(x[train, None] ** powers, y[train], rcond=None)[0]
        out[evaluate] = (x_eval[evaluate, None] ** powers) @ coeffs
    return out


def empirical_nngp(params, x1, x2=None, *, skip: bool = True, activation: str = "relu",
                   bias: bool = False) -> np.ndarray:
    r"""Finite-width NNGP :math:`\hat K_m(x,x')=\frac2m\sum_{i=1}^m h_{N,i}(x)\,h_{N,i}(x')` of ``pntk.models.pnn``.

    :math:`h_{N,i}=\prod_n F_{n,i}` with :math:`F_{1,i}=\phi(w_{1,i}^\top x)` and
    :math:`F_{n,i}=1+\phi(w_{n,i}^\top x)` (skip) or :math:`\phi(w_{n,i}^\top x)` (no skip), :math:`n\ge2`.
    It is the readout part of the finite-width NTK and the empirical covariance of the
    output over the readout :math:`c\sim\mathcal N(0,I)`; as :math:`m\to\infty` it tends to
    :math:`2\kappa_1\beta^{N-1}` (:func:`pntk.kernels.pnn_nngp`; lemma ``pnnntk-lem-nngp`` of the
    chapter "The NTK of a polynomial net") at the Monte Carlo rate :math:`m^{-1/2}`.
    The degree and width are read from ``params["W"]``; returns an ``(n1, n2)`` array.
    """
    w, _ = _params(params)
    skip = _validate.boolean(skip, "skip")
    activation = _validate.activation(activation)
    bias = _validate.boolean(bias, "bias")
    x1, x2 = _validate.point_pair(x1, x2)
    features = []
    for x in (x1, x2):
        x = np.asarray(x, dtype=float)
        if bias:
            x = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
        if x.shape[1] != w.shape[2]:
            raise ValueError(f"inputs have {x.shape[1]} coordinates (with bias={bias}), params['W'] expects {w.shape[2]}")
        pre = np.matmul(x, w.transpose(0, 2, 1))  # (N, n, m)
        f = np.maximum(pre, 0.0) if activation == "relu" else pre
        if skip:
            f[1:] += 1.0
        features.append(np.prod(f, axis=0))  # (n, m)
    return 2.0 / w.shape[1] * features[0] @ features[1].T


def nngp_convergence(key, x, degrees, widths, num_seeds: int, *, skip: bool = True,
                     activation: str = "relu", bias: bool = False) -> np.ndarray:
    r"""Relative Frobenius errors :math:`\|\hat K_m-K\|_F/\|K\|_F` of :func:`empirical_nngp` on ``x``.

    For each seed one net of the largest degree and width is drawn (keys split from
    ``key``); the degree-:math:`N`, width-:math:`m` net is its first :math:`N` branches and
    :math:`m` units (:func:`subnet`), an exact initialisation of ``pnn(N, m)``.
    Returns an array of shape ``(num_seeds, len(degrees), len(widths))``.
    """
    key = _validate.prng_key(key)
    x = _validate.points(x, "x")
    num_seeds = _validate.positive_int(num_seeds, "num_seeds")
    degrees = [_validate.positive_int(int(n) if isinstance(n, np.integer) else n, "degrees") for n in degrees]
    widths = [_validate.positive_int(int(m) if isinstance(m, np.integer) else m, "widths") for m in widths]
    if not degrees or not widths:
        raise ValueError("degrees and widths must each contain at least one value")
    opts = dict(skip=skip, activation=activation, bias=bias)
    init_fn, _ = models.pnn(max(degrees), max(widths), **opts)
    errors = np.empty((num_seeds, len(degrees), len(widths)))
    for s, k in enumerate(jax.random.split(key, num_seeds)):
        full = init_fn(k, x.shape[1])
        for i, n in enumerate(degrees):
            exact = np.asarray(kernels.pnn_nngp(x, x, n, **opts))
            for j, m in enumerate(widths):
                errors[s, i, j] = data.relative_error(empirical_nngp(subnet(full, m, degree=n), x, **opts), exact)
    return errors
