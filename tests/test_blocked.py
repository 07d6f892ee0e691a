"""pntk.blocked: tiled Gram matrices equal the dense kernels; the dense kernels refuse sizes meant for them."""

import jax
import numpy as np
import pytest

import pntk  # noqa: F401  (float64)
from pntk import blocked, data, kernels, spectra

X = np.asarray(data.sphere(jax.random.key(0), 301, 6)) * 1.7  # off the unit sphere: norm-dependent kernels
Y = np.asarray(data.ball(jax.random.key(1), 157, 6))


def _close(a, b):
    np.testing.assert_allclose(a, np.asarray(b), rtol=1e-12, atol=1e-12 * np.max(np.abs(b)))


@pytest.mark.parametrize("block_size", [7, 37, 100, 301, 4096])
@pytest.mark.parametrize("degree", [1, 4])
def test_symmetric_ntk_equals_dense_and_is_exactly_symmetric(block_size, degree):
    b = blocked.pnn_ntk_blocked(X, None, degree, block_size=block_size)
    assert isinstance(b, np.ndarray) and b.shape == (301, 301) and b.dtype == np.float64
    _close(b, kernels.pnn_ntk(X, None, degree))
    assert np.array_equal(b, b.T)


@pytest.mark.parametrize("opts", [{}, {"skip": False}, {"activation": "identity"}, {"bias": True}])
def test_rectangular_equals_dense_for_every_model(opts):
    _close(blocked.pnn_ntk_blocked(X, Y, 3, block_size=64, **opts), kernels.pnn_ntk(X, Y, 3, **opts))
    _close(blocked.pnn_nngp_blocked(Y, X, 3, block_size=50, **opts), kernels.pnn_nngp(Y, X, 3, **opts))


def test_relu_ntk_and_both():
    _close(blocked.relu_ntk_blocked(X, Y, block_size=70, bias=True), kernels.relu_ntk(X, Y, bias=True))
    for x2 in (None, Y):
        dense = kernels.pnn_kernel(X, x2, 2)
        tiled = blocked.pnn_kernel_blocked(X, x2, 2, which="both", block_size=45)
        assert isinstance(tiled, kernels.Kernel)
        for a, b in zip(tiled, dense):
            assert a.shape == b.shape
            _close(a, b)


def test_float32_output_and_preallocated_out(tmp_path):
    dense = np.asarray(kernels.pnn_ntk(X, None, 3))
    b32 = blocked.pnn_ntk_blocked(X, degree=3, block_size=128, dtype="float32")
    assert b32.dtype == np.float32
    np.testing.assert_allclose(b32, dense, rtol=1e-6, atol=1e-7 * np.max(dense))
    out = np.lib.format.open_memmap(tmp_path / "k.npy", mode="w+", dtype=np.float64, shape=(301, 157))
    res = blocked.pnn_ntk_blocked(X, Y, 3, block_size=100, out=out)
    assert res is out
    out.flush()
    _close(np.load(tmp_path / "k.npy"), kernels.pnn_ntk(X, Y, 3))


def test_several_devices_round_robin():
    devs = jax.devices() * 2  # the same device twice exercises the round-robin path
    _close(blocked.pnn_ntk_blocked(X, Y, 2, block_size=50, devices=devs), kernels.pnn_ntk(X, Y, 2))
    _close(blocked.pnn_ntk_blocked(X, Y, 2, block_size=50, devices=jax.devices()[0]), kernels.pnn_ntk(X, Y, 2))


def test_float32_inputs_compute_in_float32():
    b = blocked.pnn_ntk_blocked(X.astype(np.float32), degree=2, block_size=100)
    assert b.dtype == np.float32
    dense = np.asarray(kernels.pnn_ntk(X, None, 2))
    np.testing.assert_allclose(b, dense, rtol=1e-4, atol=1e-5 * np.max(dense))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: blocked.pnn_ntk_blocked(X, block_size=0), ValueError, "block_size must be an integer >= 1"),
    (lambda: blocked.pnn_ntk_blocked(X, block_size=64.0), TypeError, "block_size must be an integer"),
    (lambda: blocked.pnn_kernel_blocked(X, which="kernel"), ValueError, "which must be one of"),
    (lambda: blocked.pnn_ntk_blocked(X, dtype=np.int32), ValueError, "dtype must be float32 or float64"),
    (lambda: blocked.pnn_ntk_blocked(X, dtype="banana"), TypeError, "dtype must be float32 or float64"),
    (lambda: blocked.pnn_ntk_blocked(X, out=np.empty((3, 3))), ValueError, r"out must have shape \(301, 301\)"),
    (lambda: blocked.pnn_ntk_blocked(X, out=[[0.0]]), TypeError, "out must be a numpy array"),
    (lambda: blocked.pnn_ntk_blocked(X, out=np.broadcast_to(0.0, (301, 301))), ValueError, "out must be writeable"),
    (lambda: blocked.pnn_kernel_blocked(X, which="both", out=np.empty((301, 301))), TypeError, "pair"),
    (lambda: blocked.pnn_ntk_blocked(X, devices="gpu"), TypeError, "devices must be"),
    (lambda: blocked.pnn_ntk_blocked(X, Y[:, :3]), ValueError, "same input dimension"),
    (lambda: blocked.pnn_ntk_blocked(X, degree=0), ValueError, "degree must be an integer"),
    (lambda: blocked.relu_ntk_blocked(np.full((3, 2), np.nan)), ValueError, "non-finite"),
    (lambda: blocked.relu_mlp_ntk_blocked(X, depth=0), ValueError, r"depth must be an integer in \[1, 128\]"),
    (lambda: blocked.relu_mlp_nngp_blocked(X, depth=2, bias="no"), TypeError, "bias must be True or False"),
    (lambda: blocked.relu_mlp_kernel_blocked(X, which="kernel"), ValueError, "which must be one of"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_dense_kernels_refuse_large_n_and_name_the_blocked_alternative():
    big = np.ones((20_000, 3))  # the check runs before any kernel memory is allocated
    for fn, alt in ((kernels.pnn_ntk, "pnn_ntk_blocked"), (kernels.pnn_nngp, "pnn_nngp_blocked"),
                    (kernels.pnn_kernel, "pnn_kernel_blocked")):
        with pytest.raises(ValueError, match=rf"max_bytes=.*pntk\.blocked\.{alt}"):
            fn(big, None, 2)
    with pytest.raises(ValueError, match="pntk.blocked.pnn_ntk_blocked"):
        kernels.relu_ntk(big)
    # the threshold is an argument: a small limit refuses small inputs, None lifts it
    with pytest.raises(ValueError, match="max_bytes=1000"):
        kernels.pnn_ntk(X, None, 2, max_bytes=1000)
    with pytest.raises(ValueError, match="max_bytes must be an integer"):
        kernels.pnn_ntk(X, None, 2, max_bytes=0)
    assert kernels.pnn_ntk(X[:5], None, 2, max_bytes=None).shape == (5, 5)


def test_gram_eigenvalues_refuse_large_n():
    with pytest.raises(ValueError, match="max_n=10.*sphere_eigenvalues"):
        spectra.gram_eigenvalues(np.eye(11), max_n=10)
    np.testing.assert_allclose(spectra.gram_eigenvalues(np.eye(11), max_n=None), np.full(11, 1 / 11))


@pytest.mark.parametrize("depth,bias", [(1, False), (3, False), (5, True)])
def test_relu_mlp_blocked_equals_dense(depth, bias):
    """The deep ReLU baselines in tiles: symmetric (exactly) and rectangular, equal to the dense kernels."""
    sym = blocked.relu_mlp_ntk_blocked(X, depth=depth, bias=bias, block_size=128)
    np.testing.assert_array_equal(sym, sym.T)
    np.testing.assert_allclose(sym, kernels.relu_mlp_ntk(X, None, depth, bias=bias), rtol=1e-13, atol=1e-13)
    both = blocked.relu_mlp_kernel_blocked(X, Y, depth=depth, bias=bias, which="both", block_size=100)
    dense = kernels.relu_mlp_kernel(X, Y, depth, bias=bias)
    np.testing.assert_allclose(both.ntk, dense.ntk, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(both.nngp, dense.nngp, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(blocked.relu_mlp_nngp_blocked(X, Y, depth=depth, bias=bias, block_size=64),
                               dense.nngp, rtol=1e-13, atol=1e-13)


def test_relu_mlp_dense_kernels_name_their_blocked_alternative():
    big = np.ones((20_000, 3))
    for fn, alt in ((kernels.relu_mlp_ntk, "relu_mlp_ntk_blocked"), (kernels.relu_mlp_nngp, "relu_mlp_nngp_blocked"),
                    (kernels.relu_mlp_kernel, "relu_mlp_kernel_blocked")):
        with pytest.raises(ValueError, match=rf"pntk\.blocked\.{alt}"):
            fn(big, None, 3)
        assert hasattr(blocked, alt)
