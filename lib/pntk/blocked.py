r"""Gram matrices too large for one dense computation, computed block by block.

The dense kernels of :mod:`pntk.kernels` evaluate the whole :math:`n_1\times n_2`
matrix in one fused XLA program, whose temporaries take about twice the memory
of the result (measured in ``bench/``); they refuse sizes above their
``max_bytes`` argument. The functions here compute the same matrices
(:func:`pntk.kernels.pnn_ntk`: the closed form of the book chapter "The NTK of a
polynomial net"; :func:`pntk.kernels.relu_mlp_ntk`: the deep ReLU baselines) tile by tile:

* the inputs are padded to a whole number of ``block_size`` rows, so **one**
  jit-compiled program of shape ``(block_size, d) x (block_size, d)`` serves
  every tile, the ragged edge tiles included (their padding is cut off);
* each tile is written into one preallocated NumPy array (or a ``numpy.memmap``
  passed as ``out``, for results larger than memory), optionally as float32;
* for a symmetric Gram matrix (``x2 is None``) only the tiles on and above the
  diagonal are computed and mirrored, and diagonal tiles are symmetrised, so the
  result is exactly symmetric;
* tiles are dispatched asynchronously (JAX), so the next tile computes while the
  previous one is copied out; with several ``devices`` they go round-robin.

Peak memory is the result plus a few tiles in flight (34 MB per float64
2048-tile and its temporaries): for :math:`n=20\,000` the float64 result takes
3.2 GB (1.6 GB as float32); ``BENCHMARKS.md`` has the measured time and peak RSS.

The same code runs on a GPU: JAX places the tiles on its default device, or on
the ``devices`` given (``jax.devices("gpu")``). neural-tangents' ``batch`` is
the library tool for the same idea with its own kernels.
"""

from __future__ import annotations

import collections
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, kernels

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "pnn_kernel_blocked",
    "pnn_ntk_blocked",
    "pnn_nngp_blocked",
    "relu_ntk_blocked",
    "relu_mlp_kernel_blocked",
    "relu_mlp_ntk_blocked",
    "relu_mlp_nngp_blocked",
]

DEFAULT_BLOCK_SIZE = 2048
"""Rows and columns of one tile: about 34 MB per float64 tile, large enough to keep BLAS and XLA busy."""

_WHICH = ("ntk", "nngp", "both")


def _block_size(value) -> int:
    return _validate.positive_int(value, "block_size")


def _out_dtype(dtype, default):
    if dtype is None:
        return np.dtype(default)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64 (or None for the inputs' dtype), got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64 (or None for the inputs' dtype), got {dt}")
    return dt


def _devices(devices):
    if devices is None:
        return [jax.devices()[0]]
    if isinstance(devices, jax.Device):
        return [devices]
    try:
        devs = list(devices)
    except TypeError:
        raise TypeError(f"devices must be a jax.Device or a sequence of them (e.g. jax.devices()), got {devices!r}") from None
    if not devs or not all(isinstance(d, jax.Device) for d in devs):
        raise TypeError(f"devices must be a non-empty sequence of jax.Device (e.g. jax.devices()), got {devices!r}")
    return devs


def _check_out(out, shape, dtype, name):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (or numpy.memmap) of shape {shape}, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if out.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name} must have dtype float32 or float64, got {out.dtype}")
    if dtype is not None and out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype} but dtype={dtype} was asked for")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return out


def _padded_tiles(x, block):
    """``x`` padded with copies of its first row to a multiple of ``block`` rows, as ``(tiles, block, d)``."""
    n = x.shape[0]
    tiles = -(-n // block)
    pad = tiles * block - n
    if pad:
        x = np.concatenate([x, np.repeat(x[:1], pad, axis=0)], axis=0)
    return x.reshape(tiles, block, x.shape[1])


def pnn_kernel_blocked(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
                       bias: bool = False, which: str = "ntk", block_size: int = DEFAULT_BLOCK_SIZE,
                       dtype=None, devices=None, out=None):
    r"""NTK and/or NNGP of ``pntk.models.pnn`` (as :func:`pntk.kernels.pnn_kernel`), computed in tiles into a NumPy array.

    Equal to the dense :func:`pntk.kernels.pnn_ntk` / :func:`~pntk.kernels.pnn_nngp`
    to round-off (``tests/test_blocked.py``), for any size that fits in memory once.

    Args:
      x1: ``(n1, d)`` inputs.
      x2: ``(n2, d)`` inputs, or ``None`` for the symmetric Gram matrix of ``x1``
        (only the upper tiles are computed; the result is exactly symmetric).
      degree, skip, activation, bias: the model, as in :func:`pntk.kernels.pnn_kernel`.
      which: ``"ntk"``, ``"nngp"`` or ``"both"``.
      block_size: rows and columns of one tile (default :data:`DEFAULT_BLOCK_SIZE`);
        need not divide ``n1`` or ``n2``.
      dtype: dtype of the result, ``float32`` (half the memory) or ``float64``;
        default the dtype of the inputs (float64 unless float32 inputs are given).
        Tiles are computed in the inputs' dtype and cast when written.
      devices: a ``jax.Device`` or a sequence of them (e.g. ``jax.devices("gpu")``);
        tiles go round-robin over them. Default: JAX's default device.
      out: optional preallocated ``(n1, n2)`` float array to write into (e.g. a
        ``numpy.memmap`` on disk); for ``which="both"`` a pair ``(nngp, ntk)``.

    Returns:
      The ``(n1, n2)`` NumPy array, or for ``which="both"`` a
      :class:`pntk.kernels.Kernel` whose ``nngp`` and ``ntk`` are NumPy arrays
      (``var1``, ``var2`` are the diagonals :math:`K(x,x)` of the last layer).
    """
    degree, skip, activation, bias = kernels._model_options(degree, skip, activation, bias)
    which = _which(which)

    def tile(a, b):
        return kernels._pnn_kernel_jit(a, b, degree, skip, activation, bias, which)
    return _blocked(tile, x1, x2, which, block_size, dtype, devices, out)


def _which(which):
    if not isinstance(which, str) or which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    return which


def _blocked(tile_fn, x1, x2, which, block_size, dtype, devices, out):
    """The tiled computation shared by the model families: ``tile_fn(a, b)`` is one compiled tile."""
    block = _block_size(block_size)
    devs = _devices(devices)
    symmetric = x2 is None or x2 is x1
    x1j, x2j = _validate.point_pair(x1, None if symmetric else x2)
    out_dtype = _out_dtype(dtype, x1j.dtype)
    x1n = np.asarray(x1j)
    x2n = x1n if symmetric else np.asarray(x2j).astype(x1n.dtype, copy=False)
    n1, n2 = x1n.shape[0], x2n.shape[0]
    names = ("nngp", "ntk") if which == "both" else (which,)
    if out is None:
        outs = tuple(np.empty((n1, n2), dtype=out_dtype) for _ in names)
    else:
        given = out if which == "both" else (out,)
        if which == "both" and (not isinstance(out, (tuple, list)) or len(out) != 2):
            raise TypeError("for which='both', out must be a pair (nngp, ntk) of numpy arrays")
        outs = tuple(_check_out(o, (n1, n2), None if dtype is None else out_dtype, "out")
                     for o in given)

    b1, b2 = min(block, n1), min(block, n2)
    if symmetric:
        b2 = b1
    tiles1 = _padded_tiles(x1n, b1)
    tiles2 = tiles1 if symmetric else _padded_tiles(x2n, b2)
    # the inputs live on every device once; the tiles index them there
    on_device = [(jax.device_put(tiles1, d), tiles1 if symmetric else jax.device_put(tiles2, d)) for d in devs]
    if symmetric:
        on_device = [(a, a) for a, _ in on_device]
    tasks = [(i, j) for i in range(tiles1.shape[0]) for j in range(tiles2.shape[0]) if not symmetric or j >= i]

    def launch(t, task):
        i, j = task
        a, b = on_device[t % len(devs)]
        k = tile_fn(a[i], b[j])
        parts = (k.nngp, k.ntk, k.var1, k.var2) if which == "both" else (k,)
        if symmetric and i == j:
            parts = tuple(kernels._symmetrize(p) for p in parts[:2]) + parts[2:]
        return parts

    def write(task, parts):
        i, j = task
        r0, c0 = i * b1, j * b2
        r1, c1 = min(r0 + b1, n1), min(c0 + b2, n2)
        for o, p in zip(outs, parts):
            tile = np.asarray(p)[: r1 - r0, : c1 - c0]
            o[r0:r1, c0:c1] = tile
            if symmetric and i != j:
                o[c0:c1, r0:r1] = tile.T
        if which == "both":  # the last layer's variances K(x, x), from the first tile of each row / column
            if j == (i if symmetric else 0):
                var1[r0:r1] = np.asarray(parts[2])[: r1 - r0, 0]
            if i == 0:
                var2[c0:c1] = np.asarray(parts[3])[0, : c1 - c0]

    var1, var2 = np.empty(n1, dtype=out_dtype), np.empty(n2, dtype=out_dtype)
    # keep a few tiles in flight: JAX dispatch is asynchronous, so the devices compute
    # the next tiles while this thread copies a finished one into the result
    depth = max(2, len(devs))
    pending = collections.deque()
    for t, task in enumerate(tasks):
        pending.append((task, launch(t, task)))
        if len(pending) > depth:
            write(*pending.popleft())
    while pending:
        write(*pending.popleft())

    if which != "both":
        return outs[0]
    return kernels.Kernel(outs[0], outs[1], var1[:, None], (var1 if symmetric else var2)[None, :])


def pnn_ntk_blocked(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
                    bias: bool = False, block_size: int = DEFAULT_BLOCK_SIZE, dtype=None, devices=None,
                    out=None) -> np.ndarray:
    r"""Infinite-width NTK of ``pntk.models.pnn`` in tiles: :func:`pntk.kernels.pnn_ntk` for large ``n``.

    The closed form of the book chapter "The NTK of a polynomial net",
    :math:`2[\kappa_1\beta^{N-1}+x^\top x'\kappa_0\beta^{N-1}+(N-1)x^\top x'\kappa_1\kappa_0\beta^{N-2}]`;
    arguments as in :func:`pnn_kernel_blocked`.

    >>> x = pntk.data.sphere(jax.random.key(0), 20_000, 10)            # doctest: +SKIP
    >>> theta = pntk.blocked.pnn_ntk_blocked(x, degree=3, dtype="float32")  # 1.6 GB  # doctest: +SKIP
    """
    return pnn_kernel_blocked(x1, x2, degree, skip=skip, activation=activation, bias=bias, which="ntk",
                              block_size=block_size, dtype=dtype, devices=devices, out=out)


def pnn_nngp_blocked(x1, x2=None, degree: int = 1, *, skip: bool = True, activation: str = "relu",
                     bias: bool = False, block_size: int = DEFAULT_BLOCK_SIZE, dtype=None, devices=None,
                     out=None) -> np.ndarray:
    r"""Infinite-width NNGP of ``pntk.models.pnn`` in tiles (:math:`2\kappa_1\beta^{N-1}`): :func:`pntk.kernels.pnn_nngp` for large ``n``."""
    return pnn_kernel_blocked(x1, x2, degree, skip=skip, activation=activation, bias=bias, which="nngp",
                              block_size=block_size, dtype=dtype, devices=devices, out=out)


def relu_ntk_blocked(x1, x2=None, *, bias: bool = False, block_size: int = DEFAULT_BLOCK_SIZE, dtype=None,
                     devices=None, out=None) -> np.ndarray:
    r"""NTK :math:`2[\kappa_1+x^\top x'\kappa_0]` of the two-layer ReLU net in tiles: :func:`pntk.kernels.relu_ntk` for large ``n``."""
    return pnn_kernel_blocked(x1, x2, 1, bias=bias, which="ntk", block_size=block_size, dtype=dtype,
                              devices=devices, out=out)


def relu_mlp_kernel_blocked(x1, x2=None, depth: int = 1, *, bias: bool = False, which: str = "ntk",
                            block_size: int = DEFAULT_BLOCK_SIZE, dtype=None, devices=None, out=None):
    r"""NTK and/or NNGP of the ReLU MLP ``pntk.models.relu_mlp(depth, width, bias=...)``, in tiles.

    :func:`pntk.kernels.relu_mlp_kernel` for Gram matrices too large for one dense computation;
    ``depth`` and ``bias`` as there, every other argument as in :func:`pnn_kernel_blocked`.
    """
    depth, bias = kernels._mlp_options(depth, bias)
    which = _which(which)

    def tile(a, b):
        return kernels._relu_mlp_dispatch(a, b, depth, bias, which)
    return _blocked(tile, x1, x2, which, block_size, dtype, devices, out)


def relu_mlp_ntk_blocked(x1, x2=None, depth: int = 1, *, bias: bool = False, block_size: int = DEFAULT_BLOCK_SIZE,
                         dtype=None, devices=None, out=None) -> np.ndarray:
    """Infinite-width NTK of the ReLU MLP in tiles: :func:`pntk.kernels.relu_mlp_ntk` for large ``n``."""
    return relu_mlp_kernel_blocked(x1, x2, depth, bias=bias, which="ntk", block_size=block_size, dtype=dtype,
                                   devices=devices, out=out)


def relu_mlp_nngp_blocked(x1, x2=None, depth: int = 1, *, bias: bool = False, block_size: int = DEFAULT_BLOCK_SIZE,
                          dtype=None, devices=None, out=None) -> np.ndarray:
    """Infinite-width NNGP of the ReLU MLP in tiles: :func:`pntk.kernels.relu_mlp_nngp` for large ``n``."""
    return relu_mlp_kernel_blocked(x1, x2, depth, bias=bias, which="nngp", block_size=block_size, dtype=dtype,
                                   devices=devices, out=out)
