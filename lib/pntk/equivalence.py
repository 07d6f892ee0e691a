r"""Finite width against infinite width: the empirical NTK of a polynomial net, and trained nets against kernel regression.

Book chapters "The NTK of a polynomial net" (``book/pnn_ntk.md``) and
"Training a wide polynomial net is kernel regression" (``book/kernel_regression.md``).

* :func:`finite_width_ntk` writes out the finite-width NTK of
  ``pntk.models.pnn`` from its parameter gradients (book chapter "The NTK of a
  polynomial net"; the model of the official code ``spectral/utils.py``), with
  plain array arithmetic and no automatic differentiation:

  .. math::
     \hat\Theta_m(x,x') = \frac2m\sum_{i=1}^m\Bigl[h_{N,i}(x)h_{N,i}(x')
       + (x^\top x')\,c_i^2\sum_{n=1}^N D_{n,i}(x)D_{n,i}(x')
         \prod_{k\ne n}F_{k,i}(x)F_{k,i}(x')\Bigr],

  with :math:`F_{1,i}=\phi(w_{1,i}^\top x)`, :math:`F_{n,i}=1+\phi(w_{n,i}^\top x)`
  (``skip=True``) or :math:`\phi(w_{n,i}^\top x)` (``skip=False``),
  :math:`D_{n,i}=\phi'(w_{n,i}^\top x)` and :math:`h_{N,i}=\prod_n F_{n,i}`.
* :func:`ntk_error_vs_width` measures :math:`\|\hat\Theta_m-\Theta\|_F/\|\Theta\|_F`
  over widths and seeds (book chapter "The NTK of a polynomial net"); :func:`loglog_slope` and
  :func:`width_for_error` summarise it.
* :func:`sphere_ntk_diagonal` is :math:`\Theta(x,x)=2\beta(1)^{N-2}[\beta(1)+(N-1)/4]`
  on the unit sphere (book chapter "The NTK of a polynomial net").
* :func:`compare_with_linearization` trains a finite-width net by gradient
  descent and compares it with the closed-form linearised dynamics of the exact
  NTK started from the net's own initial output; :func:`distances_to_limit`
  splits the net's distance to the kernel-regression limit at every recorded
  step into the finite-width gap and the part the linearised dynamics have not
  yet fitted.
* :func:`initial_output_effect` separates, in the test error of the
  kernel-regression limit, the :math:`f_0=0` predictor from the expected
  contribution of the random initial output :math:`f_0` (NNGP formula of
  :func:`pntk.training.initial_output_variance`).

The equivalence statement these functions test is the book's Lee-style
reconstruction (chapter "Training a wide polynomial net is kernel regression"),
after Lee et al. 2019 and Arora et al. 2019: the paper's own theorem text was
not available.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import numpy as np

from . import _validate, data, kernels, models, training

__all__ = [
    "finite_width_ntk",
    "ntk_error_vs_width",
    "loglog_slope",
    "width_for_error",
    "sphere_beta_one",
    "sphere_ntk_diagonal",
    "relative_change",
    "TrainingComparison",
    "compare_with_linearization",
    "LimitDistances",
    "distances_to_limit",
    "InitialOutputEffect",
    "initial_output_effect",
]


def _factors(w, x, skip, activation):
    """Hadamard factors ``F`` and derivatives ``D`` of every branch, shape ``(N, n, m)``."""
    pre = np.matmul(x, w.transpose(0, 2, 1))  # (N, n, m)
    if activation == "relu":
        f = np.maximum(pre, 0.0)
        d = (pre > 0).astype(pre.dtype)
    else:
        f = pre.copy()
        d = np.ones_like(pre)
    if skip:
        f[1:] += 1.0
    return f, d


def _others(f):
    """``prod_{k != n} F_k`` for every ``n`` (prefix times suffix products; no division, zeros are fine)."""
    n = f.shape[0]
    prefix = np.ones_like(f)
    suffix = np.ones_like(f)
    for k in range(1, n):
        prefix[k] = prefix[k - 1] * f[k - 1]
        suffix[n - 1 - k] = suffix[n - k] * f[n - k]
    return prefix * suffix


def finite_width_ntk(params, x1, x2=None, *, skip: bool = True, activation: str = "relu",
                     bias: bool = False) -> np.ndarray:
    r"""Finite-width NTK of ``pntk.models.pnn`` at ``params``, from its gradient formula (chapter "The NTK of a polynomial net").

    The degree and width are read from ``params["W"]`` (shape ``(N, m, d)``, or
    ``(N, m, d+1)`` with ``bias=True``). The result equals
    ``pntk.kernels.empirical_ntk(apply_fn, params, x1, x2)`` to round-off, but
    needs no automatic differentiation (and no compilation), so it is cheap at
    large width.

    Args:
      params: ``{"W": (N, m, d[+1]), "c": (m,)}`` as returned by ``pnn(...).init_fn``.
      x1: ``(n1, d)`` inputs.
      x2: ``(n2, d)`` inputs, or ``None`` for ``x1``.
      skip, activation, bias: the options the model was built with.

    Returns:
      ``(n1, n2)`` array :math:`\hat\Theta_m(x_1, x_2)`.
    """
    if not isinstance(params, dict) or "W" not in params or "c" not in params:
        raise TypeError("params must be a dict {'W': (N, m, d), 'c': (m,)} from pntk.models.pnn(...).init_fn")
    w = np.asarray(params["W"], dtype=float)
    c = np.asarray(params["c"], dtype=float)
    if w.ndim != 3 or c.ndim != 1 or c.shape[0] != w.shape[1]:
        raise ValueError(f"params['W'] must have shape (N, m, d) and params['c'] shape (m,), got {w.shape} and {c.shape}")
    skip = _validate.boolean(skip, "skip")
    activation = _validate.activation(activation)
    bias = _validate.boolean(bias, "bias")
    x1, x2 = _validate.point_pair(x1, x2)
    same = x2 is x1
    x1 = np.asarray(x1, dtype=float)
    x2 = x1 if same else np.asarray(x2, dtype=float)
    if bias:
        x1 = np.concatenate([x1, np.ones((x1.shape[0], 1))], axis=1)
        x2 = x1 if same else np.concatenate([x2, np.ones((x2.shape[0], 1))], axis=1)
    if x1.shape[1] != w.shape[2]:
        raise ValueError(f"inputs have dimension {x1.shape[1] - int(bias)} but params['W'] expects "
                         f"{w.shape[2] - int(bias)} (bias={bias})")
    m = c.shape[0]
    f1, d1 = _factors(w, x1, skip, activation)
    f2, d2 = (f1, d1) if same else _factors(w, x2, skip, activation)
    h1, h2 = f1.prod(axis=0), f2.prod(axis=0)
    g1 = (d1 * _others(f1) * c).transpose(1, 0, 2).reshape(x1.shape[0], -1)  # (n1, N*m)
    g2 = g1 if same else (d2 * _others(f2) * c).transpose(1, 0, 2).reshape(x2.shape[0], -1)
    return (2.0 / m) * (h1 @ h2.T + (x1 @ x2.T) * (g1 @ g2.T))


def ntk_error_vs_width(degrees, widths, x1, x2=None, *, key, num_seeds: int = 3, skip: bool = True,
                       activation: str = "relu", bias: bool = False) -> np.ndarray:
    r"""Relative Frobenius error :math:`\|\hat\Theta_m-\Theta\|_F/\|\Theta\|_F` of the finite-width NTK at initialisation.

    For each seed one net of the largest degree and width is drawn with
    ``pntk.models.pnn(max(degrees), max(widths)).init_fn``; the net of degree
    :math:`N` and width :math:`m` uses its first :math:`N` branches and first
    :math:`m` units (nested nets: each is itself a correctly initialised
    ``pnn(N, m)``, and only one random draw per seed is compiled).

    Args:
      degrees: 1-D sequence of degrees :math:`N` of ``pntk.models.pnn``.
      widths: 1-D sequence of widths :math:`m`.
      x1, x2: inputs (``x2=None`` for the Gram matrix of ``x1``).
      key: JAX PRNG key; seed ``s`` uses ``jax.random.fold_in(key, s)``.
      num_seeds: independent initialisations.

    Returns:
      ``(len(degrees), len(widths), num_seeds)`` array of errors.
    """
    degrees = [_validate.positive_int(int(n), "degrees") for n in np.atleast_1d(degrees)]
    widths = [_validate.positive_int(int(m), "widths") for m in np.atleast_1d(widths)]
    key = _validate.prng_key(key)
    num_seeds = _validate.positive_int(num_seeds, "num_seeds")
    opts = dict(skip=skip, activation=activation, bias=bias)
    x1, x2 = _validate.point_pair(x1, x2)
    x2 = None if x2 is x1 else x2
    exact = [np.asarray(kernels.pnn_ntk(x1, x2, n, **opts)) for n in degrees]
    init, _ = models.pnn(max(degrees), max(widths), **opts)
    errors = np.empty((len(degrees), len(widths), num_seeds))
    for s in range(num_seeds):
        big = init(jax.random.fold_in(key, s), x1.shape[1])
        w, c = np.asarray(big["W"]), np.asarray(big["c"])
        for i, n in enumerate(degrees):
            for j, m in enumerate(widths):
                params = {"W": w[:n, :m], "c": c[:m]}
                errors[i, j, s] = data.relative_error(finite_width_ntk(params, x1, x2, **opts), exact[i])
    return errors


def _width_error_arrays(widths, errors):
    m = np.asarray(widths, dtype=float)
    e = np.asarray(errors, dtype=float)
    if e.ndim == 2:
        e = e.mean(axis=1)
    if m.ndim != 1 or e.shape != m.shape or m.size < 2:
        raise ValueError("widths must be 1-D with >= 2 entries and errors of shape (len(widths),) or (len(widths), seeds)")
    if np.any(m <= 0) or np.any(e <= 0):
        raise ValueError("widths and errors must be positive")
    return m, e


def loglog_slope(widths, errors) -> float:
    r"""Least-squares slope of :math:`\log e` against :math:`\log m` (about :math:`-1/2` for a Monte-Carlo average).

    ``errors`` of shape ``(len(widths), seeds)`` are averaged over seeds first.
    """
    m, e = _width_error_arrays(widths, errors)
    return float(np.polyfit(np.log(m), np.log(e), 1)[0])


def width_for_error(widths, errors, target: float, *, slope: float | None = -0.5) -> float:
    r"""Width at which the fitted law :math:`e(m)=C\,m^{s}` reaches the error ``target``.

    With the default ``slope=-0.5`` only :math:`C` is fitted (least squares in
    log space), so :math:`m = (C/\text{target})^2`; ``slope=None`` fits both.
    """
    m, e = _width_error_arrays(widths, errors)
    target = _validate.positive_float(target, "target")
    if slope is None:
        s, log_c = np.polyfit(np.log(m), np.log(e), 1)
    else:
        s = float(slope)
        if not s < 0:
            raise ValueError(f"slope must be negative (errors fall with width), got {slope}")
        log_c = float(np.mean(np.log(e) - s * np.log(m)))
    return float(np.exp((np.log(target) - log_c) / s))


def sphere_beta_one() -> float:
    r""":math:`\beta(1)=1+\sqrt{2/\pi}+\tfrac12`, the second moment of :math:`1+\sigma(w^\top x)` on the unit sphere."""
    return 1.0 + np.sqrt(2.0 / np.pi) + 0.5


def sphere_ntk_diagonal(degree) -> np.ndarray:
    r""":math:`\Theta_{\rm PNN}(x,x)=2\beta(1)^{N-2}\bigl[\beta(1)+\tfrac{N-1}4\bigr]` for :math:`\|x\|=1` (chapter "The NTK of a polynomial net").

    Follows from the closed form with :math:`\kappa_1(1)=\kappa_0(1)=\tfrac12`, :math:`t=1`.
    Accepts an integer degree or an array of them; degree 1 gives 2.
    """
    n = np.asarray(degree)
    if not np.issubdtype(n.dtype, np.integer) or np.any(n < 1):
        raise ValueError(f"degree must be an integer (or array of integers) >= 1, got {degree!r}")
    b = sphere_beta_one()
    return 2.0 * b ** (n - 2.0) * (b + (n - 1) / 4.0)


def relative_change(before, after) -> float:
    r""":math:`\|\theta_{\rm after}-\theta_{\rm before}\|/\|\theta_{\rm before}\|` over all leaves of two parameter pytrees (or arrays)."""
    a = jax.tree_util.tree_leaves(before)
    b = jax.tree_util.tree_leaves(after)
    if len(a) != len(b) or any(np.shape(u) != np.shape(v) for u, v in zip(a, b)):
        raise ValueError("before and after must have the same structure and shapes")
    num = sum(float(np.sum((np.asarray(v, float) - np.asarray(u, float)) ** 2)) for u, v in zip(a, b))
    den = sum(float(np.sum(np.asarray(u, float) ** 2)) for u in a)
    if den == 0:
        raise ValueError("before is zero; the relative change is undefined")
    return float(np.sqrt(num / den))


def _matmul_apply(degree, width, skip, activation, bias):
    """``pntk.models.pnn(...).apply_fn`` with the pre-activations laid out as ``(N, m, n)`` by one matmul.

    The same function to round-off (tested), but its gradient runs about four
    times faster under XLA on a CPU at degree 3 than the ``(N, n, m)`` einsum of
    ``pntk.models.pnn``, which matters for the long training runs of the chapter.
    """
    phi = jax.nn.relu if activation == "relu" else (lambda u: u)
    scale = np.sqrt(2.0 / width)

    def apply_fn(params, x):
        x = jax.numpy.asarray(x)
        if bias:
            x = jax.numpy.concatenate([x, jax.numpy.ones((x.shape[0], 1), x.dtype)], axis=1)
        w = params["W"]
        pre = (w.reshape(-1, w.shape[2]) @ x.T).reshape(degree, width, x.shape[0])
        factors = phi(pre)
        h = factors[0]
        for n in range(1, degree):
            h = h * (1.0 + factors[n]) if skip else h * factors[n]
        return scale * (params["c"] @ h)

    return apply_fn


@functools.lru_cache(maxsize=64)
def _cached_model(degree, width, skip, activation, bias):
    """One ``(init_fn, apply_fn)`` per architecture, so that ``training.train`` reuses its compiled loop across seeds."""
    init, _ = models.pnn(degree, width, skip=skip, activation=activation, bias=bias)
    return init, _matmul_apply(degree, width, skip, activation, bias)


class TrainingComparison(NamedTuple):
    """What :func:`compare_with_linearization` returns.

    Attributes:
      learning_rate: the step size used.
      net: :class:`pntk.training.History` of gradient descent on the finite-width net.
      linear: the linearised dynamics with the exact infinite-width NTK, started from the net's :math:`f_0`.
      linear_empirical: the same with the net's own finite-width NTK at initialisation.
      limit_test: the kernel-regression limit :math:`f_0(x)+\\Theta(x,X)\\Theta(X,X)^{-1}(y-f_0(X))` at the test points.
      test_gap: relative gap :math:`\\|f^{\\rm net}_s-f^{\\rm lin}_s\\|/\\|f^{\\rm lin}_s\\|` on the test points at the last step :math:`s` (exact NTK).
      test_gap_empirical: the same against ``linear_empirical``.
      max_test_gap: largest relative test gap (exact NTK) over the recorded steps.
      weight_change: :math:`\\|\\theta_s-\\theta_0\\|/\\|\\theta_0\\|`.
      kernel_change: :math:`\\|\\hat\\Theta_s-\\hat\\Theta_0\\|_F/\\|\\hat\\Theta_0\\|_F` on the training points.
      kernel_error_init: :math:`\\|\\hat\\Theta_0-\\Theta\\|_F/\\|\\Theta\\|_F` on the training points.
    """

    learning_rate: float
    net: training.History
    linear: training.History
    linear_empirical: training.History
    limit_test: np.ndarray
    test_gap: float
    test_gap_empirical: float
    max_test_gap: float
    weight_change: float
    kernel_change: float
    kernel_error_init: float


def compare_with_linearization(degree: int, width: int, x, y, x_test, *, key=None, params=None,
                               lr_fraction: float = 0.5,
                               steps: int = 1000, record_every: int = 50, skip: bool = True,
                               activation: str = "relu", bias: bool = False) -> TrainingComparison:
    r"""Train ``pnn(degree, width)`` by full-batch gradient descent and compare it with the linearised dynamics.

    The learning rate is ``lr_fraction`` times the largest stable rate
    :math:`n/\lambda_{\max}(\Theta(X,X))` of the exact kernel. The linearised
    dynamics (:func:`pntk.training.linearized_dynamics`)

    .. math:: r_{s+1}=(I-2\eta\Theta/n)\,r_s,\qquad
       f_s(x)=f_0(x)-\Theta(x,X)\sum_{s'<s}\tfrac{2\eta}{n}r_{s'}

    start from the net's own outputs :math:`f_0` at initialisation, so the gap
    between the two measures only the change of the kernel (finite width, and
    movement during training), which the equivalence theorem bounds (book
    chapter "Training a wide polynomial net is kernel regression"). The net is
    evaluated by :func:`_matmul_apply`, the function of ``pntk.models.pnn`` with
    a faster memory layout (equal to round-off; ``tests/test_equivalence.py``).

    Args:
      degree, width: the model ``pntk.models.pnn(degree, width, ...)``.
      x, y: ``(n, d)`` training inputs and ``(n,)`` targets.
      x_test: ``(n_test, d)`` test inputs.
      key: JAX PRNG key of the initialisation (``pnn(degree, width).init_fn(key, d)``), or
      params: the initial parameters themselves, e.g. a slice ``{"W": W[:degree, :width], "c": c[:width]}``
        of a larger net's draw (exactly one of ``key`` and ``params``).
      lr_fraction: learning rate as a fraction of the largest stable one, in ``(0, 1)``.
      steps, record_every: as in :func:`pntk.training.train`.
    """
    degree = _validate.positive_int(degree, "degree")
    width = _validate.positive_int(width, "width")
    if (key is None) == (params is None):
        raise ValueError("pass exactly one of key (a JAX PRNG key) and params (initial parameters)")
    lr_fraction = _validate.positive_float(lr_fraction, "lr_fraction")
    if lr_fraction >= 1:
        raise ValueError(f"lr_fraction must lie in (0, 1) for gradient descent to converge, got {lr_fraction}")
    x = _validate.points(x, "x")
    y = _validate.vector(y, "y", length=x.shape[0])
    x_test = _validate.points(x_test, "x_test", dim=x.shape[1])
    opts = dict(skip=skip, activation=activation, bias=bias)
    k_train = kernels.pnn_ntk(x, x, degree, **opts)
    k_test = kernels.pnn_ntk(x_test, x, degree, **opts)
    lr = lr_fraction * training.max_stable_learning_rate(k_train)
    init, apply = _cached_model(degree, width, _validate.boolean(skip, "skip"), _validate.activation(activation),
                                _validate.boolean(bias, "bias"))
    if params is None:
        params0 = init(_validate.prng_key(key), x.shape[1])
    else:
        expected = (degree, width, x.shape[1] + int(bias))
        if not isinstance(params, dict) or np.shape(params.get("W")) != expected or np.shape(params.get("c")) != (width,):
            raise ValueError(f"params must be {{'W': {expected}, 'c': ({width},)}} for this model and these inputs")
        params0 = {"W": jax.numpy.asarray(params["W"]), "c": jax.numpy.asarray(params["c"])}
    net = training.train(apply, params0, x, y, learning_rate=lr, steps=steps, record_every=record_every,
                         x_test=x_test)
    # the outputs recorded at step 0 are f_0 (no separate, uncompiled forward pass)
    f0_train, f0_test = net.train_predictions[0], net.test_predictions[0]
    lin_opts = dict(learning_rate=lr, steps=net.steps, f0_train=f0_train, f0_test=f0_test)
    linear = training.linearized_dynamics(k_train, y, k_test_train=k_test, **lin_opts)
    emp0_train = finite_width_ntk(params0, x, **opts)
    emp0_test = finite_width_ntk(params0, x_test, x, **opts)
    linear_emp = training.linearized_dynamics(emp0_train, y, k_test_train=emp0_test, **lin_opts)
    limit = np.asarray(f0_test) + np.asarray(training.kernel_regression(k_train, y - f0_train, k_test))
    net_test, lin_test = np.asarray(net.test_predictions), np.asarray(linear.test_predictions)
    gaps = np.linalg.norm(net_test - lin_test, axis=1) / np.linalg.norm(lin_test, axis=1)
    emp_t = finite_width_ntk(net.params, x, **opts)
    return TrainingComparison(
        learning_rate=lr,
        net=net,
        linear=linear,
        linear_empirical=linear_emp,
        limit_test=limit,
        test_gap=float(gaps[-1]),
        test_gap_empirical=data.relative_error(net_test[-1], np.asarray(linear_emp.test_predictions)[-1]),
        max_test_gap=float(gaps.max()),
        weight_change=relative_change(params0, net.params),
        kernel_change=data.relative_error(emp_t, emp0_train),
        kernel_error_init=data.relative_error(emp0_train, k_train),
    )


class LimitDistances(NamedTuple):
    r"""What :func:`distances_to_limit` returns: relative distances on the test points at every recorded step.

    All three are divided by :math:`\|f^{\rm KR}\|`, the norm of the
    kernel-regression limit :math:`f^{\rm KR}=f_0+\Theta(x,X)\Theta(X,X)^{-1}(y-f_0(X))`
    on the test points, so that ``net_to_limit <= net_to_linear + linear_to_limit``.

    Attributes:
      steps: ``(R,)`` recorded steps :math:`s`.
      net_to_linear: :math:`\|f_s-f^{\rm lin}_s\|/\|f^{\rm KR}\|`, the finite-width gap.
      linear_to_limit: :math:`\|f^{\rm lin}_s-f^{\rm KR}\|/\|f^{\rm KR}\|`, what the
        linearised dynamics have not yet fitted (the slow eigendirections).
      net_to_limit: :math:`\|f_s-f^{\rm KR}\|/\|f^{\rm KR}\|`.
    """

    steps: np.ndarray
    net_to_linear: np.ndarray
    linear_to_limit: np.ndarray
    net_to_limit: np.ndarray


def distances_to_limit(run: TrainingComparison) -> LimitDistances:
    r"""Split the trained net's distance to the kernel-regression limit, step by step (exact NTK).

    :math:`f_s-f^{\rm KR}=(f_s-f^{\rm lin}_s)+(f^{\rm lin}_s-f^{\rm KR})`: the first
    term is the finite width (it does not vanish as :math:`s\to\infty`), the
    second the eigendirections of :math:`\Theta(X,X)` that gradient descent has
    not yet fitted (it vanishes as :math:`s\to\infty`). Book chapter "Training a
    wide polynomial net is kernel regression".

    Args:
      run: a :class:`TrainingComparison` from :func:`compare_with_linearization`.
    """
    if not isinstance(run, TrainingComparison):
        raise TypeError(f"run must be a TrainingComparison from compare_with_linearization, got {type(run).__name__}")
    net = np.asarray(run.net.test_predictions, dtype=float)
    lin = np.asarray(run.linear.test_predictions, dtype=float)
    limit = np.asarray(run.limit_test, dtype=float)
    scale = np.linalg.norm(limit)
    if scale == 0:
        raise ValueError("the kernel-regression limit is zero on the test points; relative distances are undefined")

    def dist(a, b):
        return np.linalg.norm(a - b, axis=-1) / scale

    return LimitDistances(np.asarray(run.net.steps), dist(net, lin), dist(lin, limit), dist(net, limit))


class InitialOutputEffect(NamedTuple):
    r"""What :func:`initial_output_effect` returns (relative test errors, divided by :math:`\|y_{\rm test}\|`).

    Attributes:
      error_without_f0: :math:`\|Ay-y_{\rm test}\|/\|y_{\rm test}\|`, the kernel-regression
        predictor with :math:`f_0=0`, :math:`A=\Theta(x,X)\Theta(X,X)^{-1}`.
      f0_contribution: :math:`\sqrt{\mathbb E\|f_0(x)-Af_0(X)\|^2}/\|y_{\rm test}\|`, the
        root-mean-square size of what the random initial output adds.
      expected_error_with_f0: :math:`\sqrt{\mathbb E\|f^{\rm KR}-y_{\rm test}\|^2}/\|y_{\rm test}\|`
        with :math:`f_0` drawn from the NNGP: the two above added in quadrature.
      f0_std: root mean square of :math:`\sqrt{K(x,x)}` over the test points, the
        standard deviation of :math:`f_0` itself.
    """

    error_without_f0: float
    f0_contribution: float
    expected_error_with_f0: float
    f0_std: float


def initial_output_effect(degree: int, x, y, x_test, y_test, *, skip: bool = True, activation: str = "relu",
                          bias: bool = False) -> InitialOutputEffect:
    r"""Test error of the kernel-regression limit of ``pnn(degree, ...)`` with and without its random :math:`f_0`.

    The limit of a trained wide net is :math:`Ay+(f_0(x)-Af_0(X))`; the first
    term is NTK kernel regression, the second is random with mean zero and the
    variance of :func:`pntk.training.initial_output_variance` (NNGP
    :func:`pntk.kernels.pnn_nngp`). Because the second term has mean zero, the
    expected squared error is the sum of the squared error of :math:`Ay` and
    the trace of that variance (book chapter "Training a wide polynomial net is
    kernel regression", exercise kreg-ex-f0).

    Args:
      degree: degree :math:`N` of ``pntk.models.pnn``.
      x, y: ``(n, d)`` training inputs and ``(n,)`` targets.
      x_test, y_test: ``(n_test, d)`` test inputs and ``(n_test,)`` targets.
      skip, activation, bias: the model options.
    """
    degree = _validate.positive_int(degree, "degree")
    x = _validate.points(x, "x")
    y = np.asarray(_validate.vector(y, "y", length=x.shape[0]), dtype=float)
    x_test = _validate.points(x_test, "x_test", dim=x.shape[1])
    y_test = np.asarray(_validate.vector(y_test, "y_test", length=x_test.shape[0]), dtype=float)
    norm = np.linalg.norm(y_test)
    if norm == 0:
        raise ValueError("y_test is zero; relative errors are undefined")
    opts = dict(skip=skip, activation=activation, bias=bias)
    k_train = kernels.pnn_ntk(x, x, degree, **opts)
    k_test = kernels.pnn_ntk(x_test, x, degree, **opts)
    nngp_test = np.diag(np.asarray(kernels.pnn_nngp(x_test, x_test, degree, **opts)))
    var = training.initial_output_variance(k_train, k_test, kernels.pnn_nngp(x, x, degree, **opts),
                                           kernels.pnn_nngp(x_test, x, degree, **opts), nngp_test)
    residual = np.asarray(training.kernel_regression(k_train, y, k_test)) - y_test
    sq_err, sq_f0 = float(residual @ residual), float(var.sum())
    return InitialOutputEffect(
        error_without_f0=float(np.sqrt(sq_err) / norm),
        f0_contribution=float(np.sqrt(sq_f0) / norm),
        expected_error_with_f0=float(np.sqrt(sq_err + sq_f0) / norm),
        f0_std=float(np.sqrt(np.mean(nngp_test))),
    )
