"""The pinned environment: pntk imports, neural-tangents works through it, TensorFlow is absent."""

import importlib.metadata
import importlib.util

import jax
import numpy as np

import pntk
from pntk import reference


def test_pntk_imports_and_enables_float64():
    assert pntk.__version__
    assert jax.numpy.zeros(1).dtype == np.float64


def test_tensorflow_is_not_installed():
    assert importlib.util.find_spec("tensorflow") is None


def test_pinned_versions():
    assert importlib.metadata.version("jax") == "0.5.3"
    assert importlib.metadata.version("jaxlib") == "0.5.3"
    assert importlib.metadata.version("neural-tangents") == "0.6.5"
    assert importlib.metadata.version("jupyter-book") == "1.0.4.post1"


def test_neural_tangents_through_pntk_computes_a_kernel():
    nt = reference.neural_tangents()
    assert nt.__version__ == "0.6.5"
    x = np.eye(3)
    k = reference.pnn_kernel_nt(x, x, degree=1)
    # two-layer ReLU NTK of orthonormal inputs: 2[kappa_1 + t kappa_0] = 2/pi off the diagonal, 1 + 1 on it
    np.testing.assert_allclose(np.diag(k), 2.0, rtol=1e-12)
    np.testing.assert_allclose(k[0, 1], 1 / np.pi, rtol=1e-12)
