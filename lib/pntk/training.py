r"""Gradient descent on finite-width nets, its infinite-width linearisation, and kernel regression.

Loss (as in the paper's code): the mean squared error
:math:`L(\theta)=\frac1n\sum_i (f_\theta(x_i)-y_i)^2`, full batch, step
:math:`\theta\leftarrow\theta-\eta\nabla L`.

In the infinite-width limit the network is its linearisation around
initialisation with the constant kernel :math:`\Theta` (Jacot et al. 2018; Lee
et al. 2019), and one gradient step on the training residual
:math:`r_t=f_t(X)-y` is the linear map

.. math:: r_{t+1} = \bigl(I-\tfrac{2\eta}{n}\Theta(X,X)\bigr)\,r_t ,

which :func:`linearized_dynamics` evaluates at any step in closed form by an
eigendecomposition. As :math:`t\to\infty` the prediction converges to the
kernel-regression predictor :func:`kernel_regression`,
:math:`f(x)=f_0(x)+\Theta(x,X)\Theta(X,X)^{-1}(y-f_0(X))` (paper digest §4.2).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate

__all__ = [
    "History",
    "mse_loss",
    "train",
    "linearized_dynamics",
    "kernel_regression",
    "pnn_kernel_regression",
    "max_stable_learning_rate",
]


class History(NamedTuple):
    """What :func:`train` and :func:`linearized_dynamics` record.

    Attributes:
      steps: ``(R,)`` step numbers at which the rest was recorded (0 = initialisation).
      train_predictions: ``(R, n)`` outputs on the training inputs.
      test_predictions: ``(R, n_test)`` outputs on ``x_test``, or ``None``.
      residual_projections: ``(R, K)`` values of ``projections @ (y - f(X))``, or ``None``
        (the :math:`a_k(t)` of the spectral-bias experiment, paper digest §5.8).
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
    return jnp.asarray(p, dtype=jnp.result_type(float))


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


def max_stable_learning_rate(k_train) -> float:
    r"""Largest :math:`\eta` for which gradient descent on the linearised model converges: :math:`n/\lambda_{\max}`.

    The residual contracts by :math:`|1-2\eta\lambda/n|` per step along each
    eigenvector, which is below 1 for all eigenvalues iff :math:`\eta<n/\lambda_{\max}`.
    """
    k = _validate.square_matrix(k_train, "k_train")
    return float(k.shape[0] / jnp.linalg.eigvalsh(k)[-1])


def linearized_dynamics(k_train, y, *, learning_rate: float, steps, k_test_train=None, f0_train=None,
                        f0_test=None, projections=None) -> History:
    r"""Gradient descent on the infinite-width linearised model, in closed form at the given steps.

    With :math:`\Theta=V\Lambda V^\top` and :math:`q=1-2\eta\lambda/n`:

    .. math::
       f_t(X) = y + V q^t V^\top (f_0(X)-y),\qquad
       f_t(x) = f_0(x) - \Theta(x,X)\,V\,\frac{1-q^t}{\lambda}\,V^\top (f_0(X)-y),

    which is exactly what :func:`train` computes for a linear model with kernel :math:`\Theta`.

    Args:
      k_train: ``(n, n)`` kernel :math:`\Theta(X,X)`.
      y: ``(n,)`` targets.
      learning_rate: :math:`\eta`.
      steps: step numbers to evaluate (any non-negative integers).
      k_test_train: optional ``(n_test, n)`` kernel :math:`\Theta(x_{test},X)`.
      f0_train, f0_test: outputs at initialisation (default 0, the mean of the
        infinite-width prior).
      projections: optional ``(K, n)``; records ``projections @ (y - f_t(X))``.
    """
    k = _validate.square_matrix(k_train, "k_train")
    n = k.shape[0]
    y = _validate.vector(y, "y", length=n)
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    t = np.atleast_1d(np.asarray(steps))
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError("steps must be a non-negative integer or a 1-D array of them")
    f0 = jnp.zeros(n) if f0_train is None else _validate.vector(f0_train, "f0_train", length=n)
    proj = _projections(projections, n)
    lam, v = jnp.linalg.eigh(k)
    lam = jnp.clip(lam, 0.0, None)  # round-off negatives of a PSD kernel
    q = 1.0 - 2.0 * learning_rate * lam / n
    r0 = v.T @ (f0 - y)
    tt = jnp.asarray(t, dtype=lam.dtype)[:, None]
    decay = q[None, :] ** tt  # (R, n)
    train_pred = y[None, :] + (decay * r0[None, :]) @ v.T
    test_pred = None
    if k_test_train is not None:
        kt = np.asarray(k_test_train)
        if kt.ndim != 2 or kt.shape[1] != n:
            raise ValueError(f"k_test_train must have shape (n_test, {n}), got {kt.shape}")
        g0 = jnp.zeros(kt.shape[0]) if f0_test is None else _validate.vector(f0_test, "f0_test", length=kt.shape[0])
        # (1 - q^t)/lambda, with its limit 2*eta*t/n at lambda = 0
        safe = jnp.where(lam > 0, lam, 1.0)
        gain = jnp.where(lam[None, :] > 0, (1.0 - decay) / safe[None, :], 2 * learning_rate * tt / n)
        test_pred = g0[None, :] - ((gain * r0[None, :]) @ v.T) @ jnp.asarray(kt).T
    res = (y[None, :] - train_pred) @ proj.T if proj is not None else None
    loss = jnp.mean((train_pred - y[None, :]) ** 2, axis=1)
    return History(t, train_pred, test_pred, res, loss, None)


def kernel_regression(k_train, y, k_test_train=None, *, ridge: float = 0.0) -> jax.Array:
    r"""Kernel-regression predictor :math:`\Theta(x,X)\,(\Theta(X,X)+\lambda I)^{-1}y` (paper digest §4.2).

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
    alpha = jax.scipy.linalg.solve(k + ridge * jnp.eye(n, dtype=k.dtype), y, assume_a="pos")
    if not bool(jnp.all(jnp.isfinite(alpha))):
        # JAX returns NaN instead of raising: a singular k_train (e.g. repeated points) must not pass silently
        raise ValueError(
            "k_train + ridge * I is singular or not positive definite (repeated training points?); "
            "drop duplicates or pass ridge > 0"
        )
    return kt @ alpha


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
