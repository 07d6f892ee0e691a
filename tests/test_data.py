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
