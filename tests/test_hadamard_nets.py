"""pntk.hadamard_nets: exact kernels of the NCP, NCP-Skip and modulated nets against neural-tangents and autodiff."""

import jax
import numpy as np
import pytest

from pntk import data, extrapolation, kernels, spectra
from pntk import hadamard_nets as hn


@pytest.fixture(scope="module")
def points():
    """8 points on S^4 and the same directions at norms 0.3 to 2 (off the sphere)."""
    x = np.asarray(data.sphere(jax.random.key(0), 8, 5))
    return x, np.linspace(0.3, 2.0, 8)[:, None] * x


# ---------------------------------------------------------------- composer

def test_hadamard_of_one_branch_is_that_branch(points):
    x, _ = points
    branch = kernels.relu(hn.bias(kernels.inputs(x, x)))
    for a, b in zip(kernels.hadamard(branch), branch):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(hn.add(branch), branch):
        np.testing.assert_array_equal(a, b)


def test_product_rule_against_neural_tangents(points):
    """Three heterogeneous branches: the composer equals nt's FanInProd."""
    x, xb = points
    stax = hn._stax()
    for z in (x, xb):
        k = kernels.inputs(z, z)
        ours = kernels.dense(kernels.hadamard(kernels.relu(k), hn.bias(k), kernels.relu(kernels.dense(kernels.relu(k), 2.0))), 2.0)
        d = np.sqrt(5.0)
        net = hn.product_stax([stax.serial(stax.Dense(1, W_std=d), stax.Relu()), stax.Dense(1, W_std=d, b_std=1.0),
                               stax.serial(stax.Dense(1, W_std=d), stax.Relu(), stax.Dense(1, W_std=np.sqrt(2.0)),
                                           stax.Relu())])
        np.testing.assert_allclose(hn.kernel_nt(net, z), ours.ntk, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hn.kernel_nt(net, z, which="nngp"), ours.nngp, rtol=1e-10, atol=1e-12)


def test_bias_and_add_layers(points):
    x, _ = points
    k = kernels.inputs(x, x)
    kb = hn.bias(k, 0.5)
    np.testing.assert_allclose(kb.nngp, k.nngp + 0.5)
    np.testing.assert_allclose(kb.ntk, k.ntk + 0.5)
    s = hn.add(k, kb)
    np.testing.assert_allclose(s.ntk, 2 * k.ntk + 0.5)
    with pytest.raises(ValueError, match="variance"):
        hn.bias(k, -1.0)
    with pytest.raises(ValueError, match="at least one"):
        hn.add()


# ---------------------------------------------------------------- vs neural-tangents

@pytest.mark.parametrize("degree", [1, 2, 4])
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_ncp_against_neural_tangents(points, degree, activation):
    for z in points:
        ours = hn.ncp_kernel(z, None, degree, activation=activation)
        net = hn.ncp_stax(degree, 1, 5, activation=activation)
        np.testing.assert_allclose(hn.kernel_nt(net, z), ours.ntk, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hn.kernel_nt(net, z, which="nngp"), ours.nngp, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("gate", hn.GATES)
def test_modulated_against_neural_tangents(points, depth, gate):
    x, xb = points
    for z1, z2 in ((x, xb), (xb, None)):
        ours = hn.modulated_ntk(z1, z2, depth=depth, gate=gate)
        theirs = hn.kernel_nt(hn.modulated_stax(1, 5, depth=depth, gate=gate), z1, z2)
        # x and xb share directions: cosines of exactly 1 off the diagonal, where nt's plain arccos
        # loses ~1e-8 (pntk snaps cosines within ulps of 1); elsewhere the two agree to ~1e-15
        np.testing.assert_allclose(theirs, ours, rtol=1e-7, atol=1e-12)


def test_modulated_closed_form_depth_one(points):
    """Affine gate, depth 1: 2 (t + 1) (2 kappa_1 + t kappa_0), written out in numpy."""
    _, xb = points
    norms = np.linalg.norm(xb, axis=1)
    t = xb @ xb.T
    theta = np.arccos(np.clip(t / np.outer(norms, norms), -1, 1))
    k1 = np.outer(norms, norms) * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    k0 = (np.pi - theta) / (2 * np.pi)
    closed = 2 * (t + 1) * (2 * k1 + t * k0)
    np.testing.assert_allclose(hn.modulated_ntk(xb, depth=1), closed, rtol=1e-7)


# ---------------------------------------------------------------- vs autodiff at finite width

@pytest.mark.parametrize("make_model, exact", [
    (lambda m: hn.ncp(3, m), lambda z: hn.ncp_ntk(z, None, 3)),
    (lambda m: hn.ncp(3, m, skip=True), lambda z: hn.ncp_ntk(z, None, 3, skip=True)),
    (lambda m: hn.modulated(m, gate="relu"), lambda z: hn.modulated_ntk(z, gate="relu")),
], ids=["ncp", "ncp_skip", "modulated"])
def test_empirical_ntk_converges(points, make_model, exact):
    """The error shrinks like m^(-1/2): measured C = error * sqrt(m) is about 3 to 5 at m = 64 and 512."""
    x, _ = points
    widths = np.array([64, 512])
    e = hn.ntk_error_vs_width(make_model, np.asarray(exact(x)), x, widths, key=jax.random.key(3), num_seeds=4)
    mean = e.mean(axis=1)
    assert mean[1] < 0.6 * mean[0]                 # 8x the width: expected sqrt(8) = 2.8x smaller
    assert np.all(mean * np.sqrt(widths) < 8.0)    # error < 8 / sqrt(m) at both widths
    assert np.all(e[1] < 0.35)                     # every seed at m = 512


# ---------------------------------------------------------------- structure

@pytest.mark.parametrize("fn", [
    lambda a, b: hn.ncp_kernel(a, b, 3),
    lambda a, b: hn.ncp_kernel(a, b, 3, skip=True),
    lambda a, b: hn.modulated_kernel(a, b, depth=2, gate="affine"),
])
def test_symmetric_psd_and_consistent(points, fn):
    x, xb = points
    k = fn(xb, None)
    for m in (k.nngp, k.ntk):
        m = np.asarray(m)
        np.testing.assert_array_equal(m, m.T)
        assert np.linalg.eigvalsh(m).min() > -1e-10 * np.abs(m).max()
    np.testing.assert_allclose(np.diag(np.asarray(k.nngp)), np.asarray(k.var1)[:, 0], rtol=1e-12)
    # the cross kernel between two sets is the block of the joint Gram matrix
    both = np.concatenate([x, xb])
    np.testing.assert_allclose(fn(x, xb).ntk, np.asarray(fn(both, None).ntk)[:8, 8:], rtol=1e-10)


def test_cosine_versions_match_points(points):
    x, _ = points
    t = np.clip(x @ x.T, -1, 1)
    np.testing.assert_allclose(hn.ncp_ntk_cosine(t, 3, skip=True), hn.ncp_ntk(x, None, 3, skip=True), rtol=1e-9)
    np.testing.assert_allclose(hn.modulated_ntk_cosine(t, gate="relu"), hn.modulated_ntk(x, gate="relu"), rtol=1e-9)


def test_ncp_degree_one_with_and_without_skip_agree(points):
    _, xb = points
    np.testing.assert_allclose(hn.ncp_ntk(xb, None, 1, skip=True), hn.ncp_ntk(xb, None, 1), rtol=1e-14)


def test_spectra_decay_like_relu(points):
    """Funk-Hecke on S^2: every architecture's eigenvalues decay like k^(-d), d = 3, as the ReLU net's."""
    for f in (lambda t: hn.ncp_ntk_cosine(t, 3), lambda t: hn.ncp_ntk_cosine(t, 3, skip=True),
              lambda t: hn.modulated_ntk_cosine(t)):
        mu = spectra.sphere_eigenvalues(f, 3, 60)
        assert np.all(mu[:40] > 0)
        assert abs(spectra.decay_exponent(np.arange(20, 61, 2), mu[20::2]) - 3.0) < 0.1


# ---------------------------------------------------------------- extrapolation along rays

@pytest.mark.parametrize("ntk_fn, degree", [
    (lambda a, b: hn.ncp_ntk(a, b, 2), 2),
    (lambda a, b: hn.ncp_ntk(a, b, 4, skip=True), 4),
    (lambda a, b: hn.modulated_ntk(a, b, depth=3, gate="affine"), 2),
    (lambda a, b: hn.modulated_ntk(a, b, gate="relu"), 2),
])
def test_growth_degree_along_rays(ntk_fn, degree):
    x = np.asarray(data.ball(jax.random.key(0), 60, 2, 1.0))
    y = np.asarray(data.target("quadratic")(x))
    predict = hn.kernel_regressor(ntk_fn, x, y)
    np.testing.assert_allclose(predict(x), y, atol=1e-6)
    directions = extrapolation.random_directions(jax.random.key(1), 16, 2)
    t = np.geomspace(1e4, 1e6, 5)
    growth = extrapolation.growth_exponent(extrapolation.values_along_rays(predict, directions, t), t)
    assert abs(np.median(growth) - degree) < 0.01
    np.testing.assert_allclose(growth, degree, atol=0.05)  # a ray with a small leading coefficient converges later


def test_finite_ncp_is_a_polynomial_along_rays():
    """A bias-free-input NCP of degree 3 is a cubic in t along every ray, at any width (exact fit)."""
    init_fn, apply_fn = hn.ncp(3, 32, skip=True)
    params = init_fn(jax.random.key(2), 2)
    directions = extrapolation.random_directions(jax.random.key(4), 4, 2)
    t = np.linspace(0.5, 4.0, 9)
    values = extrapolation.values_along_rays(lambda z: apply_fn(params, z), directions, t)
    assert np.all(extrapolation.polynomial_r2(values, t, 3) > 1 - 1e-12)
    assert np.all(extrapolation.polynomial_r2(values, t, 2) < 1 - 1e-6)


# ---------------------------------------------------------------- bad input

def test_bad_arguments_raise_naming_them(points):
    x, _ = points
    with pytest.raises(ValueError, match="degree"):
        hn.ncp(0, 8)
    with pytest.raises(ValueError, match="degree"):
        hn.ncp_ntk(x, None, 0)
    with pytest.raises(TypeError, match="degree"):
        hn.ncp_ntk(x, None, 2.0)
    with pytest.raises(ValueError, match="width"):
        hn.ncp(2, 0)
    with pytest.raises(ValueError, match="width"):
        hn.modulated(0)
    with pytest.raises(ValueError, match="depth"):
        hn.modulated_ntk(x, depth=0)
    with pytest.raises(ValueError, match="gate"):
        hn.modulated(8, gate="sigmoid")
    with pytest.raises(TypeError, match="gate"):
        hn.modulated_ntk(x, gate=None)
    with pytest.raises(TypeError, match="skip"):
        hn.ncp_ntk(x, None, 2, skip="yes")
    with pytest.raises(ValueError, match="activation"):
        hn.ncp_ntk(x, None, 2, activation="tanh")
    with pytest.raises(ValueError, match="x1 and x2"):
        hn.ncp_ntk(x, x[:, :3], 2)
    with pytest.raises(ValueError, match="x1"):
        hn.modulated_ntk(np.where(np.arange(5) == 2, np.nan, x))
    with pytest.raises(ValueError, match="t"):
        hn.ncp_ntk_cosine(np.array([0.5, 1.5]), 2)
    with pytest.raises(ValueError, match="t"):
        hn.modulated_ntk_cosine(np.array([np.nan]))
    init_fn, apply_fn = hn.ncp(2, 8)
    with pytest.raises(TypeError, match="key"):
        init_fn(0, 5)
    params = init_fn(jax.random.key(0), 5)
    with pytest.raises(ValueError, match="shape"):
        apply_fn(params, x[:, :3])
    with pytest.raises(TypeError, match="make_model"):
        hn.ntk_error_vs_width(None, np.eye(8), x, [4], key=jax.random.key(0))
    with pytest.raises(ValueError, match="exact"):
        hn.ntk_error_vs_width(lambda m: hn.ncp(2, m), np.eye(3), x, [4], key=jax.random.key(0))
    with pytest.raises(TypeError, match="ntk_fn"):
        hn.kernel_regressor("ncp", x, np.ones(8))
    with pytest.raises(ValueError, match="y_train"):
        hn.kernel_regressor(lambda a, b: hn.ncp_ntk(a, b, 2), x, np.ones(3))


def test_shrink_params_gives_the_narrow_net():
    big = hn.ncp(3, 16, skip=True).init_fn(jax.random.key(0), 5)
    small = hn.shrink_params(big, 4)
    assert {k: v.shape for k, v in small.items()} == {
        k: v.shape for k, v in hn.ncp(3, 4, skip=True).init_fn(jax.random.key(1), 5).items()}
    np.testing.assert_array_equal(small["S"], big["S"][:, :4, :4])
    x = np.ones((2, 5))
    assert hn.ncp(3, 4, skip=True).apply_fn(small, x).shape == (2,)
    with pytest.raises(ValueError, match="width"):
        hn.shrink_params(small, 8)
    with pytest.raises(TypeError, match="params"):
        hn.shrink_params({"Q": np.ones(3)}, 2)
    big = hn.modulated(16, depth=3).init_fn(jax.random.key(0), 5)
    assert hn.modulated(4, depth=3).apply_fn(hn.shrink_params(big, 4), x).shape == (2,)


# ---------------------------------------------------------------- bias parametrisation and spectra

@pytest.mark.parametrize("trainable", ["scaled", "raw"])
def test_bias_ntk_depends_on_what_is_trained(points, trainable):
    """hn.bias(k, v) is the bias b = sqrt(v) b~ with b~ ~ N(0, 1) trained: the NTK gains v.

    Training b ~ N(0, v) itself gives the same NNGP but an NTK that gains 1.
    Checked on f = sqrt(2/m) c . relu(W x + b) at width 8192 against both kernels.
    """
    import jax.numpy as jnp

    x, _ = points
    v, m = 4.0, 8192
    scale = np.sqrt(v) if trainable == "scaled" else 1.0

    def apply_fn(p, z):
        u = z @ p["W"].T + scale * p["b"]
        return jnp.sqrt(2.0 / m) * jax.nn.relu(u) @ p["c"]

    keys = jax.random.split(jax.random.key(3), 3)
    p = {"W": jax.random.normal(keys[0], (m, x.shape[1])),
         "b": jax.random.normal(keys[1], (m,)) * (np.sqrt(v) / scale),
         "c": jax.random.normal(keys[2], (m,))}
    emp = np.asarray(kernels.empirical_ntk(apply_fn, p, x))
    k = kernels.inputs(x, x)
    scaled = kernels.dense(kernels.relu(hn.bias(k, v)), 2.0).ntk
    kb = hn.bias(k, v)
    raw = kernels.dense(kernels.relu(kb._replace(ntk=k.ntk + 1.0)), 2.0).ntk
    right, wrong = (scaled, raw) if trainable == "scaled" else (raw, scaled)
    assert data.relative_error(emp, right) < 0.05
    assert data.relative_error(emp, wrong) > 2 * data.relative_error(emp, right)


def test_hadamard_nets_raise_the_second_harmonic_where_depth_lowers_it():
    """Book chapter "Other nets with Hadamard products", Spectra: on S^2, mu_2/mu_0 of every Hadamard
    net exceeds the two-layer ReLU net's, which exceeds that of every deep ReLU net (L = 2, 3, 5, 9)
    and of the ReLU net with a bias; all decay like k^(-3)."""
    def ratio2(f):
        mu = spectra.sphere_eigenvalues(f, 3, 60)
        assert abs(spectra.decay_exponent(np.arange(20, 61, 2), mu[20::2]) - 3.0) < 0.1
        return mu[2] / mu[0]

    relu = ratio2(lambda t: kernels.pnn_ntk_cosine(t, 1))
    for f in (lambda t: kernels.pnn_ntk_cosine(t, 3), lambda t: hn.ncp_ntk_cosine(t, 3),
              lambda t: hn.ncp_ntk_cosine(t, 3, skip=True), lambda t: hn.modulated_ntk_cosine(t),
              lambda t: hn.modulated_ntk_cosine(t, gate="relu")):
        assert ratio2(f) > relu
    for depth in (2, 3, 5, 9):
        assert ratio2(lambda t, L=depth: kernels.relu_mlp_ntk_cosine(t, L)) < relu
    assert ratio2(lambda t: kernels.relu_mlp_ntk_cosine(t, 1, bias=True)) < relu
