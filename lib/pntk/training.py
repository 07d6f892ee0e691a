r"""Gradient descent on finite-width nets, its infinite-width linearisation, and kernel regression.

Loss (as in the paper's code): the mean squared error
:math:`L(\theta)=\frac1n\sum_i (f_\theta(x_i)-y_i)^2`, full batch, step
:math:`\theta\leftarrow\theta-\eta\nabla L`.

In the infinite-width limit the network is its linearisation around
initialisation with the constant kernel :math:`\Theta` (Jacot et al. 2018; Lee
et al. 2019), and one gradient step on the training residual
:math:`r_s=f_s(X)-y` after :math:`s` steps is the linear map

.. math:: r_{s+1} = \bigl(I-\tfrac{2\eta}{n}\Theta(X,X)\bigr)\,r_s ,

which :func:`linearized_dynamics` evaluates at any step in closed form by an
eigendecomposition. As :math:`s\to\infty` the prediction converges to the
kernel-regression predictor :func:`kernel_regression`,
:math:`f(x)=f_0(x)+\Theta(x,X)\Theta(X,X)^{-1}(y-f_0(X))` (book chapter
"Training a wide polynomial net is kernel regression", ``book/kernel_regression.md``;
Lee et al. 2019; Arora et al. 2019). Steps are counted by :math:`s`.

:func:`slowest_contraction` and :func:`steps_to_tolerance` say how many steps
the slowest eigendirection needs; :func:`initial_output_variance` is the
variance that the random initial function :math:`f_0` (a Gaussian process with
the NNGP covariance :math:`K`) adds to the kernel-regression limit.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.flatten_util import ravel_pytree

from . import _validate

__all__ = [
    "History",
    "mse_loss",
    "train",
    "linearized_dynamics",
    "kernel_regression",
    "pnn_kernel_regression",
    "max_stable_learning_rate",
    "flat_mse",
    "slowest_contraction",
    "steps_to_tolerance",
    "initial_output_variance",
]


class History(NamedTuple):
    """What :func:`train` and :func:`linearized_dynamics` record.

    Attributes:
      steps: ``(R,)`` step numbers at which the rest was recorded (0 = initialisation).
      train_predictions: ``(R, n)`` outputs on the training inputs.
      test_predictions: ``(R, n_test)`` outputs on ``x_test``, or ``None``.
      residual_projections: ``(R, K)`` values of ``projections @ (y - f(X))``, or ``None``
        (the :math:`a_k(s)` of the spectral-bias experiment, official code ``spectral/main.py``).
      loss: ``(R,)`` mean squared error on the training set.
      params: final parameters (``None`` for the linearised dynamics).
    """

    steps: np.ndarray
    train_predictions: jax.Array
    test_predictions: Optional[jax.Array]
    residual_projections: Optional[jax.Array]
    loss: jax.Array
    params: object = None


def mse_loss(apply_fn: Callable, params, x, y) -> jax.Array:
    r""":math:`\frac1n\sum_i (f(x_i)-y_i)^2`.

    Runs under ``jax.grad``, so only shapes are checked: ``apply_fn(params, x)``
    and ``y`` must both have shape ``(n,)``.
    """
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable apply_fn(params, x), got {type(apply_fn).__name__}")
    out = apply_fn(params, x)
    if jnp.shape(out) != jnp.shape(y):
        raise ValueError(f"y must have the shape {jnp.shape(out)} of apply_fn(params, x), got {jnp.shape(y)}")
    return jnp.mean((out - y) ** 2)


def _record_steps(steps, record_every):
    steps = _validate.positive_int(steps, "steps", minimum=0)
    record_every = _validate.positive_int(record_every, "record_every")
    if steps % record_every:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})")
    return steps, record_every


def _projections(projections, n):
    if projections is None:
        return None
    p = np.asarray(projections)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or p.shape[1] != n:
        raise ValueError(f"projections must have shape (K, {n}) (one row per projected direction), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("projections contains non-finite values")
    return np.asarray(p, dtype=float)


def train(apply_fn: Callable, params, x, y, *, learning_rate: float, steps: int, record_every: int = 1,
          x_test=None, projections=None) -> History:
    """Full-batch gradient descent on :func:`mse_loss`, jit-compiled, recording every ``record_every`` steps.

    Args:
      apply_fn, params: a model from :mod:`pntk.models` and its initial parameters.
      x, y: ``(n, d)`` training inputs and ``(n,)`` targets.
      learning_rate: step size :math:`\\eta > 0`.
      steps: number of gradient steps (a multiple of ``record_every``).
      x_test: optional ``(n_test, d)`` inputs whose predictions are recorded too.
      projections: optional ``(K, n)`` matrix; records ``projections @ (y - f(X))``.
    """
    if not callable(apply_fn):
        raise TypeError("apply_fn must be callable apply_fn(params, x)")
    x = _validate.points(x, "x")
    y = _validate.vector(y, "y", length=x.shape[0])
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    steps, record_every = _record_steps(steps, record_every)
    if x_test is not None:
        x_test = _validate.points(x_test, "x_test", dim=x.shape[1])
    proj = _projections(projections, x.shape[0])
    run = _training_loop(apply_fn, steps // record_every, record_every, x_test is not None, proj is not None)
    params, (train_pred, test_pred, res_proj, loss) = run(params, x, y, learning_rate, x_test, proj)
    return History(np.arange(0, steps + 1, record_every), train_pred, test_pred, res_proj, loss, params)


@functools.lru_cache(maxsize=64)
def _training_loop(apply_fn, num_records, record_every, with_test, with_projections):
    """Compile one loop per model and recording pattern (cached: widgets retrain often)."""
    grad = jax.grad(mse_loss, argnums=1)

    def record(params, x, y, x_test, proj):
        pred = apply_fn(params, x)
        return (
            pred,
            apply_fn(params, x_test) if with_test else None,
            proj @ (y - pred) if with_projections else None,
            jnp.mean((pred - y) ** 2),
        )

    @jax.jit
    def run(params, x, y, lr, x_test, proj):
        def block(params, _):
            params = jax.lax.fori_loop(
                0, record_every,
                lambda _, p: jax.tree_util.tree_map(lambda a, g: a - lr * g, p, grad(apply_fn, p, x, y)),
                params,
            )
            return params, record(params, x, y, x_test, proj)

        first = record(params, x, y, x_test, proj)
        params, rest = jax.lax.scan(block, params, None, length=num_records)
        joined = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)
        return params, joined

    return run


def flat_mse(apply_fn: Callable, params):
    r"""The parameters as one flat vector, the map back, and the gradient of the MSE in that vector.

    Returns ``(flat, unravel, value_and_grad)`` with ``value_and_grad(flat, x, y)`` giving
    :math:`\frac1{n}\sum_i (f(x_i)-y_i)^2` (outputs reshaped to ``y``'s shape) and its
    gradient. The optimisers that work on flat parameters
    (:func:`pntk.extrapolation.adam_fit`, :func:`pntk.experiments.adam_full_batch`,
    :func:`pntk.digits.sgd_nesterov`) share it; ``value_and_grad`` is built once per
    model and parameter layout, so a loop cached on it compiles once.
    """
    if not callable(apply_fn):
        raise TypeError("apply_fn must be callable apply_fn(params, x)")
    leaves, treedef = jax.tree_util.tree_flatten(params)
    if not leaves:
        raise ValueError("params must hold at least one array")
    shapes = tuple(tuple(np.shape(leaf)) for leaf in leaves)
    flat, unravel = ravel_pytree(params)
    return jnp.asarray(flat, jnp.float64), unravel, _mse_value_and_grad(apply_fn, treedef, shapes)


@functools.lru_cache(maxsize=64)
def _mse_value_and_grad(apply_fn, treedef, shapes):
    template = jax.tree_util.tree_unflatten(treedef, [jnp.zeros(s, jnp.float64) for s in shapes])
    unravel = ravel_pytree(template)[1]

    def loss(flat, x, y):
        return jnp.mean((apply_fn(unravel(flat), x).reshape(y.shape) - y) ** 2)

    return jax.value_and_grad(loss)


def adam_update(state, grad, learning_rate, weight_decay, b1=0.9, b2=0.999, eps=1e-8):
    r"""One Adam step with PyTorch's coupled weight decay, on flat parameters (traceable, unchecked).

    ``state = (p, m, v, k)`` (parameters, first and second moments, step count); with
    :math:`g=\nabla L+\lambda_{\rm wd}\,p`: :math:`m\leftarrow b_1m+(1-b_1)g`,
    :math:`v\leftarrow b_2v+(1-b_2)g^2`,
    :math:`p\leftarrow p-\eta\,\frac{m/(1-b_1^k)}{\sqrt{v/(1-b_2^k)}+\epsilon}`.
    The inner step of :func:`pntk.extrapolation.adam_fit` and
    :func:`pntk.experiments.adam_full_batch`, which check their arguments.
    """
    p, m, v, k = state
    g = grad + weight_decay * p
    k = k + 1.0
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    p = p - learning_rate * (m / (1 - b1**k)) / (jnp.sqrt(v / (1 - b2**k)) + eps)
    return p, m, v, k


def max_stable_learning_rate(k_train) -> float:
    r"""Largest :math:`\eta` for which gradient descent on the linearised model converges: :math:`n/\lambda_{\max}`.

    The residual contracts by :math:`|1-2\eta\lambda/n|` per step along each
    eigenvector, which is below 1 for all eigenvalues iff :math:`\eta<n/\lambda_{\max}`.
    A rate :math:`\tfrac12\,n/\lambda_{\max}` puts every net at the same fraction of its
    own limit, the fair comparison of the chapter "Learning speed per frequency".
    """
    k = np.asarray(_validate.square_matrix(k_train, "k_train"))
    n = k.shape[0]
    # only the top eigenvalue: a widget frame needs this rate at every slider change
    lam_max = float(scipy.linalg.eigh(k, eigvals_only=True, subset_by_index=[n - 1, n - 1])[0])
    if not lam_max > 0:
        raise ValueError("k_train has no positive eigenvalue")
    return n / lam_max


def _eigh_psd(k) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigenvalues (ascending, round-off negatives set to 0) and eigenvectors of a PSD kernel matrix.

    The one eigendecomposition behind the closed forms of the linearised dynamics
    (:func:`linearized_dynamics`, :func:`pntk.frequency.projection_dynamics`): scipy's
    ``evr`` driver, several times faster than numpy's ``eigh`` on a few hundred points.
    """
    lam, v = scipy.linalg.eigh(np.asarray(k, dtype=float), driver="evr")
    return np.clip(lam, 0.0, None), v


def _contraction_powers(lam, learning_rate: float, steps, n: int) -> np.ndarray:
    r"""``(R, n)`` powers :math:`q_i^{s}` of the per-direction contractions :math:`q_i=1-2\eta\lambda_i/n`.

    Computed as :math:`\operatorname{sign}(q)^{s \bmod 2}\,|q|^s`, exact for negative
    :math:`q` (rates above :math:`n/(2\lambda_i)`) with float exponents.
    """
    q = 1.0 - 2.0 * learning_rate * np.asarray(lam) / n
    t = np.asarray(steps)[:, None]
    return np.sign(q)[None, :] ** (t % 2) * np.abs(q)[None, :] ** t.astype(float)


def linearized_dynamics(k_train, y, *, learning_rate: float, steps, k_test_train=None, f0_train=None,
                        f0_test=None, projections=None) -> History:
    r"""Gradient descent on the infinite-width linearised model, in closed form at the given steps.

    With :math:`\Theta=V\Lambda V^\top` and :math:`q=1-2\eta\lambda/n`, after :math:`s` steps:

    .. math::
       f_s(X) = y + V q^s V^\top (f_0(X)-y),\qquad
       f_s(x) = f_0(x) - \Theta(x,X)\,V\,\frac{1-q^s}{\lambda}\,V^\top (f_0(X)-y),

    with the limit :math:`2\eta s/n` of :math:`(1-q^s)/\lambda` at :math:`\lambda=0`:
    exactly what :func:`train` computes for a linear model with kernel :math:`\Theta`.
    On fresh points :math:`x` this is what the net *predicts*, which tells learning
    apart from interpolation of the sample (book chapter "Learning speed per
    frequency"); stack the rows of several sets of points in ``k_test_train`` to get
    them all from one eigendecomposition.

    Args:
      k_train: ``(n, n)`` kernel :math:`\Theta(X,X)`.
      y: ``(n,)`` targets.
      learning_rate: :math:`\eta`.
      steps: step numbers to evaluate (any non-negative integers).
      k_test_train: optional ``(n_test, n)`` kernel :math:`\Theta(x_{test},X)`.
      f0_train, f0_test: outputs at initialisation (default 0, the mean of the
        infinite-width prior).
      projections: optional ``(K, n)``; records ``projections @ (y - f_s(X))``.
    """
    k = _validate.square_matrix(k_train, "k_train")
    n = k.shape[0]
    y = np.asarray(_validate.vector(y, "y", length=n))
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    t = np.atleast_1d(np.asarray(steps))
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError("steps must be a non-negative integer or a 1-D array of them")
    f0 = np.zeros(n) if f0_train is None else np.asarray(_validate.vector(f0_train, "f0_train", length=n))
    proj = _projections(projections, n)
    lam, v = _eigh_psd(k)
    r0 = v.T @ (f0 - y)
    decay = _contraction_powers(lam, learning_rate, t, n)  # (R, n)
    train_pred = y[None, :] + (decay * r0[None, :]) @ v.T
    test_pred = None
    if k_test_train is not None:
        kt = np.asarray(k_test_train, dtype=float)
        if kt.ndim != 2 or kt.shape[1] != n or not np.all(np.isfinite(kt)):
            raise ValueError(f"k_test_train must be a finite array of shape (n_test, {n}), got {kt.shape}")
        g0 = (np.zeros(kt.shape[0]) if f0_test is None
              else np.asarray(_validate.vector(f0_test, "f0_test", length=kt.shape[0])))
        safe = np.where(lam > 0, lam, 1.0)
        gain = np.where(lam[None, :] > 0, (1.0 - decay) / safe[None, :], 2 * learning_rate * t[:, None] / n)
        test_pred = g0[None, :] - ((gain * r0[None, :]) @ v.T) @ kt.T
    res = (y[None, :] - train_pred) @ proj.T if proj is not None else None
    loss = np.mean((train_pred - y[None, :]) ** 2, axis=1)
    return History(t, train_pred, test_pred, res, loss, None)


def kernel_regression(k_train, y, k_test_train=None, *, ridge: float = 0.0) -> jax.Array:
    r"""Kernel-regression predictor :math:`\Theta(x,X)\,\mathbf v`, :math:`\mathbf v=(\Theta(X,X)+\delta I)^{-1}y`.

    ``ridge`` is the ridge :math:`\delta\ge0` and :math:`\mathbf v` the dual
    coefficients (book chapter "Training a wide polynomial net is kernel regression").
    Returns predictions at the test points of ``k_test_train`` (``(n_test, n)``),
    or at the training points when it is ``None``. With ``ridge=0`` this is the
    limit of gradient descent on a wide net started from :math:`f_0=0`; to
    include a non-zero initial output :math:`f_0`, regress :math:`y-f_0(X)` and
    add :math:`f_0(x)`.
    """
    k = _validate.square_matrix(k_train, "k_train")
    n = k.shape[0]
    y = _validate.vector(y, "y", length=n)
    ridge = _validate.nonnegative_float(ridge, "ridge")
    kt = k if k_test_train is None else jnp.asarray(k_test_train)
    if kt.ndim != 2 or kt.shape[1] != n:
        raise ValueError(f"k_test_train must have shape (n_test, {n}), got {kt.shape}")
    v = jax.scipy.linalg.solve(k + ridge * jnp.eye(n, dtype=k.dtype), y, assume_a="pos")
    if not bool(jnp.all(jnp.isfinite(v))):
        # JAX returns NaN instead of raising: a singular k_train (e.g. repeated points) must not pass silently
        raise ValueError(
            "k_train + ridge * I is singular or not positive definite (repeated training points?); "
            "drop duplicates or pass ridge > 0"
        )
    return kt @ v


def pnn_kernel_regression(x_train, y_train, x_test, degree: int, *, skip: bool = True, activation: str = "relu",
                          bias: bool = False, ridge: float = 0.0) -> jax.Array:
    """NTK kernel regression with the exact kernel of ``pntk.models.pnn(degree, ...)``: the infinitely wide trained net."""
    from .kernels import pnn_ntk

    x_train = _validate.points(x_train, "x_train")
    x_test = _validate.points(x_test, "x_test", dim=x_train.shape[1])
    y_train = _validate.vector(y_train, "y_train", length=x_train.shape[0])
    opts = dict(skip=skip, activation=activation, bias=bias)
    return kernel_regression(pnn_ntk(x_train, x_train, degree, **opts), y_train,
                             pnn_ntk(x_test, x_train, degree, **opts), ridge=ridge)


def _contraction_factors(k_train, learning_rate):
    k = _validate.square_matrix(k_train, "k_train")
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    lam = np.clip(np.linalg.eigvalsh(np.asarray(k, dtype=float)), 0.0, None)
    return np.abs(1.0 - 2.0 * learning_rate * lam / k.shape[0])


def slowest_contraction(k_train, learning_rate: float) -> float:
    r"""Largest contraction factor :math:`\max_j|1-2\eta\lambda_j/n|` of the linearised dynamics.

    The residual along the eigenvector of :math:`\lambda_j` is multiplied by
    :math:`q_j=1-2\eta\lambda_j/n` per step. At :math:`\eta=n/(2\lambda_{\max})`
    (half the largest stable rate) the factors are :math:`1-\lambda_j/\lambda_{\max}`,
    and the slowest is :math:`1-\lambda_{\min}/\lambda_{\max}`, one minus the
    inverse condition number (book chapter "Training a wide polynomial net is
    kernel regression"). A value :math:`\ge1` means no convergence (a zero
    eigenvalue, or :math:`\eta\ge n/\lambda_{\max}`).
    """
    return float(_contraction_factors(k_train, learning_rate).max())


def steps_to_tolerance(k_train, learning_rate: float, tolerance: float = float(np.finfo(float).eps)) -> int:
    r"""Fewest steps :math:`s` with :math:`q^s\le` ``tolerance`` for the slowest factor :math:`q` (:func:`slowest_contraction`).

    :math:`s=\lceil\ln(\text{tolerance})/\ln q\rceil`: after that many steps every
    eigendirection of the residual has shrunk by at least ``tolerance`` (default:
    the float64 machine epsilon, i.e. down to round-off). Raises ``ValueError``
    when the dynamics do not converge (:math:`q\ge1`).
    """
    tolerance = _validate.positive_float(tolerance, "tolerance")
    if not tolerance < 1:
        raise ValueError(f"tolerance must lie in (0, 1), got {tolerance}")
    q = slowest_contraction(k_train, learning_rate)
    if not q < 1:
        raise ValueError(f"the dynamics do not converge (slowest factor {q:.6g} >= 1): "
                         "k_train must be positive definite and learning_rate < n / lambda_max")
    if q == 0:
        return 1
    return int(np.ceil(np.log(tolerance) / np.log(q)))


def initial_output_variance(k_train, k_test_train, nngp_train, nngp_test_train, nngp_test) -> np.ndarray:
    r"""Variance, at each test point, of what the random initial output adds to the kernel-regression limit.

    The limit :math:`f_0(x)+A\,(y-f_0(X))`, :math:`A=\Theta(x,X)\Theta(X,X)^{-1}`,
    is the :math:`f_0=0` predictor :math:`Ay` plus :math:`f_0(x)-Af_0(X)`. For
    :math:`f_0` a centred Gaussian process with covariance :math:`K` (the NNGP,
    :func:`pntk.kernels.pnn_nngp`, at infinite width) that term has covariance

    .. math:: K(x,x')-A K(X,x')-K(x,X)A^\top+A\,K(X,X)\,A^\top ,

    whose diagonal is returned (book chapter "Training a wide polynomial net is
    kernel regression", exercise kreg-ex-f0). So the expected squared test error
    of the limit is :math:`\|Ay-y_{\rm test}\|^2` plus the sum of this vector.

    Args:
      k_train: ``(n, n)`` NTK :math:`\Theta(X,X)` (positive definite).
      k_test_train: ``(n_test, n)`` NTK :math:`\Theta(x_{\rm test},X)`.
      nngp_train: ``(n, n)`` NNGP :math:`K(X,X)`.
      nngp_test_train: ``(n_test, n)`` NNGP :math:`K(x_{\rm test},X)`.
      nngp_test: ``(n_test,)`` diagonal :math:`K(x,x)` at the test points, or the
        ``(n_test, n_test)`` matrix (only its diagonal is used).

    Returns:
      ``(n_test,)`` array of variances (clipped at 0 against round-off).
    """
    k = np.asarray(_validate.square_matrix(k_train, "k_train"), dtype=float)
    n = k.shape[0]
    kxx = np.asarray(_validate.square_matrix(nngp_train, "nngp_train", size=n), dtype=float)
    kt = np.asarray(k_test_train, dtype=float)
    if kt.ndim != 2 or kt.shape[1] != n:
        raise ValueError(f"k_test_train must have shape (n_test, {n}), got {kt.shape}")
    ktx = np.asarray(nngp_test_train, dtype=float)
    if ktx.shape != kt.shape:
        raise ValueError(f"nngp_test_train must have shape {kt.shape} like k_test_train, got {ktx.shape}")
    ktt = np.asarray(nngp_test, dtype=float)
    if ktt.ndim == 2:
        if ktt.shape != (kt.shape[0], kt.shape[0]):
            raise ValueError(f"nngp_test must have shape ({kt.shape[0]},) or {(kt.shape[0],) * 2}, got {ktt.shape}")
        ktt = np.diag(ktt)
    if ktt.shape != (kt.shape[0],):
        raise ValueError(f"nngp_test must have shape ({kt.shape[0]},) or {(kt.shape[0],) * 2}, got {ktt.shape}")
    for name, arr in (("k_test_train", kt), ("nngp_test_train", ktx), ("nngp_test", ktt)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains non-finite values")
    a = np.linalg.solve(k, kt.T).T  # A = Theta(x, X) Theta(X, X)^{-1} (Theta symmetric)
    if not np.all(np.isfinite(a)):
        raise ValueError("k_train is singular; the kernel-regression limit is undefined")
    var = ktt - 2.0 * np.einsum("ij,ij->i", a, ktx) + np.einsum("ij,jk,ik->i", a, kxx, a)
    return np.clip(var, 0.0, None)
