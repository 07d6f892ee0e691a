"""Samplers, targets and metrics: shapes, geometry, determinism under explicit keys."""

import jax
import numpy as np

from pntk import data


def test_samplers_have_the_right_geometry_and_are_deterministic():
    key = jax.random.key(42)
    s = np.asarray(data.sphere(key, 500, 4))
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(s, np.asarray(data.sphere(jax.random.key(42), 500, 4)))
    assert not np.array_equal(s, np.asarray(data.sphere(jax.random.key(43), 500, 4)))
    b = np.asarray(data.ball(key, 4000, 2, radius=2.0))
    r = np.linalg.norm(b, axis=1)
    assert r.max() <= 2.0
    # uniform in the disk: P(r < 1) = (1/2)^2
    assert abs(np.mean(r < 1.0) - 0.25) < 0.03
    c = np.asarray(data.cube(key, 1000, 3, half_width=0.5))
    assert c.shape == (1000, 3) and np.abs(c).max() <= 0.5


def test_targets_and_rays():
    x = np.array([[1.0, 2.0], [-2.0, 0.5]])
    np.testing.assert_allclose(data.target("quadratic")(x), [5.0, 4.25])
    np.testing.assert_allclose(data.target("cubic")(x), [1 + 1 - 5 + 5, -8 + 4 + 10 + 5])
    np.testing.assert_allclose(data.target("cubic_plus_linear")(x), [3.0, -7.5])
    np.testing.assert_allclose(data.target("cos2x")(x), np.cos(2 * x[:, 0]))
    pts = np.asarray(data.ray([3.0, 4.0], [0.0, 5.0]))
    np.testing.assert_allclose(pts, [[0, 0], [3, 4]])


def test_mape_is_a_median_percentage():
    assert abs(data.mape([1.0, 2.0, 4.0], [1.1, 2.0, 0.0]) - 10.0) < 1e-12  # errors 10%, 0%, 100%


def test_zonal_target_is_a_sum_of_harmonics_of_the_right_degrees():
    """With parameter (d-2)/2 each term is orthogonal to lower-degree harmonics (zero mean, for k >= 1)."""
    tgt = data.zonal_harmonic_target(jax.random.key(0), 5, degrees=(1, 2, 4))
    x = np.asarray(data.sphere(jax.random.key(1), 20000, 5))
    h = tgt.harmonics(x)
    assert h.shape == (3, 20000)
    assert np.all(np.abs(h.mean(axis=1)) < 4 * h.std(axis=1) / np.sqrt(20000))
    np.testing.assert_allclose(tgt(x), 0.1 * h.sum(axis=0))
    np.testing.assert_allclose(tgt.projections(x), h / np.sqrt(20000))
    assert tgt.gegenbauer_parameter == 1.5


def test_normalized_zonal_harmonics_have_unit_energy_and_sum_to_the_target():
    """sqrt(N(d,k)) C_k/C_k(1) has unit mean square on the sphere (addition theorem)."""
    from scipy.special import eval_gegenbauer

    from pntk import spectra

    for dim in (3, 5):
        tgt = data.zonal_harmonic_target(jax.random.key(0), dim, degrees=(1, 3, 6), weight=1.0, normalized=True)
        # exact mean square by Funk-Hecke-weight quadrature in t = <x, zeta>
        t, w = np.polynomial.legendre.leggauss(200)
        dens = (1 - t**2) ** ((dim - 3) / 2)
        dens /= np.sum(w * dens)
        for k in tgt.degrees:
            p = np.sqrt(data.harmonic_count(dim, k)) * eval_gegenbauer(k, (dim - 2) / 2, t) \
                / eval_gegenbauer(k, (dim - 2) / 2, 1.0)
            assert abs(np.sum(w * dens * p**2) - 1.0) < 1e-10
        x = np.asarray(data.sphere(jax.random.key(1), 4000, dim))
        np.testing.assert_allclose(tgt.components(x).sum(axis=0), tgt(x), rtol=1e-12, atol=1e-12)
        raw = tgt._replace(normalized=False).harmonics(x)
        scale = np.array([np.sqrt(data.harmonic_count(dim, k)) / eval_gegenbauer(k, (dim - 2) / 2, 1.0)
                          for k in tgt.degrees])
        np.testing.assert_allclose(tgt.harmonics(x), scale[:, None] * raw, rtol=1e-12)
    assert all(data.harmonic_count(d, k) == spectra.harmonic_multiplicity(d, k) for d in range(2, 12)
               for k in range(25))
    # the official-code default is unchanged: unnormalised Gegenbauer polynomials, weight 0.1
    official = data.zonal_harmonic_target(jax.random.key(0), 5)
    assert official.normalized is False and official.weight == 0.1


def test_zonal_target_argument_checks():
    import pytest

    with pytest.raises(ValueError, match="weight"):
        data.zonal_harmonic_target(jax.random.key(0), 3, weight=float("nan"))
    with pytest.raises(TypeError, match="normalized"):
        data.zonal_harmonic_target(jax.random.key(0), 3, normalized="yes")
    with pytest.raises(ValueError, match="dim"):
        data.harmonic_count(1, 2)
