"""Argument checks shared by every public function.

Every public ``pntk`` function checks its arguments here, before any JAX code
runs, so that a reader who passes a bad value sees a ``ValueError`` or
``TypeError`` naming the argument and the allowed values instead of a JAX
traceback or a silently wrong kernel.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = ("relu", "identity")


def is_traced(value) -> bool:
    """True inside ``jit``/``grad``/``vmap``, where only shapes (not values) can be checked."""
    return isinstance(value, jax.core.Tracer)


def positive_int(value, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``.

    Python and NumPy integers and 0-d integer arrays are accepted; ``bool`` and
    floats (even integral ones such as ``2.0``) are refused with a ``TypeError``.
    """
    if isinstance(value, (np.ndarray, jax.Array)) and value.ndim == 0 and not is_traced(value) \
            and np.issubdtype(value.dtype, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            raise TypeError(
                f"{name} must be an integer >= {minimum}, got the float {value!r}; pass int({value!r})"
            )
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value}")
    return value


def nonnegative_float(value, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number >= 0, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def positive_float(value, name: str) -> float:
    """Return ``value`` as a finite float > 0."""
    value = nonnegative_float(value, name)
    if value == 0:
        raise ValueError(f"{name} must be a finite number > 0, got 0")
    return value


def activation(value) -> str:
    """Return the activation name if it is one of :data:`ACTIVATIONS`."""
    if not isinstance(value, str):
        raise TypeError(f"activation must be one of {ACTIVATIONS}, got {value!r}")
    if value not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {value!r}")
    return value


def boolean(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def points(x, name: str = "x", *, dim: int | None = None) -> jax.Array:
    """Check an ``(n, d)`` array of finite input points and return it as a float array.

    A 1-D array is read as ``n`` points in dimension 1 only when ``dim == 1``;
    otherwise rank must be exactly 2, because guessing the orientation of a
    vector silently gives a wrong kernel.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of shape (n, d), got {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of shape (n, d): {err}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array of shape (n, d), got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) (rank 2), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one point")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has input dimension 0 (shape {arr.shape}); it needs d >= 1")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has input dimension {arr.shape[1]}, expected {dim}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); all inputs must be finite")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return jnp.asarray(arr)


def point_pair(x1, x2):
    """Check two point sets that must share their input dimension."""
    x1 = points(x1, "x1")
    x2 = x1 if x2 is None else points(x2, "x2")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"x1 and x2 must have the same input dimension, got x1.shape={tuple(x1.shape)} "
            f"and x2.shape={tuple(x2.shape)}"
        )
    return x1, x2


def point_pair_traceable(x1, x2):
    """:func:`point_pair` for concrete arrays; inside ``jit`` only the shapes are checked."""
    if not (is_traced(x1) or is_traced(x2)):
        return point_pair(x1, x2)
    for arr, name in ((x1, "x1"), (x2, "x2")):
        if arr.ndim != 2:
            raise ValueError(f"{name} must have shape (n, d) (rank 2), got shape {arr.shape}")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"x1 and x2 must have the same input dimension, got x1.shape={tuple(x1.shape)} "
            f"and x2.shape={tuple(x2.shape)}"
        )
    return x1, x2


def vector(y, name: str, *, length: int | None = None) -> jax.Array:
    """Check a finite 1-D array (targets, outputs)."""
    arr = np.asarray(y)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (n,), got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have length {length} (one value per point), got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return jnp.asarray(arr, dtype=jnp.result_type(float))


def square_matrix(k, name: str, *, size: int | None = None) -> jax.Array:
    arr = np.asarray(k)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} must have shape ({size}, {size}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return jnp.asarray(arr)


def prng_key(key, name: str = "key") -> jax.Array:
    """Accept a JAX PRNG key (raw uint32[2] or typed); refuse ints so randomness stays explicit."""
    if isinstance(key, numbers.Integral):
        raise TypeError(f"{name} must be a JAX PRNG key such as jax.random.key({key}), got the integer {key}")
    arr = key if isinstance(key, jax.Array) else None
    if arr is None:
        raise TypeError(f"{name} must be a JAX PRNG key (jax.random.key(seed)), got {type(key).__name__}")
    if jnp.issubdtype(arr.dtype, jax.dtypes.prng_key):
        return arr
    if arr.dtype == jnp.uint32 and arr.shape == (2,):
        return arr
    raise TypeError(f"{name} must be a JAX PRNG key (jax.random.key(seed)), got an array of shape {arr.shape}")


def max_dense_entries(n1: int, n2: int, limit: int, what: str, alternative: str) -> None:
    """Refuse dense computations that would not fit in a laptop's memory."""
    if n1 * n2 > limit:
        raise ValueError(
            f"{what} of shape ({n1}, {n2}) has {n1 * n2:,} entries, more than the dense limit of "
            f"{limit:,}; use {alternative} instead"
        )
