"""A fast, accurate ``arccos`` for float64 kernels.

XLA's float64 ``arccos`` on CPU is several times slower than the rest of an
arc-cosine kernel put together (measured in ``bench/``). The rational
approximation below (Cephes ``asin``/``acos``, S. L. Moshier) uses only
multiply, add, divide and ``sqrt``, which XLA vectorises, and is accurate to
about one ulp on [-1, 1]; ``tests/test_kernels.py`` checks it against
``numpy.arccos``.
"""

from __future__ import annotations

import jax.numpy as jnp

_P = (4.253011369004428248960e-3, -6.019598008014123785661e-1, 5.444622390564711410273e0,
      -1.626247967210700244449e1, 1.956261983317594739197e1, -8.198089802484824371615e0)
_Q = (1.0, -1.474091372988853791896e1, 7.049610280856842141659e1, -1.471791292232726029859e2,
      1.395105614657485689735e2, -4.918853881490881290097e1)
_R = (2.967721961301243206100e-3, -5.634242780008963776856e-1, 6.968710824104713396794e0,
      -2.556901049652824852289e1, 2.853665548261061424989e1)
_S = (1.0, -2.194779531642920639778e1, 1.470656354026814941758e2, -3.838770957603691357202e2,
      3.424398657913078477438e2)
_PIO4 = 7.85398163397448309616e-1
_MOREBITS = 6.123233995736765886130e-17


def _horner(coefficients, z):
    out = jnp.full_like(z, coefficients[0])
    for c in coefficients[1:]:
        out = out * z + c
    return out


def _asin_nonneg(a):
    """asin(a) for a in [0, 1], Cephes' two-range rational approximation."""
    # |a| <= 0.625: asin(a) = a + a * z * P(z) / Q(z) with z = a^2
    z = a * a
    small = a + a * (z * _horner(_P, z) / _horner(_Q, z))
    # |a| > 0.625: asin(a) = pi/2 - 2 asin(sqrt((1 - a) / 2)), written to keep full precision
    zz = 1.0 - a
    p = zz * _horner(_R, zz) / _horner(_S, zz)
    s = jnp.sqrt(zz + zz)
    large = _PIO4 - ((s * p - _MOREBITS) - (_PIO4 - s))
    return jnp.where(a > 0.625, large, small)


def arccos(c):
    """``arccos(c)`` for ``c`` in [-1, 1] (inputs must already be clipped).

    float64 uses the rational approximation; other dtypes fall back to
    ``jnp.arccos``, which is fast enough in single precision.
    """
    if c.dtype != jnp.float64:
        return jnp.arccos(c)
    # Cephes acos: 2 asin(sqrt((1 -+ c)/2)) for |c| > 1/2, pi/2 - asin(c) otherwise. Both asin
    # arguments lie in [0, 1/2], inside the range of the first rational approximation, so one
    # evaluation of it at the selected argument serves both branches (4x fewer than evaluating
    # both branches of _asin_nonneg twice; the values are the same; measured in bench/).
    a = jnp.abs(c)
    outer_branch = a > 0.5
    z = jnp.where(outer_branch, jnp.sqrt(0.5 * (1.0 - a)), a)
    zz = z * z
    s = z + z * (zz * _horner(_P, zz) / _horner(_Q, zz))  # asin(z), z in [0, 1/2]
    outer = 2.0 * s  # acos(|c|) for |c| > 1/2
    outer = jnp.where(c < 0, jnp.pi - outer, outer)
    inner = (_PIO4 - jnp.sign(c) * s + _MOREBITS) + _PIO4
    return jnp.where(outer_branch, outer, inner)
