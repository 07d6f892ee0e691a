r"""Arithmetic extrapolation on handwritten digits, at laptop scale.

Book chapter "Arithmetic on handwritten digits" (Part III). The experiment
follows ``extra/main_ad.py`` and ``extra/utils.py`` of the official code
(LIONS-EPFL/pntk at commit 7a301db, bibliography key ``pntk_code``): two
digit images side by side are mapped to a scalar (the sum of the two digits),
regressed with the mean squared error, and scored by whether the rounded
output equals the label. The official data folds (``data/fold2.pkl`` ...)
are not shipped, so the images here are scikit-learn's bundled 8x8 digits
and the split is ours (:func:`arithmetic_split`).

* :func:`load_digit_images`: the 1797 images of ``sklearn.datasets.load_digits``;
* :func:`arithmetic_split`: pairs of images, training sums ``<= max_train_sum``,
  fresh-image test sets inside and outside that range;
* :func:`adaptive_avg_pool1d`: ``torch.nn.AdaptiveAvgPool1d`` on the last axis;
* :func:`pinet`: the NCP-like net with input injection (``pinet`` of ``main_ad.py``);
* :func:`relu_mlp`: the ReLU baseline (``mlp`` of ``main_ad.py``);
* :func:`sgd_nesterov`: minibatch SGD with Nesterov momentum and weight decay
  as ``torch.optim.SGD`` does it, jit-compiled;
* :func:`arithmetic_accuracy`: the Round, FloorCeil and Leeway accuracies.

Everything is float64; models are ``(init_fn, apply_fn)`` pairs
(:class:`pntk.experiments.Net`) with explicit PRNG keys.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from .experiments import Net, _torch_linear
from .training import flat_mse

__all__ = [
    "load_digit_images",
    "ArithmeticData",
    "arithmetic_split",
    "adaptive_pool_matrix",
    "adaptive_avg_pool1d",
    "pinet",
    "relu_mlp",
    "SGDRun",
    "sgd_nesterov",
    "arithmetic_accuracy",
]

PARAMETRIZATIONS = ("torch", "ntk")


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------

def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    r"""The 1797 handwritten digits bundled with scikit-learn, as ``(images, labels)``.

    ``images`` is ``(1797, 64)`` float64 in :math:`[0,1]` (the 8x8 grey levels
    0..16 divided by 16, as ``ToTensor`` divides MNIST's 0..255 by 255 in
    ``extra/utils.py``), rows of the 8x8 image one after the other;
    ``labels`` is ``(1797,)`` int64 in 0..9. Read from the package, no download.
    """
    from sklearn.datasets import load_digits  # bundled data file

    digits = load_digits()
    return np.asarray(digits.data, np.float64) / 16.0, np.asarray(digits.target, np.int64)


class ArithmeticData(NamedTuple):
    """What :func:`arithmetic_split` returns; every ``x_*`` is ``(n, 2 d)``, every ``y_*`` ``(n,)`` float64.

    ``train``: pairs of training images with sum ``<= max_train_sum``;
    ``id_fresh``: pairs of held-out images with sum ``<= max_train_sum``;
    ``ood``: pairs of held-out images with sum ``> max_train_sum``.
    ``train_images`` / ``fresh_images`` are the image indices of the two pools.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_id: np.ndarray
    y_id: np.ndarray
    x_ood: np.ndarray
    y_ood: np.ndarray
    train_images: np.ndarray
    fresh_images: np.ndarray


def _pairs(key, pool, labels, images, n, keep, what):
    """``n`` uniformly drawn ordered pairs of distinct-position draws from ``pool`` whose label sum passes ``keep``."""
    cand = np.asarray(jax.random.randint(key, (max(64 * n, 4096), 2), 0, pool.size))
    idx = pool[cand]
    sums = labels[idx[:, 0]] + labels[idx[:, 1]]
    ok = np.flatnonzero(keep(sums))
    if ok.size < n:
        raise ValueError(f"could not draw {n} {what} pairs (only {ok.size} candidates); lower the count")
    idx = idx[ok[:n]]
    x = np.concatenate([images[idx[:, 0]], images[idx[:, 1]]], axis=1)
    return x, (labels[idx[:, 0]] + labels[idx[:, 1]]).astype(np.float64)


def arithmetic_split(key, images, labels, *, max_train_sum: int = 9, n_train: int = 2048,
                     n_test: int = 512, fresh_fraction: float = 1 / 3) -> ArithmeticData:
    r"""Pairs of digit images labelled with their sum, split for extrapolation.

    The images are first split at random into a training pool and a fresh pool
    (``fresh_fraction`` of them); no image of the fresh pool appears in any
    training pair. A pair :math:`(a,b)` of images is the concatenation of the
    two pixel vectors, its label the sum of the two digits, in 0..18.
    Training pairs are drawn uniformly among pairs of training-pool images with
    sum at most :math:`S` = ``max_train_sum``; the two test sets are drawn from
    the fresh pool, with sum at most :math:`S` (in range) and above :math:`S`
    (out of range: targets no training label reaches). For :math:`S\ge9`
    every digit class appears in both positions in training (9 only as 9+0
    when :math:`S=9`). The official folds of ``extra/main_ad.py`` are not
    shipped, so this split is ours.

    Args:
      key: JAX PRNG key (the image split and the three pair draws).
      images: ``(n_images, d)`` pixel vectors, e.g. from :func:`load_digit_images`.
      labels: ``(n_images,)`` integer digit labels in 0..9.
      max_train_sum: :math:`S`, an integer in ``[9, 17]``.
      n_train, n_test: numbers of training pairs and of pairs in each test set.
      fresh_fraction: share of the images held out for the test sets, in ``(0, 1)``.
    """
    key = _validate.prng_key(key)
    images = np.asarray(_validate.points(images, "images"), np.float64)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({images.shape[0]},), "
                         f"got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError("labels must be digits in 0..9")
    max_train_sum = _validate.positive_int(max_train_sum, "max_train_sum", minimum=9, maximum=17)
    n_train = _validate.positive_int(n_train, "n_train")
    n_test = _validate.positive_int(n_test, "n_test")
    fresh_fraction = _validate.positive_float(fresh_fraction, "fresh_fraction")
    if fresh_fraction >= 1:
        raise ValueError(f"fresh_fraction must be in (0, 1), got {fresh_fraction}")
    k_split, k_train, k_id, k_ood = jax.random.split(key, 4)
    order = np.asarray(jax.random.permutation(k_split, images.shape[0]))
    n_fresh = int(round(fresh_fraction * images.shape[0]))
    if n_fresh < 1 or n_fresh >= images.shape[0]:
        raise ValueError("fresh_fraction leaves one of the two image pools empty")
    fresh, train = np.sort(order[:n_fresh]), np.sort(order[n_fresh:])
    s = max_train_sum
    x_tr, y_tr = _pairs(k_train, train, labels, images, n_train, lambda v: v <= s, "training")
    x_id, y_id = _pairs(k_id, fresh, labels, images, n_test, lambda v: v <= s, "in-range")
    x_ood, y_ood = _pairs(k_ood, fresh, labels, images, n_test, lambda v: v > s, "out-of-range")
    return ArithmeticData(x_tr, y_tr, x_id, y_id, x_ood, y_ood, train, fresh)


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------

def adaptive_pool_matrix(length: int, output_size: int) -> np.ndarray:
    r"""The ``(length, output_size)`` matrix :math:`P` with ``x @ P`` = ``AdaptiveAvgPool1d(output_size)(x)``.

    PyTorch's definition: output :math:`i` is the mean of the inputs
    :math:`j` with :math:`\lfloor iL/n\rfloor\le j<\lceil (i+1)L/n\rceil`
    (:math:`L` = ``length``, :math:`n` = ``output_size``), for outputs
    shorter or longer than the input; bins may overlap by one element.
    """
    length = _validate.positive_int(length, "length")
    output_size = _validate.positive_int(output_size, "output_size")
    p = np.zeros((length, output_size))
    for i in range(output_size):
        lo = (i * length) // output_size
        hi = -((-(i + 1) * length) // output_size)  # ceil
        p[lo:hi, i] = 1.0 / (hi - lo)
    return p


def adaptive_avg_pool1d(x, output_size: int) -> jax.Array:
    """``torch.nn.AdaptiveAvgPool1d(output_size)`` applied to the last axis of ``x`` (see :func:`adaptive_pool_matrix`)."""
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError("x must have at least one axis to pool")
    return x @ jnp.asarray(adaptive_pool_matrix(x.shape[-1], output_size), x.dtype)


# ----------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------

def _linear(key, fan_in, fan_out, parametrization):
    """One layer: PyTorch's ``nn.Linear`` default (``U(+-1/sqrt(fan_in))``) or ``N(0, 1)`` for the NTK form."""
    if parametrization == "torch":
        return _torch_linear(key, fan_in, fan_out)
    k_w, k_b = jax.random.split(key)
    return {"w": jax.random.normal(k_w, (fan_in, fan_out), jnp.float64),
            "b": jax.random.normal(k_b, (fan_out,), jnp.float64)}


def _check_x(x, input_dim, model):
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[1] != input_dim:
        raise ValueError(f"x must have shape (n, {input_dim}) for this {model}, got {x.shape}")
    return x


def _common(input_dim, width):
    return (_validate.positive_int(input_dim, "input_dim"), _validate.positive_int(width, "width"))


def pinet(input_dim: int = 128, width: int = 256, degree: int = 4) -> Net:
    r"""The NCP-like net with input injection, ``pinet`` of ``extra/main_ad.py`` (ReLU, biases).

    With :math:`\bar z=\mathrm{AdaptiveAvgPool1d}(m)(z)\in\mathbb R^m`
    (:func:`adaptive_avg_pool1d`; :math:`m` = ``width``) and affine layers
    :math:`L_\ell(h)=W_\ell h+b_\ell`:

    .. math::
       h_1=\sigma(L_1 z),\qquad
       h_\ell=\sigma(L_\ell h_{\ell-1})*\bar z+h_{\ell-1},\ \ell=2,\dots,N,\qquad
       f(z)=L_{\rm out}h_N,

    :math:`N` = ``degree`` (4 officially, width 256, input 1568). Each of the
    :math:`N-1` Hadamard products multiplies by a linear function of
    :math:`z`, so with the identity in place of :math:`\sigma` the output is a
    polynomial of degree :math:`N` in :math:`z`. ``init_fn(key)`` draws every
    layer as PyTorch's default ``nn.Linear``. The NTK of this net at infinite
    width is not known in closed form here (the injected vector :math:`\bar z`
    itself changes with the width), so ``tests/test_digits.py`` checks only
    that its empirical NTK concentrates as the width grows.
    """
    input_dim, width = _common(input_dim, width)
    degree = _validate.positive_int(degree, "degree", minimum=2)
    return _pinet(input_dim, width, degree)


@functools.lru_cache(maxsize=32)
def _pinet(input_dim, width, degree):
    pool = adaptive_pool_matrix(input_dim, width)

    def init_fn(key):
        keys = jax.random.split(_validate.prng_key(key), degree + 1)
        dims = [input_dim] + [width] * degree
        return {"layers": [_linear(keys[l], dims[l], dims[l + 1], "torch") for l in range(degree)],
                "out": _linear(keys[degree], width, 1, "torch")}

    def apply_fn(params, x):
        z = _check_x(x, input_dim, "pinet")
        if len(params["layers"]) != degree:
            raise ValueError(f"params do not belong to a pinet of degree {degree}")
        zbar = z @ jnp.asarray(pool, z.dtype)
        layers = params["layers"]
        h = jax.nn.relu(z @ layers[0]["w"] + layers[0]["b"])
        for p in layers[1:]:
            h = jax.nn.relu(h @ p["w"] + p["b"]) * zbar + h
        return (h @ params["out"]["w"] + params["out"]["b"])[:, 0]

    return Net(init_fn, apply_fn)


def relu_mlp(input_dim: int = 128, width: int = 256, depth: int = 4, *,
             parametrization: str = "torch") -> Net:
    r"""The ReLU baseline ``mlp`` of ``extra/main_ad.py``: ``depth`` hidden layers, biases, scalar output.

    The official run increments ``_degree`` from 4 to 5 for the MLP, giving 5
    ``nn.Linear`` layers: 4 hidden layers of width 256 (``depth=4``).
    :math:`h_\ell=\sigma(u_\ell)`, :math:`f=u_{\rm out}`, with

    * ``parametrization="torch"`` (the official one): :math:`u_\ell=W_\ell h_{\ell-1}+b_\ell`,
      weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` as ``nn.Linear``;
    * ``parametrization="ntk"``: :math:`u_1=W_1x+b_1`,
      :math:`u_\ell=\sqrt{2/m}\,W_\ell h_{\ell-1}+b_\ell`, every weight and bias
      :math:`\mathcal N(0,1)`: the form of :func:`pntk.models.relu_mlp` with bias, plus a
      readout bias, so the empirical NTK tends to
      ``pntk.kernels.relu_mlp_ntk(x, x', depth, bias=True) + 1`` as the width grows.
    """
    input_dim, width = _common(input_dim, width)
    depth = _validate.positive_int(depth, "depth")
    if not isinstance(parametrization, str):
        raise TypeError(f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}")
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}")
    return _relu_mlp(input_dim, width, depth, parametrization)


@functools.lru_cache(maxsize=32)
def _relu_mlp(input_dim, width, depth, parametrization):
    dims = [input_dim] + [width] * depth + [1]
    if parametrization == "ntk":
        scales = [1.0] + [np.sqrt(2.0 / width)] * depth
    else:
        scales = [1.0] * (depth + 1)

    def init_fn(key):
        keys = jax.random.split(_validate.prng_key(key), depth + 1)
        return [_linear(k, a, b, parametrization) for k, a, b in zip(keys, dims[:-1], dims[1:])]

    def apply_fn(params, x):
        h = _check_x(x, input_dim, "relu_mlp")
        if len(params) != depth + 1:
            raise ValueError(f"params do not belong to a relu_mlp with {depth} hidden layers")
        for c, p in zip(scales[:-1], params[:-1]):
            h = jax.nn.relu(c * (h @ p["w"]) + p["b"])
        return (scales[-1] * (h @ params[-1]["w"]) + params[-1]["b"])[:, 0]

    return Net(init_fn, apply_fn)


# ----------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------

class SGDRun(NamedTuple):
    """What :func:`sgd_nesterov` returns: final parameters and the mean minibatch loss of each epoch."""

    params: object
    loss: np.ndarray


def sgd_nesterov(apply_fn: Callable, params, x, y, *, learning_rate: float = 1e-4,
                 momentum: float = 0.9, weight_decay: float = 1e-5, batch_size: int = 128,
                 epochs: int = 100) -> SGDRun:
    r"""Minibatch SGD with Nesterov momentum on the mean squared error, as ``torch.optim.SGD``.

    The optimiser of ``extra/main_ad.py`` (lr :math:`10^{-4}`, momentum 0.9,
    ``nesterov=True``, weight decay :math:`10^{-5}`, batch 128, 100 epochs,
    no shuffling). PyTorch's update, per minibatch :math:`B`:

    .. math::
       g=\nabla_\theta\tfrac1{|B|}\textstyle\sum_{i\in B}(f(x_i)-y_i)^2+\lambda\theta,\quad
       v\leftarrow\mu v+g,\quad \theta\leftarrow\theta-\eta\,(g+\mu v),

    with :math:`v=0` before the first step (PyTorch sets :math:`v=g` on the
    first step, the same thing). The batches are taken in the order of the
    data, every epoch (no shuffling, as the official loader), so the run is
    deterministic. ``n`` must be a multiple of ``batch_size`` (the official
    loader's last, smaller batch is not modelled). Compiled once per model
    layout: one ``lax.scan`` over epochs around one over batches.
    """
    if not callable(apply_fn):
        raise TypeError("apply_fn must be callable apply_fn(params, x)")
    x = _validate.points(x, "x")
    y = np.asarray(y, np.float64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},), got {y.shape}")
    learning_rate = _validate.positive_float(learning_rate, "learning_rate")
    momentum = _validate.nonnegative_float(momentum, "momentum")
    if momentum >= 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    weight_decay = _validate.nonnegative_float(weight_decay, "weight_decay")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    epochs = _validate.positive_int(epochs, "epochs")
    if x.shape[0] % batch_size:
        raise ValueError(f"the number of points ({x.shape[0]}) must be a multiple of batch_size "
                         f"({batch_size})")
    flat, unravel, value_and_grad = flat_mse(apply_fn, params)
    nb = x.shape[0] // batch_size
    xb = jnp.asarray(x, jnp.float64).reshape(nb, batch_size, x.shape[1])
    yb = jnp.asarray(y).reshape(nb, batch_size)
    run = _sgd_scan(value_and_grad, epochs)  # compiled once per model layout
    flat, loss = run(flat, xb, yb, learning_rate, momentum, weight_decay)
    return SGDRun(unravel(flat), np.asarray(loss))


@functools.lru_cache(maxsize=32)
def _sgd_scan(value_and_grad, epochs):
    @jax.jit
    def run(flat, xb, yb, lr, mu, wd):
        def step(state, batch):
            theta, v = state
            value, g = value_and_grad(theta, *batch)
            g = g + wd * theta
            v = mu * v + g
            return (theta - lr * (g + mu * v), v), value

        def epoch(state, _):
            state, values = jax.lax.scan(step, state, (xb, yb))
            return state, jnp.mean(values)

        (flat, _), losses = jax.lax.scan(epoch, (flat, jnp.zeros_like(flat)), None, length=epochs)
        return flat, losses

    return run


# ----------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------

def arithmetic_accuracy(y_true, y_pred) -> dict:
    r"""The three accuracies of ``validate()`` in ``extra/main_ad.py``, as fractions in [0, 1].

    ``round``: :math:`\mathrm{round}(\hat y)=y` (half to even, as ``torch.round``);
    ``floor_ceil``: :math:`\lfloor\hat y\rfloor=y` or :math:`\lceil\hat y\rceil=y`
    (i.e. :math:`|\hat y-y|<1` for integer :math:`y`);
    ``leeway``: :math:`|\mathrm{round}(\hat y)-y|\le1`.
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty 1-D arrays of the same shape, "
                         f"got {y_true.shape} and {y_pred.shape}")
    if not np.all(np.isfinite(y_true)) or np.any(y_true != np.round(y_true)):
        raise ValueError("y_true must hold integer labels")
    r = np.round(y_pred)
    return {"round": float(np.mean(r == y_true)),
            "floor_ceil": float(np.mean((np.floor(y_pred) == y_true) | (np.ceil(y_pred) == y_true))),
            "leeway": float(np.mean(np.abs(r - y_true) <= 1))}
