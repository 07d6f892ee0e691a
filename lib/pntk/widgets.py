r"""The book's widgets: an extrapolation explorer and a spectrum explorer, each with a live and a static face.

Every widget is one pure computation (a cached function of its controls), one
pure drawing function (data -> PNG bytes) and two faces built on them:

* the **live face** (:func:`extrapolation_explorer`, :func:`spectrum_explorer`)
  for Binder or a local kernel: sliders and drop-downs that recompute and
  redraw on change. Results are cached on the controls
  (:func:`functools.lru_cache`), the kernels of :mod:`pntk.kernels` are
  compiled once for every degree (the degree is a traced argument), and the
  finite-width nets are *nested* sub-nets of one net drawn once
  (:func:`pntk.convergence.subnet`) whose NTK is evaluated in closed form
  (:func:`pntk.equivalence.finite_width_ntk`, no compilation). Out-of-range
  values are clamped or refused with a message shown in the widget;
* the **static face** (:func:`extrapolation_static`, :func:`spectrum_static`)
  for the rendered HTML, where no Python runs: one PNG frame per cell of the
  grid degree x width, all computed when the chapter executes, shown as HTML
  (:class:`StaticExplorer`) without any widget framework: a native range input
  per control, labelled with its name and announcing its value ("degree 3",
  "width 1024", "infinite width"), one ``<img>`` per frame whose alt text is the
  frame's own description (its numbers included), a caption that is a polite
  live region announcing the frame shown, and a few lines of JavaScript that
  switch frames. The outermost element has the DOM class ``pntk-static-widget``.

A frame of the static face is byte for byte what the live face draws for the
same controls: both call :func:`extrapolation_png` / :func:`spectrum_png`.

What the pictures show:

* **Extrapolation** (chapter "Extrapolation"; the 1-D experiments of the official code LIONS-EPFL/pntk, ``extra/main_cube.py``): a 1-D target
  fitted on 60 equally spaced points of :math:`[-a,a]` and drawn on
  :math:`[-2a,2a]`, with the median absolute percentage error (MAPE,
  :func:`pntk.data.mape`) on 200 points with :math:`a<|x|\le2a`, exactly the
  chapter's 1-D set-up. Infinite width is NTK kernel regression with biases,
  :math:`f(x)=\Theta(x,X)\Theta(X,X)^{-1}y` (:func:`pntk.extrapolation.ntk_regressor`).
  A finite width :math:`m` is kernel regression with the *empirical* NTK
  :math:`\hat\Theta_m` of one random net of that width (the linearised net
  trained to convergence from a zero initial output):
  :math:`f(x)=\hat\Theta_m(x,X)\hat\Theta_m(X,X)^{+}y`, with the pseudo-inverse
  because :math:`\hat\Theta_m(X,X)` has rank at most the number of parameters.
* **Spectrum** (chapter "Learning speed per frequency", ``book/learning_speed.md``;
  the experiment of the official code LIONS-EPFL/pntk, ``spectral/main.py``): left,
  the exact Funk-Hecke eigenvalues :math:`\mu_k/\Theta(1)` of the NTK of degree
  :math:`N` against the two-layer ReLU net's and a 3-hidden-layer ReLU net's
  (:func:`pntk.frequency.pnn_spectra`, :func:`pntk.kernels.relu_mlp_ntk_cosine`),
  with the Rayleigh quotients :math:`p_k^\top K p_k/(n\,p_k^\top p_k)` of the
  Gram matrix scaled to unit mean diagonal on the sampled harmonics :math:`p_k`
  (the eigenvalue gradient descent actually sees for that frequency; the exact NTK
  at infinite width, the empirical NTK of a random net at finite width); middle,
  the relative residual projections :math:`|a_k(s)|/|a_k(0)|` on the training
  points, and right, the held-out residual :math:`|1-c_k(s)|` of the least-squares
  coefficients :math:`c_k` of the predictor on the target's components at fresh
  points (:func:`pntk.frequency.component_coefficients`), both from the linearised
  dynamics (:func:`pntk.training.linearized_dynamics`) with every net at half its
  own largest stable rate :math:`n/\lambda_{\max}`; degree :math:`N` solid, the
  3-layer ReLU net (infinite width) dotted. Every frame carries a one-sentence
  ``description`` of what it shows, with its key numbers (the frame's alt text).

For benchmarks, :data:`BENCH_CASES` maps each widget to the function that does
the work of one live slider change and a list of keyword arguments for it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import io
import json
import math
import numbers
from typing import Callable, NamedTuple

import jax
import numpy as np
import scipy.linalg
import threadpoolctl

from . import _validate, data, frequency, kernels, models, plotting, spectra, training
from . import extrapolation as _ex
from .convergence import subnet
from .equivalence import finite_width_ntk

__all__ = [
    "INFINITE",
    "EXTRAPOLATION_CONTROLS",
    "EXTRAPOLATION_DEFAULTS",
    "SPECTRUM_CONTROLS",
    "SPECTRUM_DEFAULTS",
    "MAX_FRAME_BYTES",
    "ExtrapolationFrame",
    "SpectrumFrame",
    "extrapolation_frame",
    "spectrum_frame",
    "draw_extrapolation",
    "draw_spectrum",
    "extrapolation_png",
    "spectrum_png",
    "check_controls",
    "static_face",
    "StaticExplorer",
    "extrapolation_static",
    "spectrum_static",
    "LiveExplorer",
    "extrapolation_explorer",
    "spectrum_explorer",
    "BENCH_CASES",
    "cache_clear",
]

INFINITE = "infinite"
"""The width value meaning the infinite-width limit (the exact NTK)."""

EXTRAPOLATION_CONTROLS = {
    "degree": tuple(range(1, 9)),
    "width": (16, 64, 256, 1024, INFINITE),
    "target": ("quadratic", "cubic", "cos"),
    "train_range": (1.0, 1.5, 2.0, 2.5, 3.0),
}
"""Allowed values of the extrapolation explorer's controls (``train_range`` is the half-width :math:`a`)."""

EXTRAPOLATION_DEFAULTS = {"degree": 3, "width": INFINITE, "target": "cubic", "train_range": 2.5}

SPECTRUM_CONTROLS = {
    "degree": tuple(range(1, 10)),
    "width": (64, 256, 1024, INFINITE),
    "dim": (3, 5, 10),
}
"""Allowed values of the spectrum explorer's controls (``dim`` is :math:`d`, the sphere is :math:`\\mathbb S^{d-1}`)."""

SPECTRUM_DEFAULTS = {"degree": 3, "width": INFINITE, "dim": 5}

MAX_FRAME_BYTES = 40_000
"""Upper bound on the size of one PNG frame (the tests check it); frames are palette PNGs about 660 pixels wide."""

_TARGET_LABELS = {"quadratic": "x²", "cubic": "x³ + x² − 5x + 5", "cos": "cos x"}

# extrapolation set-up (the chapter's 1-D experiment)
_N_TRAIN = 60
_UNIT_TRAIN = np.linspace(-1.0, 1.0, _N_TRAIN)
_UNIT_OUT = np.concatenate([np.linspace(-2.0, -1.01, 100), np.linspace(1.01, 2.0, 100)])
_UNIT_PLOT = np.linspace(-2.0, 2.0, 252)  # with the 200 test points, one 452-row block of the kernel
_PINV_RCOND = 1e-10

# spectrum set-up
_N_SPHERE = 256
_N_HELDOUT = 256
_HARMONICS = (1, 2, 3, 4, 5)
_MAX_K = 30
_RATE_FRACTION = 0.5  # every net at half its own largest stable rate n / lambda_max: q = 1 - 2 eta lambda / n >= 0
_DEEP_DEPTH = 3  # the deep-ReLU baseline: a ReLU MLP with 3 hidden layers, infinite width
_READ_STEP = 1000  # the step at which a frame's description reads the learning curves
_STEPS = np.unique(np.concatenate([[0], np.geomspace(1, 1e5, 60).astype(int)]))

_DEEP_COLOR = "#2ca02c"
_FRAME_PIXELS = 660  # natural width of a frame, about the width of the book's text column
_PALETTE_COLORS = 48


# ----------------------------------------------------------------------------
# controls
# ----------------------------------------------------------------------------

def _same(value, allowed) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(allowed, str) or isinstance(value, str):
        return isinstance(value, str) and value == allowed
    return isinstance(value, numbers.Real) and float(value) == float(allowed)


def _choice(value, name: str, allowed: tuple):
    """``value`` as the matching entry of ``allowed``, else a ValueError naming the control and its values."""
    if isinstance(value, float) and math.isinf(value) and INFINITE in allowed:
        return INFINITE
    for option in allowed:
        if _same(value, option):
            return option
    raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def check_controls(controls: dict, values: dict) -> dict:
    """Validate a full set of control values against ``controls`` (a ``*_CONTROLS`` dict).

    Returns the canonical values (``64.0`` becomes ``64``, ``float('inf')`` becomes
    :data:`INFINITE`). Raises ``ValueError`` naming the control and its allowed
    values for a bad value, an unknown control or a missing one.
    """
    if not isinstance(controls, dict) or not isinstance(values, dict):
        raise TypeError("controls and values must be dicts of control name -> allowed values / value")
    unknown = sorted(set(values) - set(controls))
    if unknown:
        raise ValueError(f"unknown control(s) {unknown}; the controls are {list(controls)}")
    missing = [name for name in controls if name not in values]
    if missing:
        raise ValueError(f"missing control(s) {missing}")
    return {name: _choice(values[name], name, allowed) for name, allowed in controls.items()}


def _one_blas_thread(compute: Callable) -> Callable:
    """Run ``compute`` with BLAS limited to one thread.

    The widgets' eigendecompositions are small (a few hundred points): on the
    2-core machines of Binder, OpenBLAS's default threads competing with JAX's
    made one spectrum update take 1.2 s against 0.15 s single-threaded (median,
    BENCHMARKS.md). Limiting the threads here keeps any notebook that imports
    the widgets fast, not only the chapter that sets ``OPENBLAS_NUM_THREADS``.
    """
    @functools.wraps(compute)
    def single_threaded(*args, **kwargs):
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            return compute(*args, **kwargs)
    return single_threaded


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False


def _pinv_apply(k, y, rcond: float = _PINV_RCOND) -> np.ndarray:
    r""":math:`K^+y` for a symmetric PSD ``k``, dropping eigenvalues below ``rcond`` times the largest.

    Gradient descent on the linearised model converges to this minimum-norm
    solution along the eigenvectors it can move; the dropped ones are at round-off level.
    """
    lam, v = scipy.linalg.eigh(k, driver="evr")
    keep = lam > rcond * lam[-1]
    return v[:, keep] @ ((v[:, keep].T @ y) / lam[keep])


# ----------------------------------------------------------------------------
# extrapolation explorer: data
# ----------------------------------------------------------------------------

class ExtrapolationFrame(NamedTuple):
    """What one extrapolation picture shows (arrays read-only; shared by the cache)."""

    degree: int
    width: int | str
    target: str
    train_range: float
    x: np.ndarray           # (252,) plot grid on [-2a, 2a]
    truth: np.ndarray       # target on the grid
    prediction: np.ndarray  # predictor on the grid
    x_train: np.ndarray     # (60,)
    y_train: np.ndarray
    mape_out: float         # MAPE (%) on the 200 points with a < |x| <= 2a

    @property
    def description(self) -> str:
        """One sentence saying what the frame shows, with the numbers of its title (the frame's alt text)."""
        a = self.train_range
        net = "the ReLU net (degree 1)" if self.degree == 1 else f"the degree-{self.degree} polynomial net"
        return (f"Prediction of {net} at {_width_label(self.width)} for the target {_TARGET_LABELS[self.target]}, "
                f"trained on 60 points of [−{a:g}, {a:g}] and drawn on [−{2 * a:g}, {2 * a:g}] with the target "
                f"dashed: MAPE outside the training range {self.mape_out:.1f}%.")



@functools.lru_cache(maxsize=4)
def _extrapolation_net(seed: int):
    """One bias net of the largest degree and width on 1-D inputs; every finite width is a nested sub-net of it."""
    degree, width = max(EXTRAPOLATION_CONTROLS["degree"]), max(w for w in EXTRAPOLATION_CONTROLS["width"]
                                                               if w != INFINITE)
    params = models.pnn(degree, width, bias=True).init_fn(jax.random.key(seed), 1)
    return jax.tree_util.tree_map(np.asarray, params)


def extrapolation_frame(degree: int = 3, width=INFINITE, target: str = "cubic",
                        train_range: float = 2.5, *, seed: int = 0) -> ExtrapolationFrame:
    r"""Fit ``target`` on :math:`[-a,a]` with the degree-``degree`` polynomial net of width ``width`` and evaluate it on :math:`[-2a,2a]`.

    Infinite width: :func:`pntk.extrapolation.ntk_regressor` with biases (the
    chapter's predictor). Finite width :math:`m`: kernel regression with the
    empirical NTK of the random net ``subnet(net, m, degree=N)`` of a bias net drawn
    once from ``jax.random.key(seed)``, :math:`\hat\Theta_m(x,X)\hat\Theta_m(X,X)^+y`.
    Cached on the arguments. Raises ``ValueError`` naming the control for a value
    outside :data:`EXTRAPOLATION_CONTROLS`.
    """
    c = check_controls(EXTRAPOLATION_CONTROLS, dict(degree=degree, width=width, target=target,
                                                    train_range=train_range))
    seed = _validate.positive_int(seed, "seed", minimum=0)
    return _extrapolation_frame(c["degree"], c["width"], c["target"], float(c["train_range"]), seed)


@functools.lru_cache(maxsize=512)
@_one_blas_thread
def _extrapolation_frame(degree, width, target, a, seed) -> ExtrapolationFrame:
    f = data.target(target)
    x_tr = a * _UNIT_TRAIN[:, None]
    x_eval = a * np.concatenate([_UNIT_PLOT, _UNIT_OUT])[:, None]
    y_tr = np.asarray(f(x_tr))
    if width == INFINITE:
        pred = _ex.ntk_regressor(x_tr, y_tr, degree, bias=True)(x_eval)
    else:
        params = subnet(_extrapolation_net(seed), width, degree=degree)
        alpha = _pinv_apply(finite_width_ntk(params, x_tr, bias=True), y_tr)
        pred = finite_width_ntk(params, x_eval, x_tr, bias=True) @ alpha
    pred = np.asarray(pred, dtype=float)
    n_plot = _UNIT_PLOT.size
    truth = np.asarray(f(x_eval), dtype=float)
    mape = data.mape(truth[n_plot:], pred[n_plot:])
    x = a * _UNIT_PLOT
    y_tr = np.array(y_tr)
    x_plot_pred, truth_plot, x_train = pred[:n_plot].copy(), truth[:n_plot].copy(), x_tr[:, 0].copy()
    _readonly(x, x_plot_pred, truth_plot, x_train, y_tr)
    return ExtrapolationFrame(degree, width, target, a, x, truth_plot, x_plot_pred, x_train, y_tr, float(mape))


# ----------------------------------------------------------------------------
# spectrum explorer: data
# ----------------------------------------------------------------------------

class SpectrumFrame(NamedTuple):
    """What one spectrum picture shows (arrays read-only; shared by the cache)."""

    degree: int
    width: int | str
    dim: int
    ks: np.ndarray             # 0..max_k
    mu: np.ndarray             # exact mu_k / Theta(1), degree N
    mu_relu: np.ndarray        # exact mu_k / Theta(1), two-layer ReLU net (degree 1)
    mu_deep: np.ndarray        # exact mu_k / Theta(1), ReLU MLP with _DEEP_DEPTH hidden layers
    harmonics: tuple           # harmonic degrees k of the zonal target
    rayleigh: np.ndarray       # (K,) Rayleigh quotient of the scaled Gram / n on each sampled harmonic, degree N
    steps: np.ndarray          # (R,)
    residual: np.ndarray       # (R, K) |a_k(s)| / |a_k(0)| on the training points, degree N
    heldout: np.ndarray        # (R, K) |1 - c_k(s)| on fresh points, degree N
    residual_deep: np.ndarray  # (R, K) the same for the deep ReLU baseline
    heldout_deep: np.ndarray
    description: str           # one sentence: what the frame shows, with its key numbers (alt text)


@functools.lru_cache(maxsize=8)
def _sphere_problem(dim: int):
    """Training and fresh points on the sphere, the equal-energy zonal target, its projection rows and components."""
    x = np.asarray(data.sphere(jax.random.key(2), _N_SPHERE, dim))
    x_test = np.asarray(data.sphere(jax.random.key(4), _N_HELDOUT, dim))
    target = data.zonal_harmonic_target(jax.random.key(3), dim, _HARMONICS, weight=1.0, normalized=True)
    y, proj, comp_test = np.asarray(target(x)), np.asarray(target.projections(x)), target.components(x_test)
    _readonly(x, x_test, y, proj, comp_test)
    return x, x_test, y, proj, comp_test


@functools.lru_cache(maxsize=8)
def _exact_spectra(dim: int) -> np.ndarray:
    """Rows: degrees 1..9 of the PNN, then the deep ReLU baseline; all mu_k / Theta(1)."""
    degrees = SPECTRUM_CONTROLS["degree"]
    mu = frequency.pnn_spectra(degrees, dim, _MAX_K, normalize=True)
    deep = spectra.sphere_eigenvalues(lambda t: np.asarray(kernels.relu_mlp_ntk_cosine(t, _DEEP_DEPTH)), dim,
                                      _MAX_K, num_nodes=frequency.DEFAULT_NODES)
    deep = deep / float(kernels.relu_mlp_ntk_cosine(np.ones(1), _DEEP_DEPTH)[0])
    mu = np.vstack([mu, deep])
    _readonly(mu)
    return mu


@functools.lru_cache(maxsize=8)
def _sphere_net(dim: int, seed: int):
    degree, width = max(SPECTRUM_CONTROLS["degree"]), max(w for w in SPECTRUM_CONTROLS["width"] if w != INFINITE)
    params = models.pnn(degree, width).init_fn(jax.random.fold_in(jax.random.key(seed), dim), dim)
    return jax.tree_util.tree_map(np.asarray, params)


def _dynamics(k_all: np.ndarray, dim: int):
    """Rayleigh quotients, training and held-out residuals from the kernel between [train; fresh] points and the training points."""
    _, _, y, proj, comp_test = _sphere_problem(dim)
    n = y.shape[0]
    k = 0.5 * (k_all[:n] + k_all[:n].T)
    scale = float(np.mean(np.diag(k)))  # Theta(1) on the sphere at infinite width
    k, k_test = k / scale, k_all[n:] / scale
    rayleigh = np.einsum("kn,nm,km->k", proj, k, proj) / (n * np.einsum("kn,kn->k", proj, proj))
    eta = _RATE_FRACTION * training.max_stable_learning_rate(k)
    hist = training.linearized_dynamics(k, y, learning_rate=eta, steps=_STEPS, k_test_train=k_test,
                                        projections=proj)
    a = hist.residual_projections
    residual = np.abs(a) / np.abs(a[:1])
    heldout = np.abs(1.0 - frequency.component_coefficients(comp_test, hist.test_predictions))
    _readonly(rayleigh, residual, heldout)
    return rayleigh, residual, heldout


@functools.lru_cache(maxsize=256)
@_one_blas_thread
def _sphere_dynamics(degree: int, width, dim: int, seed: int):
    """Rayleigh quotients, training and held-out residuals of the degree-``degree`` net (cached)."""
    x, x_test = _sphere_problem(dim)[:2]
    points = np.concatenate([x, x_test])
    if width == INFINITE:
        k_all = np.asarray(kernels.pnn_ntk(points, x, degree))
    else:
        k_all = finite_width_ntk(subnet(_sphere_net(dim, seed), width, degree=degree), points, x)
    return _dynamics(np.asarray(k_all), dim)


@functools.lru_cache(maxsize=8)
@_one_blas_thread
def _deep_dynamics(dim: int):
    """The same for the deep ReLU baseline at infinite width (one per dimension, shared by every frame)."""
    x, x_test = _sphere_problem(dim)[:2]
    return _dynamics(np.asarray(kernels.relu_mlp_ntk(np.concatenate([x, x_test]), x, _DEEP_DEPTH)), dim)


def spectrum_frame(degree: int = 3, width=INFINITE, dim: int = 5, *, seed: int = 0) -> SpectrumFrame:
    r"""Eigenvalues and per-frequency learning curves of the degree-``degree`` net of width ``width`` on :math:`\mathbb S^{\dim-1}`.

    Exact normalised spectra :math:`\mu_k/\Theta(1)`, :math:`k\le30`, of degree
    :math:`N`, of the two-layer ReLU net and of a ReLU MLP with 3 hidden layers;
    then on :math:`n=256` uniform points and the equal-energy zonal target
    :math:`\sum_{k\in\{1,\dots,5\}}\sqrt{N(d,k)}\,P_k^{(d)}(\langle x,\zeta_k\rangle)`
    (:func:`pntk.data.zonal_harmonic_target` with ``normalized=True``), the Gram
    matrix :math:`K` (exact NTK, or the empirical NTK of a random net of width
    ``width``, a nested sub-net of one net drawn from ``seed``) scaled to unit mean
    diagonal, the Rayleigh quotient of :math:`K/n` on each sampled harmonic, the
    relative residual projections of gradient descent on the linearised model at
    half its largest stable rate, and the held-out residual :math:`|1-c_k(s)|` of the
    predictor's least-squares coefficients on the target's components at 256 fresh
    points; the same curves for the deep ReLU baseline (infinite width). Cached on
    the arguments. Raises ``ValueError`` naming the control for a value outside
    :data:`SPECTRUM_CONTROLS`.
    """
    c = check_controls(SPECTRUM_CONTROLS, dict(degree=degree, width=width, dim=dim))
    seed = _validate.positive_int(seed, "seed", minimum=0)
    return _spectrum_frame(c["degree"], c["width"], c["dim"], seed)


def _fmt(value: float) -> str:
    return "0" if abs(value) < 5e-13 else f"{value:.2g}"


def _spectrum_description(degree, width, dim, mu, mu_relu, mu_deep, residual, heldout, residual_deep,
                          heldout_deep) -> str:
    """One sentence, from the frame's own data: what is plotted and the key numbers."""
    i = int(np.argmin(np.abs(_STEPS - _READ_STEP)))
    j = len(_HARMONICS) - 1
    k_hi = _HARMONICS[j]
    net = "the two-layer ReLU net" if degree == 1 else f"the degree-{degree} polynomial net"
    deep = f"a ReLU net with {_DEEP_DEPTH} hidden layers"
    ratios = [mu_deep[3] / mu_deep[0]] if degree == 1 else [mu[3] / mu[0], mu_relu[3] / mu_relu[0],
                                                            mu_deep[3] / mu_deep[0]]
    nets = f"this net and {deep}" if degree == 1 else f"this net, the two-layer ReLU net and {deep}"
    ratios = " and ".join([", ".join(_fmt(r) for r in ratios[:-1]), _fmt(ratios[-1])] if len(ratios) > 1
                          else [_fmt(ratios[0])])
    if degree == 1:
        ratios = f"{_fmt(mu[3] / mu[0])} and {ratios}"
    return (
        f"Spectrum explorer frame for {net} at {_width_label(width)} on the sphere in dimension d = {dim}: "
        f"left, the normalised NTK eigenvalues mu_k / Theta(1) for k up to {_MAX_K} of {nets} "
        f"(mu_3 / mu_0 = {ratios}); middle and right, the relative "
        f"residual of each frequency k = {_HARMONICS[0]} to {k_hi} against the gradient-descent step on the "
        f"{_N_SPHERE} training points and on {_N_HELDOUT} fresh points, each net at half its own largest stable "
        f"rate, where after {int(_STEPS[i])} steps the k = {k_hi} residual of this net is {_fmt(residual[i, j])} "
        f"on the training points and {_fmt(heldout[i, j])} on fresh points, against {_fmt(residual_deep[i, j])} "
        f"and {_fmt(heldout_deep[i, j])} for the {_DEEP_DEPTH}-layer ReLU net."
    )


@functools.lru_cache(maxsize=256)
def _spectrum_frame(degree, width, dim, seed) -> SpectrumFrame:
    mu = _exact_spectra(dim)
    rayleigh, residual, heldout = _sphere_dynamics(degree, width, dim, seed)
    _, residual_deep, heldout_deep = _deep_dynamics(dim)
    ks = np.arange(_MAX_K + 1)
    _readonly(ks)
    text = _spectrum_description(degree, width, dim, mu[degree - 1], mu[0], mu[-1], residual, heldout,
                                 residual_deep, heldout_deep)
    return SpectrumFrame(degree, width, dim, ks, mu[degree - 1], mu[0], mu[-1], _HARMONICS, rayleigh, _STEPS,
                         residual, heldout, residual_deep, heldout_deep, text)


def cache_clear() -> None:
    """Empty every cache of this module (the tests use it to count cache hits)."""
    for fn in (_extrapolation_net, _extrapolation_frame, _extrapolation_png, _sphere_problem, _exact_spectra,
               _sphere_net, _sphere_dynamics, _deep_dynamics, _spectrum_frame, _spectrum_png):
        fn.cache_clear()


# ----------------------------------------------------------------------------
# drawing (pure: data -> figure -> PNG bytes; no pyplot, so no figure is left open)
# ----------------------------------------------------------------------------

def _width_label(width, short: bool = False) -> str:
    if width == INFINITE:
        return "infinite width" if short else "infinite width (NTK)"
    return f"width {width}"


@contextlib.contextmanager
def _frame_style():
    """The book's figure style, with titles at a fixed height: matplotlib otherwise measures
    every tick label to place them (a fifth of the time of a spectrum frame)."""
    import matplotlib as mpl

    with plotting.style(), mpl.rc_context({"axes.titley": 1.0}):
        yield


def _new_figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=_FRAME_PIXELS / figsize[0])


def _log_ticks(axis, ticks, labels):
    """Fixed major ticks with plain-text labels and no minor ticks (log axes otherwise lay out many mathtext labels)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter(labels))
    axis.set_minor_locator(NullLocator())


def draw_extrapolation(frame: ExtrapolationFrame):
    """A :class:`matplotlib.figure.Figure` (not registered with pyplot) of prediction and truth inside and outside :math:`[-a,a]`."""
    if not isinstance(frame, ExtrapolationFrame):
        raise TypeError(f"frame must be an ExtrapolationFrame from extrapolation_frame(...), got {type(frame).__name__}")
    a = frame.train_range
    with _frame_style():
        fig = _new_figure((6.6, 3.0))
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.15, top=0.9)
        ax = fig.add_subplot()
        ax.axvspan(-a, a, color="0.92", zorder=0, label="training range")
        ax.plot(frame.x, frame.truth, "--", color=plotting.TRUTH_COLOR, label="target", zorder=5)
        ax.plot(frame.x, frame.prediction, color=plotting.degree_color(frame.degree, 8),
                label="ReLU net" if frame.degree == 1 else f"degree {frame.degree}")
        ax.plot(frame.x_train, frame.y_train, ".", ms=3, color="tab:blue", label="training points")
        pad = 0.6 * (frame.truth.max() - frame.truth.min())
        ax.set(xlim=(frame.x[0], frame.x[-1]), ylim=(frame.truth.min() - pad, frame.truth.max() + pad), xlabel="x",
               title=f"{_TARGET_LABELS[frame.target]}, degree {frame.degree}, {_width_label(frame.width)}: "
                     f"MAPE outside the range {frame.mape_out:.1f}%")
        ax.legend(fontsize="small", loc="upper center", ncol=4)
    return fig


def draw_spectrum(frame: SpectrumFrame):
    """A :class:`matplotlib.figure.Figure` (not registered with pyplot): eigenvalues, and learning curves per frequency on training and fresh points."""
    if not isinstance(frame, SpectrumFrame):
        raise TypeError(f"frame must be a SpectrumFrame from spectrum_frame(...), got {type(frame).__name__}")
    ks = frame.ks
    color = plotting.degree_color(frame.degree, 9)
    colors = [_harmonic_color(j) for j in range(len(frame.harmonics))]
    name = "ReLU net" if frame.degree == 1 else f"degree {frame.degree}"
    with _frame_style():
        # 6.6 in over the frame's 660 px: 100 dpi, the same text size as the extrapolation frame
        fig = _new_figure((6.6, 3.6))
        fig.subplots_adjust(left=0.11, right=0.99, bottom=0.27, top=0.91, wspace=0.38)
        ax, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 1]})
        curves = [(frame.mu_relu, plotting.RELU_COLOR, "ReLU", "--"),
                  (frame.mu_deep, _DEEP_COLOR, f"ReLU, {_DEEP_DEPTH} layers", "-."),
                  (frame.mu, color, name, "-")]
        for mu, c, label, ls in curves[:2] + ([] if frame.degree == 1 else curves[2:]):
            even = (ks >= 1) & (ks % 2 == 0)
            odd = (ks >= 1) & (ks % 2 == 1) & (mu > 1e-14)
            ax.loglog(ks[even], mu[even], ls, color=c, label=label)
            ax.loglog(ks[odd], mu[odd], ".", ms=4, color=c)
        h = np.asarray(frame.harmonics)
        ax.loglog(h, np.clip(frame.rayleigh, 1e-12, None), "s", mfc="none", color=color, ms=6,
                  label="on the sample")
        ax.set(xlabel="harmonic degree k", ylabel="μk / Θ(1)", xlim=(0.9, ks[-1] * 1.1), ylim=(1e-7, 1.5),
               title=f"d = {frame.dim}, {_width_label(frame.width, short=True)}")
        _log_ticks(ax.xaxis, [1, 3, 10, 30], ["1", "3", "10", "30"])
        _log_ticks(ax.yaxis, [1e-6, 1e-4, 1e-2, 1], ["1e-6", "1e-4", "0.01", "1"])
        # the eigenvalues fall from the upper left: the upper right is empty
        ax.legend(fontsize="x-small", loc="upper right", handlelength=1.8, borderaxespad=0.2)
        t = frame.steps[1:]
        for axis, mine, deep, title in ((ax2, frame.residual, frame.residual_deep, "training points"),
                                        (ax3, frame.heldout, frame.heldout_deep, "fresh points")):
            for j, k in enumerate(frame.harmonics):
                axis.semilogx(t, mine[1:, j], "-", color=colors[j], label=f"k = {k}")
                axis.semilogx(t, deep[1:, j], ":", color=colors[j])
            axis.set(xlabel="step s", ylim=(-0.02, 1.15), title=title)
            _log_ticks(axis.xaxis, [1, 100, 1e4], ["1", "100", "1e4"])
        ax2.set_ylabel("relative residual")
        ax3.tick_params(labelleft=False)
        fig.legend(*ax2.get_legend_handles_labels(), loc="lower center", ncol=len(frame.harmonics) + 1,
                   fontsize="small", handlelength=1.2, columnspacing=0.9,
                   title=f"{name} solid, ReLU with {_DEEP_DEPTH} layers dotted", title_fontsize="small")
    return fig


def _harmonic_color(j: int):
    import matplotlib as mpl

    return mpl.colormaps["plasma"](j / len(_HARMONICS) * 0.9)


def _png(fig) -> bytes:
    """The figure as a small palette PNG (quantised colours).

    The figures of this module are not registered with pyplot, so nothing keeps
    them alive once drawn (clearing one explicitly cost a sixth of a frame's time).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image as PILImage

    # the rendered pixels go to the quantiser directly, not through a PNG written and read back
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    img = PILImage.fromarray(rgb).quantize(colors=_PALETTE_COLORS, method=PILImage.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="png")
    return out.getvalue()


def extrapolation_png(degree: int = 3, width=INFINITE, target: str = "cubic", train_range: float = 2.5,
                      *, seed: int = 0) -> bytes:
    """PNG of :func:`draw_extrapolation` for these controls: the work of one slider change (cached on the controls)."""
    frame = extrapolation_frame(degree, width, target, train_range, seed=seed)  # checks the controls
    return _extrapolation_png(frame.degree, frame.width, frame.target, frame.train_range, seed)


@functools.lru_cache(maxsize=512)  # frames are a few tens of kB: at most about 20 MB
def _extrapolation_png(degree, width, target, a, seed) -> bytes:
    return _png(draw_extrapolation(_extrapolation_frame(degree, width, target, a, seed)))


def spectrum_png(degree: int = 3, width=INFINITE, dim: int = 5, *, seed: int = 0) -> bytes:
    """PNG of :func:`draw_spectrum` for these controls: the work of one slider change (cached on the controls)."""
    frame = spectrum_frame(degree, width, dim, seed=seed)  # checks the controls
    return _spectrum_png(frame.degree, frame.width, frame.dim, seed)


@functools.lru_cache(maxsize=256)
def _spectrum_png(degree, width, dim, seed) -> bytes:
    return _png(draw_spectrum(_spectrum_frame(degree, width, dim, seed)))


# ----------------------------------------------------------------------------
# static face: frames switched by client-side links
# ----------------------------------------------------------------------------

def _ipywidgets():
    import ipywidgets

    return ipywidgets


def _value_label(value) -> str:
    return "∞" if value == INFINITE else str(value)


_VALUE_TEXT = {"degree": lambda v: f"degree {v}",
               "width": lambda v: "infinite width" if v == INFINITE else f"width {v}"}

# The static face's behaviour in the reader's browser, framework-free: each range input selects the
# frame of its value, updates its readout and its aria-valuetext, and the caption (a polite live
# region) announces the new frame's description. Without JavaScript the initial frame stays shown.
_STATIC_SCRIPT = """(function (root) {
  if (!root) return;
  var inputs = root.querySelectorAll('input[type=range]');
  function show() {
    var i = root.querySelector('input[data-control=degree]').value;
    var j = root.querySelector('input[data-control=width]').value;
    var shown = null;
    root.querySelectorAll('.pntk-explorer-frames img').forEach(function (img) {
      var on = img.getAttribute('data-degree') === i && img.getAttribute('data-width') === j;
      img.hidden = !on;
      if (on) shown = img;
    });
    inputs.forEach(function (input) {
      input.setAttribute('aria-valuetext', JSON.parse(input.getAttribute('data-valuetexts'))[input.value]);
      var out = root.querySelector('output[for=' + input.id + ']');
      if (out) out.textContent = JSON.parse(input.getAttribute('data-readouts'))[input.value];
    });
    if (shown) root.querySelector('.pntk-explorer-caption').textContent = shown.alt;
  }
  inputs.forEach(function (input) { input.addEventListener('input', show); });
  root.querySelectorAll('button[data-step]').forEach(function (button) {
    button.addEventListener('click', function () {
      var input = document.getElementById(button.getAttribute('aria-controls'));
      var value = Math.min(Number(input.max), Math.max(Number(input.min), Number(input.value) + Number(button.getAttribute('data-step'))));
      if (String(value) !== input.value) { input.value = value; show(); }
    });
  });
  root.setAttribute('data-ready', 'true');
})(document.currentScript && document.currentScript.closest('.pntk-static-widget'));"""


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class StaticExplorer:
    """The static face: HTML (``_repr_html_``) with two native range inputs switching ``<img>`` frames.

    Attributes: ``frames`` (``{(degree, width): PNG bytes}``), ``descriptions``
    (``{(degree, width): str}``, each frame's alt text), ``degrees``, ``widths``,
    ``initial`` (the ``(degree, width)`` shown first), ``caption``, ``uid``.
    """

    def __init__(self, frames, descriptions, degrees, widths, initial, caption):
        self.frames, self.descriptions = frames, descriptions
        self.degrees, self.widths, self.initial, self.caption = degrees, widths, initial, caption
        digest = hashlib.sha256()
        for m in widths:
            for n in degrees:
                digest.update(frames[(n, m)])
        self.uid = "pntk-explorer-" + digest.hexdigest()[:10]

    def _control(self, name: str, values: list, index: int) -> str:
        texts = [_VALUE_TEXT[name](v) for v in values]
        readouts = [_value_label(v) for v in values]
        ident = f"{self.uid}-{name}"
        # step buttons beside the range: every value reachable by a tap on a phone, where the range
        # alone gives a finger less than 44 px per value
        return (f'<div class="pntk-explorer-control"><label for="{ident}">{name}</label>'
                f'<button type="button" class="pntk-explorer-step" data-step="-1" aria-controls="{ident}" '
                f'aria-label="previous {name}">−</button>'
                f'<input type="range" id="{ident}" data-control="{name}" min="0" max="{len(values) - 1}" '
                f'step="1" value="{index}" aria-valuetext="{html.escape(texts[index])}" '
                f'data-valuetexts="{html.escape(json.dumps(texts))}" '
                f'data-readouts="{html.escape(json.dumps(readouts))}">'
                f'<button type="button" class="pntk-explorer-step" data-step="1" aria-controls="{ident}" '
                f'aria-label="next {name}">+</button>'
                f'<output for="{ident}" aria-hidden="true">{html.escape(readouts[index])}</output></div>')

    def _repr_html_(self) -> str:
        n0, m0 = self.initial
        i0, j0 = self.degrees.index(n0), self.widths.index(m0)
        shown, hidden = [], []
        for j, m in enumerate(self.widths):
            for i, n in enumerate(self.degrees):
                png = bytes(self.frames[(n, m)])
                width, height = _png_size(png)
                (shown if (i, j) == (i0, j0) else hidden).append(
                    f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" '
                    f'alt="{html.escape(self.descriptions[(n, m)])}" width="{width}" height="{height}" '
                    f'data-degree="{i}" data-width="{j}"{"" if (i, j) == (i0, j0) else " hidden"}>')
        hint = f'<p class="pntk-explorer-hint">{html.escape(self.caption)}</p>' if self.caption else ""
        # the script right after the frame shown first: on a slow connection the explorer works
        # as soon as that frame has arrived, while the other frames are still coming
        return (f'<figure class="pntk-static-widget pntk-explorer" id="{self.uid}">{hint}'
                f'<div class="pntk-explorer-controls" role="group" aria-label="frame shown">'
                f'{self._control("degree", self.degrees, i0)}{self._control("width", self.widths, j0)}</div>'
                f'<div class="pntk-explorer-frames">{shown[0]}<script>{_STATIC_SCRIPT}</script>{"".join(hidden)}</div>'
                f'<figcaption class="pntk-explorer-caption" aria-live="polite">'
                f'{html.escape(self.descriptions[(n0, m0)])}</figcaption></figure>')

    def __repr__(self) -> str:
        return (f"StaticExplorer({len(self.frames)} frames: degrees {self.degrees} x widths "
                f"{[_value_label(m) for m in self.widths]})")


def static_face(frames: dict, degrees, widths, *, descriptions: dict | None = None, caption: str = "",
                initial: tuple | None = None) -> StaticExplorer:
    r"""Build the static face from precomputed PNG frames: ``frames[(degree, width)]`` for every pair.

    A :class:`StaticExplorer`: HTML with a range input per control (labelled
    ``degree`` and ``width``, announcing "degree 3", "width 1024", "infinite
    width"), one ``<img>`` per frame with ``descriptions[(degree, width)]`` as its
    alt text (default: the values), a caption that is a polite live region
    announcing the shown frame's description, and a few lines of JavaScript that
    switch frames in the browser without a kernel.
    """
    degrees, widths = list(degrees), list(widths)
    if not degrees or not widths:
        raise ValueError("degrees and widths must each hold at least one value")
    missing = [(n, m) for m in widths for n in degrees if (n, m) not in frames]
    if missing:
        raise ValueError(f"frames lacks the (degree, width) pairs {missing}")
    for key, png in frames.items():
        if not isinstance(png, (bytes, bytearray)) or not bytes(png[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"frame {key} is not PNG bytes")
    descriptions = dict(descriptions or {})
    for n in degrees:
        for m in widths:
            text = descriptions.setdefault((n, m), f"Frame for {_VALUE_TEXT['degree'](n)}, {_VALUE_TEXT['width'](m)}.")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"descriptions[{(n, m)}] must be a non-empty string")
    initial = initial if initial is not None else (degrees[0], widths[-1])
    if initial[0] not in degrees or initial[1] not in widths:
        raise ValueError(f"initial must be a (degree, width) pair of the grid, got {initial!r}")
    return StaticExplorer({k: bytes(frames[k]) for k in descriptions}, descriptions, degrees, widths,
                          tuple(initial), caption)


def _grid(controls, degrees, widths):
    degrees = list(controls["degree"]) if degrees is None else [_choice(n, "degree", controls["degree"])
                                                                 for n in degrees]
    widths = list(controls["width"]) if widths is None else [_choice(m, "width", controls["width"]) for m in widths]
    return degrees, widths


def extrapolation_static(target: str = "cubic", train_range: float = 2.5, *, degrees=None, widths=None,
                         seed: int = 0):
    """Static face of the extrapolation explorer over degrees x widths (default: all), for one target and range."""
    c = check_controls(EXTRAPOLATION_CONTROLS, dict(EXTRAPOLATION_DEFAULTS, target=target, train_range=train_range))
    degrees, widths = _grid(EXTRAPOLATION_CONTROLS, degrees, widths)
    frames = {(n, m): extrapolation_png(n, m, c["target"], c["train_range"], seed=seed)
              for m in widths for n in degrees}
    descriptions = {(n, m): extrapolation_frame(n, m, c["target"], c["train_range"], seed=seed).description
                    for m in widths for n in degrees}
    initial = (3 if 3 in degrees else degrees[0], widths[-1])
    return static_face(frames, degrees, widths, descriptions=descriptions, initial=initial,
                       caption="Precomputed frames: move the sliders (no kernel needed).")


def spectrum_static(dim: int = 5, *, degrees=None, widths=None, seed: int = 0):
    """Static face of the spectrum explorer over degrees x widths (default: all), for one dimension."""
    c = check_controls(SPECTRUM_CONTROLS, dict(SPECTRUM_DEFAULTS, dim=dim))
    degrees, widths = _grid(SPECTRUM_CONTROLS, degrees, widths)
    frames = {(n, m): spectrum_png(n, m, c["dim"], seed=seed) for m in widths for n in degrees}
    descriptions = {(n, m): spectrum_frame(n, m, c["dim"], seed=seed).description for m in widths for n in degrees}
    initial = (3 if 3 in degrees else degrees[0], widths[-1])
    return static_face(frames, degrees, widths, descriptions=descriptions, initial=initial,
                       caption="Precomputed frames: move the sliders (no kernel needed).")


# ----------------------------------------------------------------------------
# live face
# ----------------------------------------------------------------------------

class _Spec(NamedTuple):
    controls: dict
    defaults: dict
    render: Callable


_SPECS = {
    "extrapolation": _Spec(EXTRAPOLATION_CONTROLS, EXTRAPOLATION_DEFAULTS, extrapolation_png),
    "spectrum": _Spec(SPECTRUM_CONTROLS, SPECTRUM_DEFAULTS, spectrum_png),
}


def _control_widget(name, values, value):
    w = _ipywidgets()
    if name == "degree":
        return w.IntSlider(value=value, min=min(values), max=max(values), step=1, description="degree",
                           continuous_update=False)
    options = [(_value_label(v) if name == "width" else str(v), v) for v in values]
    if name == "target":
        options = [(_TARGET_LABELS[v], v) for v in values]
    if name in ("width", "train_range"):
        label = {"width": "width", "train_range": "train on ±"}[name]
        return w.SelectionSlider(options=options, value=value, description=label, continuous_update=False)
    return w.Dropdown(options=options, value=value, description={"dim": "dimension d"}.get(name, name))


@functools.lru_cache(maxsize=1)
def _live_class():
    w = _ipywidgets()

    class LiveExplorer(w.VBox):
        """The live face: one widget per control, a message line and the figure (an ``Image``).

        ``set(**controls)`` changes several controls at once; a value outside its
        range is clamped (degree) or refused (others) with a message in the widget.
        """

        def __init__(self, name: str, **initial):
            spec = _SPECS[name]
            self.widget_name, self._spec, self._busy = name, spec, True
            self.controls = {k: _control_widget(k, v, spec.defaults[k]) for k, v in spec.controls.items()}
            self.message = w.HTML()
            self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
            super().__init__([w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap")),
                              self.message, self.image])
            for widget in self.controls.values():
                widget.observe(self._on_change, names="value")
            self._busy = False
            self.set(**initial)
            if not initial:
                self.redraw()

        def values(self) -> dict:
            """The current control values."""
            return {k: widget.value for k, widget in self.controls.items()}

        def set(self, **values) -> None:
            """Set controls; clamp a degree outside its range, refuse any other bad value, report both in the widget."""
            notes, accepted = [], {}
            for k, value in values.items():
                allowed = self._spec.controls.get(k)
                if allowed is None:
                    notes.append(f"unknown control {k!r} ignored (controls: {', '.join(self._spec.controls)})")
                    continue
                if (k == "degree" and isinstance(value, numbers.Integral) and not isinstance(value, bool)
                        and not min(allowed) <= value <= max(allowed)):
                    clamped = int(min(max(value, min(allowed)), max(allowed)))
                    notes.append(f"degree {value} is outside {min(allowed)}..{max(allowed)}: clamped to {clamped}")
                    value = clamped
                try:
                    accepted[k] = _choice(value, k, allowed)
                except ValueError as err:
                    notes.append(f"refused: {err}")
            self._busy = True
            try:
                for k, value in accepted.items():
                    self.controls[k].value = value
            finally:
                self._busy = False
            self.redraw(notes)

        def _on_change(self, change) -> None:
            if not self._busy:
                self.redraw()

        def redraw(self, notes=()) -> None:
            """Recompute (cached) and redraw for the current controls; errors become a message, not a traceback."""
            notes = list(notes)
            try:
                self.image.value = self._spec.render(**self.values())
            except Exception as err:  # a widget callback must not raise into the reader's page
                notes.append(f"could not draw: {type(err).__name__}: {err}")
            self.message.value = ("<span style='color:#b00020'>" + "<br>".join(notes) + "</span>") if notes else ""

    return LiveExplorer


def LiveExplorer(name: str, **initial):  # noqa: N802 (a class factory that reads like the class)
    """Build the live face of the widget ``name`` (``"extrapolation"`` or ``"spectrum"``)."""
    if name not in _SPECS:
        raise ValueError(f"name must be one of {list(_SPECS)}, got {name!r}")
    return _live_class()(name, **initial)


def extrapolation_explorer(**initial):
    """Live extrapolation explorer (degree, width, target, training range); ``initial`` sets controls (clamped/refused with a message)."""
    return LiveExplorer("extrapolation", **initial)


def spectrum_explorer(**initial):
    """Live spectrum explorer (degree, width, dimension); ``initial`` sets controls (clamped/refused with a message)."""
    return LiveExplorer("spectrum", **initial)


BENCH_CASES = {
    "extrapolation": (extrapolation_png,
                      [dict(degree=n, width=m, target="cubic", train_range=2.5)
                       for n in (1, 3, 8) for m in (16, 256, 1024, INFINITE)]
                      + [dict(degree=4, width=INFINITE, target=t, train_range=r)
                         for t in ("quadratic", "cos") for r in (1.5, 3.0)]),
    "spectrum": (spectrum_png,
                 [dict(degree=n, width=m, dim=d) for d in (3, 10) for n in (1, 4, 9) for m in (64, 1024, INFINITE)]),
}
"""Widget name -> (function doing the work of one live slider change, list of keyword-argument dicts)."""
