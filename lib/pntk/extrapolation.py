r"""Measuring how nets extrapolate: growth along rays, polynomial fits along rays, MAPE over training draws, training geometries, width-1 CCPs.

Book chapter "Extrapolation" (Part II). The experiments follow the official code
(LIONS-EPFL/pntk at commit 7a301db, bibliography key ``pntk_code``): ``extra/main_cube.py``,
``extra/main_cos.py``, ``extra/sphere_rsquare.py`` and
``extra/sample_scripts/sample_direction.py``.

The theory behind the measurements (chapter "Extrapolation", theorem
"Polynomial extrapolation of polynomial nets"): for :math:`r>0` the ReLU is
positively homogeneous, :math:`\sigma(r\,w^\top v)=r\,\sigma(w^\top v)`, so a
bias-free degree-:math:`N` ReLU-CCP is, along every ray :math:`x=rv`, the
polynomial :math:`f(rv)=\sum_{n=1}^N\gamma_{v,n}r^n`, and so is its NTK
kernel-regression predictor. The measurements:

* :func:`growth_exponent` — the slope of :math:`\log|f(rv)|` against :math:`\log r`
  on a range of distances; it tends to the degree of the polynomial along the ray
  as :math:`r\to\infty` (1 for a ReLU net, Xu et al. 2021).
* :func:`polynomial_r2_along_rays` — the coefficient of determination
  :math:`R^2` of a least-squares fit of :math:`f(rv)-f(r_0v)` by
  :math:`r,r^2,\dots,r^k` along each ray (the test of ``extra/sphere_rsquare.py``,
  with the intended features; see :func:`polynomial_r2`).
* :func:`mape_over_draws` — the out-of-distribution median absolute percentage
  error of kernel regression, for several kernels and targets, over independent
  training draws (test points from :func:`shell`).
* :func:`disk_sector` — training inputs in a full disk, a half-disk or a quadrant
  (``extra/sample_scripts/sample_direction.py``).

The 1-D experiments of the official code (``extra/main_cube.py``,
``extra/main_cos.py``) use a *width-1* CCP with biases,
:math:`f(x)=c\,(a_1x+b_1)\prod_{n=2}^N(1+a_nx+b_n)+c_0`, trained with Adam on
mini-batches: :func:`scalar_ccp`, :func:`adam_fit`.
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
    "ntk_regressor",
    "mape_over_draws",
    "shell",
    "ray_points",
    "values_along_rays",
    "growth_exponent",
    "polynomial_r2",
    "polynomial_r2_along_rays",
    "random_directions",
    "disk_sector",
    "half_disk",
    "quadrant",
    "MapeDraws",
    "SECTOR_ANGLES",
    "scalar_ccp",
    "AdamResult",
    "adam_fit",
]


def _ts(t, name="r", *, positive=False, minimum_length=2):
    arr = np.asarray(t, dtype=float)
    if arr.ndim != 1 or arr.shape[0] < minimum_length:
        raise ValueError(f"{name} must be a 1-D array of at least {minimum_length} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be strictly positive (it is the distance along a ray), got min {arr.min()}")
    if np.unique(arr).shape[0] != arr.shape[0]:
        raise ValueError(f"{name} must not repeat values")
    return arr


def _directions(directions):
    v = np.asarray(directions, dtype=float)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise ValueError(f"directions must have shape (n_directions, d), got {v.shape}")
    norms = np.linalg.norm(v, axis=1)
    if not np.all(np.isfinite(v)) or np.any(norms == 0):
        raise ValueError("directions must be finite and non-zero")
    return v / norms[:, None]


def ntk_regressor(x_train, y_train, degree: int, *, skip: bool = True, activation: str = "relu",
                  bias: bool = False, ridge: float = 0.0, chunk: int = 512) -> Callable:
    r"""NTK kernel regression :math:`f(x)=\Theta(x,X)\mathbf v`, :math:`\mathbf v=(\Theta(X,X)+\delta I)^{-1}y`, as a reusable predictor.

    The same predictor as :func:`pntk.training.pnn_kernel_regression`, with the
    kernel of :func:`pntk.kernels.pnn_ntk`, but the query points are evaluated
    in blocks of ``chunk`` rows (the last block zero-padded), and so are the
    training points for :math:`\Theta(X,X)`. Every evaluation therefore has the
    same shape ``(chunk, n)`` and reuses one compiled kernel per ``(n, bias)``
    (the degree is traced), which keeps a chapter that queries many point sets fast.

    Returns:
      ``predict(x) -> (len(x),)`` numpy array; ``predict.dual`` holds the dual
      coefficients :math:`\mathbf v=(\Theta(X,X)+\delta I)^{-1}y` (``ridge`` is :math:`\delta`)
      and ``predict.k_train`` the matrix :math:`\Theta(X,X)`.
    """
    from .kernels import pnn_ntk

    degree = _validate.positive_int(degree, "degree")
    skip = _validate.boolean(skip, "skip")
    activation = _validate.activation(activation)
    bias = _validate.boolean(bias, "bias")
    x_train = np.asarray(_validate.points(x_train, "x_train"))
    n, d = x_train.shape
    y_train = np.asarray(_validate.vector(y_train, "y_train", length=n))
    ridge = _validate.nonnegative_float(ridge, "ridge")
    chunk = _validate.positive_int(chunk, "chunk")
    opts = dict(skip=skip, activation=activation, bias=bias)

    def kernel_rows(z):
        z = np.asarray(_validate.points(z, "x", dim=d))
        blocks = []
        for start in range(0, z.shape[0], chunk):
            block = z[start:start + chunk]
            padded = np.zeros((chunk, d))
            padded[: block.shape[0]] = block
            k = pnn_ntk(padded, x_train, degree, **opts)  # compiled once per shape, for every degree
            blocks.append(np.asarray(k)[: block.shape[0]])
        return np.concatenate(blocks)

    k_train = kernel_rows(x_train)
    k_train = 0.5 * (k_train + k_train.T)
    try:
        dual = np.linalg.solve(k_train + ridge * np.eye(n), y_train)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the training Gram matrix is singular (repeated training points?); drop duplicates or pass ridge > 0"
        ) from None

    def predict(x):
        return kernel_rows(x) @ dual

    predict.dual = dual
    predict.k_train = k_train
    return predict


def random_directions(key, n: int, dim: int) -> np.ndarray:
    """``(n, dim)`` unit vectors uniform on the sphere (Gaussian, normalised)."""
    key = _validate.prng_key(key)
    n = _validate.positive_int(n, "n")
    dim = _validate.positive_int(dim, "dim")
    g = np.asarray(jax.random.normal(key, (n, dim), jnp.float64))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def ray_points(directions, r) -> np.ndarray:
    r"""Points :math:`r_j v_i` for unit directions :math:`v_i` (rows, normalised here): shape ``(n_dir * T, d)``, ray-major."""
    v = _directions(directions)
    r = _ts(r, minimum_length=1)
    return (v[:, None, :] * r[None, :, None]).reshape(-1, v.shape[1])


def values_along_rays(predict: Callable, directions, r) -> np.ndarray:
    r"""``(n_dir, T)`` array of :math:`f(r_j v_i)`, evaluating ``predict`` once on all the points.

    ``predict`` maps an ``(n, d)`` array to ``(n,)`` outputs (a model's
    ``apply_fn`` with its parameters bound, or a kernel-regression predictor).
    """
    if not callable(predict):
        raise TypeError("predict must be callable predict(x) -> (n,) outputs")
    v = _directions(directions)
    r = _ts(r, minimum_length=1)
    out = np.asarray(predict(ray_points(v, r)), dtype=float)
    if out.shape != (v.shape[0] * r.shape[0],):
        raise ValueError(f"predict returned shape {out.shape}, expected ({v.shape[0] * r.shape[0]},)")
    return out.reshape(v.shape[0], r.shape[0])


def growth_exponent(values, r) -> np.ndarray:
    r"""Slope of :math:`\log|f(r)|` against :math:`\log r` (least squares), per row of ``values``.

    For a polynomial :math:`p(r)=\sum_{n\le N}\gamma_nr^n` with :math:`\gamma_N\ne0`,
    :math:`\log|p(r)|=N\log r+\log|\gamma_N|+O(1/r)`, so on a range of large
    :math:`r` the slope is :math:`N` up to :math:`O(r_{\min}^{-1})`. A function that
    grows like :math:`r^N` has exponent :math:`N`; a linear extrapolator, 1. On a
    range of moderate :math:`r` (a few data radii) it is an *effective* exponent,
    which the lower-order terms pull away from :math:`N` (chapter "Extrapolation",
    the table of exponents by range).

    Args:
      values: ``(T,)`` or ``(n_rays, T)`` values :math:`f(r_jv)`; must be non-zero.
      r: ``(T,)`` strictly positive, distinct distances along the ray.

    Returns:
      The exponent (a float for 1-D ``values``, else an ``(n_rays,)`` array).
    """
    r = _ts(r, positive=True)
    y = np.asarray(values, dtype=float)
    single = y.ndim == 1
    y = np.atleast_2d(y)
    if y.ndim != 2 or y.shape[1] != r.shape[0]:
        raise ValueError(f"values must have shape (T,) or (n_rays, T) with T = len(r) = {r.shape[0]}, got {np.shape(values)}")
    if not np.all(np.isfinite(y)) or np.any(y == 0):
        raise ValueError("values must be finite and non-zero (log|f| is fitted)")
    s = np.log(r) - np.log(r).mean()
    ly = np.log(np.abs(y))
    slope = (ly - ly.mean(axis=1, keepdims=True)) @ s / (s @ s)
    return float(slope[0]) if single else slope


def polynomial_r2(values, r, degree: int) -> np.ndarray:
    r""":math:`R^2` of the least-squares fit of :math:`f(r)-f(r_0)` by :math:`1,r,\dots,r^{k}`, per row of ``values``.

    The test of the official code's ``extra/sphere_rsquare.py``, which fits with
    sklearn's ``LinearRegression`` (with an intercept). That script builds its
    features by powering the already concatenated matrix (for :math:`k=3`:
    :math:`r, r^2, r^3, r^6`); this function uses the intended features
    :math:`r,\dots,r^k`. :math:`R^2 = 1-\mathrm{SS}_{\rm res}/\mathrm{SS}_{\rm tot}`.
    The features are the powers of :math:`r/\max|r|` (the same column space,
    better conditioned). A function that *is* a polynomial of degree
    :math:`\le k` along the ray has :math:`R^2=1` up to round-off.

    Args:
      values: ``(T,)`` or ``(n_rays, T)`` with :math:`T>k+1`.
      r: ``(T,)`` distinct positions along the ray.
      degree: :math:`k\ge1`.
    """
    degree = _validate.positive_int(degree, "degree")
    r = _ts(r, minimum_length=degree + 2)
    y = np.asarray(values, dtype=float)
    single = y.ndim == 1
    y = np.atleast_2d(y)
    if y.ndim != 2 or y.shape[1] != r.shape[0]:
        raise ValueError(f"values must have shape (T,) or (n_rays, T) with T = len(r) = {r.shape[0]}, got {np.shape(values)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("values must be finite")
    y = y - y[:, :1]
    s = r / np.max(np.abs(r))
    features = s[:, None] ** np.arange(0, degree + 1)[None, :]  # (T, k+1), intercept included
    q, _ = np.linalg.qr(features)
    fitted = (y @ q) @ q.T
    ss_res = np.sum((y - fitted) ** 2, axis=1)
    ss_tot = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    if np.any(ss_tot == 0):
        raise ValueError("values are constant along a ray; R^2 is undefined there")
    r2 = 1.0 - ss_res / ss_tot
    return float(r2[0]) if single else r2


def polynomial_r2_along_rays(predict: Callable, directions, r, degrees) -> np.ndarray:
    r"""``(len(degrees), n_dir)`` array of :func:`polynomial_r2` of ``predict`` along each ray, for each fit degree.

    One evaluation of ``predict`` on all the ray points, then one fit per degree.
    """
    values = values_along_rays(predict, directions, r)
    degrees = [_validate.positive_int(k, "degrees") for k in np.atleast_1d(degrees).tolist()]
    if not degrees:
        raise ValueError("degrees must contain at least one fit degree")
    return np.stack([polynomial_r2(values, r, k) for k in degrees])


def shell(key, n: int, dim: int, inner: float, outer: float) -> np.ndarray:
    r"""``n`` points uniform (in volume) in the shell :math:`\{x\in\mathbb R^{\dim}: r_{\rm in}<\|x\|\le r_{\rm out}\}`.

    The direction is uniform on the sphere (in 1-D: a random sign) and the
    radius is :math:`(r_{\rm in}^d+U(r_{\rm out}^d-r_{\rm in}^d))^{1/d}`, :math:`U\sim U(0,1]`.
    In 1-D this is :math:`a<|x|\le b`, the test set of the chapter's 1-D
    experiments; in 2-D the ring :math:`1<\|x\|\le3` of its 2-D ones.
    Returns an ``(n, dim)`` float64 numpy array.
    """
    key = _validate.prng_key(key)
    n = _validate.positive_int(n, "n")
    dim = _validate.positive_int(dim, "dim")
    inner = _validate.nonnegative_float(inner, "inner")
    outer = _validate.positive_float(outer, "outer")
    if not outer > inner:
        raise ValueError(f"outer must be larger than inner, got inner={inner}, outer={outer}")
    k_dir, k_rad = jax.random.split(key)
    g = np.asarray(jax.random.normal(k_dir, (n, dim), jnp.float64))
    u = 1.0 - np.asarray(jax.random.uniform(k_rad, (n, 1), jnp.float64))  # in (0, 1]
    radius = (inner**dim + u * (outer**dim - inner**dim)) ** (1.0 / dim)
    return radius * g / np.linalg.norm(g, axis=1, keepdims=True)


class MapeDraws(NamedTuple):
    """What :func:`mape_over_draws` returns: the MAPE (%) of every target, model and training draw."""

    targets: tuple
    models: tuple
    mape: np.ndarray  # (n_targets, n_models, n_draws)

    def of(self, target, model) -> np.ndarray:
        """``(n_draws,)`` MAPEs of one target and one model (by name)."""
        return self.mape[self.targets.index(target), self.models.index(model)]

    def quartiles(self) -> np.ndarray:
        """``(3, n_targets, n_models)``: the 25th, 50th (median) and 75th percentiles over the draws."""
        return np.percentile(self.mape, [25, 50, 75], axis=2)

    def wins(self, model, baseline) -> np.ndarray:
        """``(n_targets,)`` number of draws in which ``model`` has a lower MAPE than ``baseline`` (paired by draw)."""
        m, b = self.models.index(model), self.models.index(baseline)
        return np.sum(self.mape[:, m] < self.mape[:, b], axis=1)


def _mapping_of_callables(value, name):
    if not isinstance(value, dict) or not value:
        raise TypeError(f"{name} must be a non-empty dict of name -> callable, got {type(value).__name__}")
    for key, fn in value.items():
        if not callable(fn):
            raise TypeError(f"{name}[{key!r}] must be callable, got {type(fn).__name__}")
    return value


def mape_over_draws(key, sample_train: Callable, sample_test: Callable, targets: dict, models: dict, *,
                    n_draws: int = 10, ridge: float = 0.0) -> MapeDraws:
    r"""Out-of-distribution MAPE of kernel regression for every target and kernel, over independent training draws.

    For draw :math:`j=0,\dots,J-1` the key ``jax.random.split(key, J)[j]`` is
    split into a training key and a test key;
    :math:`X=` ``sample_train(k_train)`` (``(n, d)``) and :math:`Z=`
    ``sample_test(k_test)`` (``(n_test, d)``). For every model, a kernel
    ``Theta(x1, x2) -> (n1, n2)``, and every target :math:`f`, the predictor is
    kernel regression (the infinite-width limit of gradient descent from a zero
    initial output),

    .. math:: \hat f(Z)=\Theta(Z,X)\bigl(\Theta(X,X)+\delta I\bigr)^{-1}f(X),

    scored with the median absolute percentage error of the official code
    (``extra/main_cos.py``; :func:`pntk.data.mape`),
    :math:`100\,\mathrm{median}_i|f(z_i)-\hat f(z_i)|/|f(z_i)|`.
    Every target and model of a draw sees the same :math:`X` and :math:`Z`, so
    comparisons between models are paired by draw (:meth:`MapeDraws.wins`).
    Chapter "Extrapolation", section "Extrapolation quality over training draws".

    Args:
      key: PRNG key.
      sample_train, sample_test: ``key -> (n, d)`` point samplers.
      targets: ``{name: f}`` with ``f((n, d)) -> (n,)``, non-zero on the test points.
      models: ``{name: Theta}`` kernels.
      n_draws: number of training draws :math:`J\ge1`.
      ridge: :math:`\delta\ge0`.

    Returns:
      :class:`MapeDraws` with ``mape`` of shape ``(len(targets), len(models), n_draws)``.
    """
    key = _validate.prng_key(key)
    if not callable(sample_train) or not callable(sample_test):
        raise TypeError("sample_train and sample_test must be callables key -> (n, d) points")
    targets = _mapping_of_callables(targets, "targets")
    models = _mapping_of_callables(models, "models")
    n_draws = _validate.positive_int(n_draws, "n_draws")
    ridge = _validate.nonnegative_float(ridge, "ridge")
    out = np.empty((len(targets), len(models), n_draws))
    for j, draw_key in enumerate(jax.random.split(key, n_draws)):
        k_train, k_test = jax.random.split(draw_key)
        x = np.asarray(_validate.points(sample_train(k_train), "sample_train(key)"), dtype=float)
        z = np.asarray(_validate.points(sample_test(k_test), "sample_test(key)", dim=x.shape[1]), dtype=float)
        y_train = np.stack([np.asarray(f(x), dtype=float) for f in targets.values()], axis=1)
        y_test = np.stack([np.asarray(f(z), dtype=float) for f in targets.values()], axis=1)
        if np.any(y_test == 0):
            raise ValueError("a target is zero at a test point; the MAPE is undefined there")
        for i, kernel in enumerate(models.values()):
            k_xx = np.asarray(kernel(x, x), dtype=float)
            k_xx = 0.5 * (k_xx + k_xx.T) + ridge * np.eye(x.shape[0])
            try:
                coef = np.linalg.solve(k_xx, y_train)
            except np.linalg.LinAlgError:
                raise ValueError("a training Gram matrix is singular (repeated training points?); "
                                 "pass ridge > 0") from None
            pred = np.asarray(kernel(z, x), dtype=float) @ coef
            out[:, i, j] = 100 * np.median(np.abs(pred - y_test) / np.abs(y_test), axis=0)
    return MapeDraws(tuple(targets), tuple(models), out)


SECTOR_ANGLES = {"full": 2 * np.pi, "half": np.pi, "quadrant": np.pi / 2}
"""Angular extent of :func:`disk_sector`'s regions: the disk, the upper half-disk, the first quadrant."""


def disk_sector(key, n: int, radius: float, sector: str = "full") -> jax.Array:
    r"""``n`` points uniform in a sector of the 2-D disk of the given radius.

    ``sector`` is ``"full"`` (angles in :math:`[0,2\pi)`), ``"half"`` (the upper
    half-disk, :math:`[0,\pi)`) or ``"quadrant"`` (:math:`[0,\pi/2)`): the three
    training geometries of the official code's ``extra/sample_scripts/sample_direction.py``.
    The radius is :math:`R\sqrt U`, so the density is uniform in area.
    """
    key = _validate.prng_key(key)
    n = _validate.positive_int(n, "n")
    radius = _validate.positive_float(radius, "radius")
    if sector not in SECTOR_ANGLES:
        raise ValueError(f"sector must be one of {sorted(SECTOR_ANGLES)}, got {sector!r}")
    k_r, k_a = jax.random.split(key)
    r = radius * jnp.sqrt(jax.random.uniform(k_r, (n,), jnp.float64))
    a = SECTOR_ANGLES[sector] * jax.random.uniform(k_a, (n,), jnp.float64)
    return jnp.stack([r * jnp.cos(a), r * jnp.sin(a)], axis=1)


def half_disk(key, n: int, radius: float) -> jax.Array:
    """:func:`disk_sector` with ``sector="half"`` (second coordinate >= 0)."""
    return disk_sector(key, n, radius, "half")


def quadrant(key, n: int, radius: float) -> jax.Array:
    """:func:`disk_sector` with ``sector="quadrant"`` (both coordinates >= 0)."""
    return disk_sector(key, n, radius, "quadrant")


class ScalarCCP(NamedTuple):
    """``(init_fn, apply_fn)`` of the width-1 CCP; unpacks as a pair."""

    init_fn: Callable
    apply_fn: Callable


def scalar_ccp(degree: int) -> ScalarCCP:
    r"""The width-1 CCP with biases of the official 1-D experiments (``extra/main_cube.py``, ``extra/main_cos.py``).

    .. math:: f(x) = c\,(a_1x+b_1)\prod_{n=2}^{N}\bigl(1+a_nx+b_n\bigr)+c_0 ,

    i.e. :math:`h=\ell_1(x)`, :math:`h\leftarrow\ell_n(x)\,h+h`, output
    :math:`\ell_{\rm out}(h)`, every :math:`\ell` a scalar affine map. It is an
    explicit polynomial of degree :math:`N` in :math:`x` with learnable roots.
    ``init_fn(key)`` draws every parameter from :math:`U[-1,1]`, PyTorch's
    default for ``nn.Linear(1, 1)``. ``apply_fn(params, x)`` maps ``(n,)`` or
    ``(n, 1)`` inputs to ``(n,)``.
    """
    degree = _validate.positive_int(degree, "degree")

    def init_fn(key):
        key = _validate.prng_key(key)
        u = jax.random.uniform(key, (2 * degree + 2,), jnp.float64, -1.0, 1.0)
        return {"a": u[:degree], "b": u[degree:2 * degree], "c": u[2 * degree], "c0": u[2 * degree + 1]}

    def apply_fn(params, x):
        x = jnp.asarray(x)
        if x.ndim == 2:
            if x.shape[1] != 1:
                raise ValueError(f"x must have shape (n,) or (n, 1), got {x.shape}")
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"x must have shape (n,) or (n, 1), got {x.shape}")
        if params["a"].shape != (degree,):
            raise ValueError(f"params['a'] has shape {params['a'].shape}; this model needs ({degree},)")
        lin = params["a"][:, None] * x[None, :] + params["b"][:, None]  # (N, n)
        h = lin[0]
        for n in range(1, degree):
            h = h * lin[n] + h
        return params["c"] * h + params["c0"]

    return ScalarCCP(init_fn, apply_fn)


class AdamResult(NamedTuple):
    """What :func:`adam_fit` returns: final parameters and the mean mini-batch MSE of each epoch."""

    params: dict
    epoch_loss: np.ndarray


def adam_fit(apply_fn: Callable, params, x, y, key, *, learning_rate: float = 1e-4, weight_decay: float = 1e-3,
             batch_size: int = 512, epochs: int = 40, b1: float = 0.9, b2: float = 0.999,
             eps: float = 1e-8) -> AdamResult:
    r"""Mini-batch Adam on the mean squared error, as PyTorch's ``torch.optim.Adam`` with ``weight_decay`` (L2).

    PyTorch adds the weight decay to the gradient, :math:`g\leftarrow g+\lambda\theta`, then

    .. math::
       m\leftarrow b_1m+(1-b_1)g,\quad v\leftarrow b_2v+(1-b_2)g^2,\quad
       \theta\leftarrow\theta-\eta\,\frac{m/(1-b_1^k)}{\sqrt{v/(1-b_2^k)}+\epsilon}.

    Each epoch shuffles the data with a key split from ``key`` and takes
    ``n // batch_size`` steps (the last partial batch is dropped).
    ``epoch_loss`` is the mean of the mini-batch losses of each epoch (before
    each step's update, as a PyTorch training loop logs it). Defaults are
    the official 1-D experiments' (lr 1e-4, weight decay 1e-3, batch 512,
    40 epochs; ``extra/main_cube.py``).
    """
    if not callable(apply_fn):
        raise TypeError("apply_fn must be callable apply_fn(params, x)")
    x = jnp.asarray(np.asarray(x, dtype=float))
    y = _validate.vector(y, "y", length=x.shape[0])
    key = _validate.prng_key(key)
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    weight_decay = _validate.nonnegative_float(weight_decay, "weight_decay")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    epochs = _validate.positive_int(epochs, "epochs")
    for name, value in (("b1", b1), ("b2", b2)):
        if not 0.0 <= float(value) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    eps = _validate.positive_float(eps, "eps")
    n = x.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) must not exceed the number of points ({n})")
    steps_per_epoch = n // batch_size
    # one shuffle per epoch, drawn outside the compiled loop: (epochs * steps_per_epoch, batch_size) indices
    # (argsort of uniforms in numpy: jax.random.permutation costs seconds on CPU at this size)
    perms = np.argsort(np.asarray(jax.random.uniform(key, (epochs, n))), axis=1)
    batches = perms[:, : steps_per_epoch * batch_size].reshape(epochs * steps_per_epoch, batch_size)
    flat, unravel, value_and_grad = flat_mse(apply_fn, params)
    run = _adam_loop(value_and_grad)  # compiled once per model layout
    flat, batch_loss = run(flat, x, y, batches, learning_rate, weight_decay, b1, b2, eps)
    epoch_loss = np.asarray(batch_loss).reshape(epochs, steps_per_epoch).mean(axis=1)
    return AdamResult(unravel(flat), epoch_loss)


@functools.lru_cache(maxsize=16)
def _adam_loop(value_and_grad):
    @jax.jit
    def run(flat, x, y, batches, lr, wd, b1, b2, eps):
        def step(state, idx):
            value, g = value_and_grad(state[0], x[idx], y[idx])
            return adam_update(state, g, lr, wd, b1, b2, eps), value

        zeros = jnp.zeros_like(flat)
        (flat, _, _, _), values = jax.lax.scan(step, (flat, zeros, zeros, jnp.asarray(0.0)), batches)
        return flat, values

    return run
