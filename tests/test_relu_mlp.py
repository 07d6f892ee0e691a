"""Deep ReLU MLP kernels (the fair baselines of the spectral chapters): neural-tangents, autodiff, depth 1 = PNN degree 1."""

import jax
import numpy as np
import pytest

from pntk import data, kernels, models
from pntk.reference import relu_mlp_kernel_nt

DEPTHS = [1, 2, 3, 5, 9]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("bias", [False, True])
def test_relu_mlp_kernels_equal_neural_tangents(depth, bias, sphere_points, ball_points):
    """Independent oracle: stax.serial(Dense(m, sqrt(d), b_std), Relu, [Dense(m, sqrt(2), b_std), Relu] * (L-1), Dense(1, sqrt(2))).

    One Gram matrix of points on the sphere and off it (norms 0 to 3), so its blocks cover
    on-sphere pairs, off-sphere pairs and mixed ones; plus a rectangular pair.
    Measured: relative error <= 3e-15 for every depth up to 9, with and without bias.
    """
    x1 = np.concatenate([sphere_points[0], ball_points[0]])
    x2 = np.concatenate([sphere_points[1], ball_points[1]])
    for a, b in [(x1, None), (x1, x2)]:
        ours = kernels.relu_mlp_kernel(a, b, depth, bias=bias)
        for which in ("ntk", "nngp"):
            ref = np.asarray(relu_mlp_kernel_nt(a, b, depth, bias=bias, which=which))
            np.testing.assert_allclose(getattr(ours, which), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    # "ntk" alone and "both" are compiled separately: equal up to rounding
    np.testing.assert_allclose(kernels.relu_mlp_ntk(x1, x2, depth, bias=bias), ours.ntk, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(kernels.relu_mlp_nngp(x1, x2, depth, bias=bias), ours.nngp, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("bias", [False, True])
def test_depth_one_is_the_pnn_of_degree_one_bit_for_bit(bias, sphere_points, ball_points):
    x1 = np.concatenate([sphere_points[0], ball_points[0]])
    x2 = ball_points[1]
    for a, b in [(x1, x2), (x1, None), (x2, x1)]:
        mlp, pnn = kernels.relu_mlp_kernel(a, b, 1, bias=bias), kernels.pnn_kernel(a, b, 1, bias=bias)
        np.testing.assert_array_equal(mlp.ntk, pnn.ntk)
        np.testing.assert_array_equal(mlp.nngp, pnn.nngp)
        np.testing.assert_array_equal(kernels.relu_mlp_ntk(a, b, 1, bias=bias), kernels.pnn_ntk(a, b, 1, bias=bias))
    t = np.linspace(-1, 1, 41)
    np.testing.assert_array_equal(kernels.relu_mlp_ntk_cosine(t, 1, bias=bias), kernels.pnn_ntk_cosine(t, 1, bias=bias))
    np.testing.assert_array_equal(kernels.relu_mlp_nngp_cosine(t, 1, bias=bias), kernels.pnn_nngp_cosine(t, 1, bias=bias))
    # the general layer composition (not the shared compiled kernel) agrees to rounding
    x1b = np.concatenate([x1, np.ones((x1.shape[0], 1))], axis=1) if bias else x1
    x2b = np.concatenate([x2, np.ones((x2.shape[0], 1))], axis=1) if bias else x2
    composed = kernels._relu_mlp_from_inputs(kernels.inputs(x1b, x2b), 1, bias)
    np.testing.assert_allclose(composed.ntk, kernels.pnn_ntk(x1, x2, 1, bias=bias), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("bias", [False, True])
def test_cosine_version_is_the_kernel_on_the_sphere(depth, bias, sphere_points):
    x1, x2 = sphere_points
    t = np.clip(x1 @ x2.T, -1, 1)
    np.testing.assert_allclose(kernels.relu_mlp_ntk_cosine(t, depth, bias=bias),
                               kernels.relu_mlp_ntk(x1, x2, depth, bias=bias), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(kernels.relu_mlp_nngp_cosine(t, depth, bias=bias),
                               kernels.relu_mlp_nngp(x1, x2, depth, bias=bias), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("depth", DEPTHS)
def test_diagonal_on_the_sphere(depth):
    """Without bias K_l(x, x) = |x|^2 at every layer and Theta(x, x) = (L + 1)|x|^2; with bias
    K_l(x, x) = l + 1 and Theta_{l+1} = K_l + Theta_l + 1 (each layer adds its variance and its bias)."""
    one = np.ones(1)
    assert float(kernels.relu_mlp_ntk_cosine(one, depth)[0]) == pytest.approx(depth + 1, rel=1e-14)
    assert float(kernels.relu_mlp_nngp_cosine(one, depth)[0]) == pytest.approx(1.0, rel=1e-14)
    k, theta = 2.0, 2.0
    for _ in range(depth - 1):
        k, theta = k + 1, k + theta + 1
    assert float(kernels.relu_mlp_ntk_cosine(one, depth, bias=True)[0]) == pytest.approx(k + theta, rel=1e-14)
    x = 2.5 * np.asarray(data.sphere(jax.random.key(4), 5, 4))
    np.testing.assert_allclose(np.diag(kernels.relu_mlp_ntk(x, None, depth)), (depth + 1) * 6.25, rtol=1e-13)


def test_gram_matrix_is_exactly_symmetric_and_psd():
    x = 2.0 * np.asarray(data.ball(jax.random.key(5), 37, 4))
    for bias in (False, True):
        k = np.asarray(kernels.relu_mlp_ntk(x, None, 5, bias=bias))
        np.testing.assert_array_equal(k, k.T)
        lam = np.linalg.eigvalsh(k)
        assert lam[0] >= -1e-12 * lam[-1]


@pytest.mark.slow
@pytest.mark.parametrize("depth,bias", [(2, False), (3, True)])
def test_empirical_ntk_converges_like_one_over_sqrt_width(depth, bias):
    """Finite-width autodiff NTK of models.relu_mlp vs the exact kernel, 8 seeds per width.

    The root-mean-square (over seeds) relative Frobenius error falls with the width with a
    log-log slope near -1/2 (measured on 6 points of S^2, widths 32-512: -0.52 for depth 2,
    -0.60 for depth 3 with bias); the band [-0.8, -0.3] allows for 8 seeds' spread.
    """
    x = np.asarray(data.sphere(jax.random.key(0), 6, 3))
    exact = np.asarray(kernels.relu_mlp_ntk(x, None, depth, bias=bias))
    widths = [32, 128, 512]
    rms = []
    for m in widths:
        init_fn, apply_fn = models.relu_mlp(depth, m, bias=bias)
        errs = [np.linalg.norm(np.asarray(kernels.empirical_ntk(apply_fn, init_fn(jax.random.key(s), 3), x)) - exact)
                / np.linalg.norm(exact) for s in range(8)]
        rms.append(float(np.sqrt(np.mean(np.square(errs)))))
    assert rms[0] > rms[1] > rms[2]
    slope = np.polyfit(np.log(widths), np.log(rms), 1)[0]
    assert -0.8 < slope < -0.3, (rms, slope)


def test_depth_one_model_is_the_two_layer_relu_net():
    """models.relu_mlp(1, m) returns relu_net(m) itself: same functions, so the same parameters for a key."""
    for bias in (False, True):
        assert models.relu_mlp(1, 16, bias=bias) is models.relu_net(16, bias=bias)


@pytest.mark.parametrize("bias", [False, True])
def test_deep_model_layout_and_forward_pass(bias):
    init_fn, apply_fn = models.relu_mlp(3, 7, bias=bias)
    params = init_fn(jax.random.key(0), 4)
    assert params["W"].shape == (1, 7, 5 if bias else 4)
    assert params["V"].shape == (2, 7, 7) and params["c"].shape == (7,)
    assert ("b" in params) == bias
    x = np.asarray(data.ball(jax.random.key(1), 5, 4))
    # the forward pass written out with numpy
    xb = np.concatenate([x, np.ones((5, 1))], axis=1) if bias else x
    h = np.maximum(xb @ np.asarray(params["W"][0]).T, 0)
    for l in range(2):
        u = np.sqrt(2 / 7) * h @ np.asarray(params["V"][l]).T + (np.asarray(params["b"][l]) if bias else 0)
        h = np.maximum(u, 0)
    np.testing.assert_allclose(apply_fn(params, x), np.sqrt(2 / 7) * h @ np.asarray(params["c"]), rtol=1e-13)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 4\)"):
        apply_fn(params, np.ones((2, 3)))
    with pytest.raises(ValueError, match="this model needs W"):
        models.relu_mlp(4, 7, bias=bias).apply_fn(params, x)


BAD_DEPTHS = [(0, ValueError), (-1, ValueError), (kernels.MAX_DEPTH + 1, ValueError), (2.0, TypeError),
              (True, TypeError), ("3", TypeError), (None, TypeError)]
X = np.eye(4, 3) + 0.1
DEPTH_CALLS = {
    "relu_mlp_kernel": lambda L, b=False: kernels.relu_mlp_kernel(X, None, L, bias=b),
    "relu_mlp_ntk": lambda L, b=False: kernels.relu_mlp_ntk(X, X, L, bias=b),
    "relu_mlp_nngp": lambda L, b=False: kernels.relu_mlp_nngp(X, None, L, bias=b),
    "relu_mlp_ntk_cosine": lambda L, b=False: kernels.relu_mlp_ntk_cosine(np.array([0.3]), L, bias=b),
    "relu_mlp_nngp_cosine": lambda L, b=False: kernels.relu_mlp_nngp_cosine(np.array([0.3]), L, bias=b),
    "models.relu_mlp": lambda L, b=False: models.relu_mlp(L, 4, bias=b),
}


@pytest.mark.parametrize("name", sorted(DEPTH_CALLS))
def test_depth_and_bias_are_checked(name):
    call = DEPTH_CALLS[name]
    for bad, error in BAD_DEPTHS:
        with pytest.raises(error, match="depth must be an integer"):
            call(bad)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[1, 128\]"):
        call(0)
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="bias must be True or False"):
            call(2, bad)
    call(np.int64(2))


def test_points_and_cosines_are_checked():
    with pytest.raises(ValueError, match="x1 contains 1 non-finite"):
        kernels.relu_mlp_ntk(np.array([[np.nan, 0.0, 1.0]]), X, 2)
    with pytest.raises(ValueError, match="same input dimension"):
        kernels.relu_mlp_ntk(X, np.ones((2, 4)), 2)
    with pytest.raises(ValueError, match=r"x2 must have shape \(n, d\)"):
        kernels.relu_mlp_nngp(X, np.ones(3), 2)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        kernels.relu_mlp_ntk_cosine(np.array([1.5]), 2)
    with pytest.raises(ValueError, match="use pntk.blocked.relu_mlp_ntk_blocked"):
        kernels.relu_mlp_ntk(np.ones((300, 2)), None, 2, max_bytes=1000)


def test_edge_cases_zero_input_duplicates_and_float32():
    """A zero input has u_1 = 0: without bias every layer's kernel is 0 (the continuous limit); duplicated
    points keep the Gram matrix PSD; float32 inputs compute in float32 to ~1e-6 of the float64 kernel."""
    x = np.concatenate([np.zeros((1, 3)), np.eye(3), np.eye(3), 0.5 * np.ones((1, 3))])
    for depth in (2, 5):
        k = np.asarray(kernels.relu_mlp_ntk(x, None, depth))
        assert np.all(k[0] == 0) and np.all(np.isfinite(k))
        kb = np.asarray(kernels.relu_mlp_ntk(x, None, depth, bias=True))
        assert np.all(np.isfinite(kb)) and kb[0, 0] > 0
        for gram in (k, kb):
            lam = np.linalg.eigvalsh(gram)
            assert lam[0] >= -1e-12 * lam[-1]
    x64 = 2.0 * np.asarray(data.ball(jax.random.key(6), 16, 4))
    k32 = kernels.relu_mlp_ntk(x64.astype(np.float32), None, 3, bias=True)
    assert k32.dtype == np.float32
    k64 = np.asarray(kernels.relu_mlp_ntk(x64, None, 3, bias=True))
    assert np.abs(np.asarray(k32) - k64).max() < 1e-5 * np.abs(k64).max()
