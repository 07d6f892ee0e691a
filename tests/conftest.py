import jax
import numpy as np
import pytest

import pntk  # noqa: F401  (enables float64)
from pntk import data


@pytest.fixture(scope="session")
def sphere_points():
    """12 points on S^4 and 9 more: the on-sphere test set."""
    return np.asarray(data.sphere(jax.random.key(0), 12, 5)), np.asarray(data.sphere(jax.random.key(1), 9, 5))


@pytest.fixture(scope="session")
def ball_points():
    """Points anywhere in R^5 (norms from about 0 to 3): the off-sphere test set."""
    return (np.asarray(3.0 * data.ball(jax.random.key(2), 10, 5)),
            np.asarray(3.0 * data.ball(jax.random.key(3), 7, 5)))
