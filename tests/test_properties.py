r"""Property-based tests (hypothesis) of the exact kernels of pntk.kernels.

Properties (book chapter "The NTK of a polynomial net"; the closed form in the module docstring of pntk.kernels):

* symmetry :math:`\Theta(x, y) = \Theta(y, x)` and positive semi-definiteness of Gram matrices;
* homogeneity along rays. With :math:`\kappa_1(ax, by) = ab\,\kappa_1(x, y)`, :math:`\kappa_0(ax, by) = \kappa_0(x, y)`
  and :math:`(ax)^\top(by) = ab\,x^\top y` for :math:`a, b > 0`, the skip-free net
  :math:`h_n = h_{n-1} * \sigma(W_n x)` has NNGP :math:`2\kappa_1^N` and NTK
  :math:`2[\kappa_1^N + N\,x^\top y\,\kappa_0\kappa_1^{N-1}]`, so
  :math:`\Theta(ax, by) = (ab)^N\,\Theta(x, y)`; the activation-free one, :math:`2(N+1)(x^\top y)^N`,
  for all real :math:`a, b`. With the skip, :math:`\beta = 1 + \mu(x) + \mu(y) + \kappa_1` mixes
  orders, and :math:`a \mapsto \Theta(ax, y)` is a polynomial of degree :math:`N` with no constant term;
* degree 1 is the two-layer ReLU NTK :math:`2[\kappa_1 + x^\top y\,\kappa_0]` (written here in numpy);
* a Hadamard product of one branch is that branch, and ``hadamard_power`` of 0 copies is the first factor.

Deterministic: every test runs a fixed, derandomized set of examples, so CI is reproducible.
"""

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pntk import kernels

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None)

# coordinates: a grid of eighths (exact duplicates, zeros and antipodal points come up often) or
# floats bounded away from 0 (no underflow of |x|^2, which would make the homogeneity ratios meaningless)
COORD = st.one_of(st.integers(-24, 24).map(lambda i: i / 8),
                  st.floats(1e-2, 3.0), st.floats(-3.0, -1e-2))
# fixed shapes: one compiled kernel per test (the degree is traced, the values vary)
X = arrays(np.float64, (5, 3), elements=COORD)
Y = arrays(np.float64, (4, 3), elements=COORD)
DEGREE = st.integers(1, 12)
SCALE = st.floats(0.05, 20.0)


def _close(actual, expected, rtol=1e-10):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(np.max(np.abs(expected)), np.finfo(float).tiny)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@PROPERTY
@given(x=X, y=Y, degree=DEGREE, skip=st.booleans(), bias=st.booleans())
def test_kernels_are_symmetric(x, y, degree, skip, bias):
    k = kernels.pnn_kernel(x, y, degree, skip=skip, bias=bias)
    kt = kernels.pnn_kernel(y, x, degree, skip=skip, bias=bias)
    _close(k.ntk, np.asarray(kt.ntk).T, rtol=1e-12)
    _close(k.nngp, np.asarray(kt.nngp).T, rtol=1e-12)
    gram = np.asarray(kernels.pnn_ntk(x, None, degree, skip=skip, bias=bias))
    np.testing.assert_array_equal(gram, gram.T)


@PROPERTY
@given(x=X, y=Y, degree=DEGREE, skip=st.booleans(), activation=st.sampled_from(["relu", "identity"]))
def test_gram_matrices_are_psd(x, y, degree, skip, activation):
    pts = np.concatenate([x, y])
    for k in kernels.pnn_kernel(pts, None, degree, skip=skip, activation=activation)[:2]:
        eig = np.linalg.eigvalsh(np.asarray(k))
        assert eig[0] >= -1e-12 * max(eig[-1], 0.0), (eig[0], eig[-1])


@PROPERTY
@given(x=X, y=Y, degree=DEGREE, a=SCALE, b=SCALE)
def test_skip_free_relu_kernel_is_positively_homogeneous_of_degree_n(x, y, degree, a, b):
    k = kernels.pnn_ntk(x, y, degree, skip=False)
    _close(kernels.pnn_ntk(a * x, b * y, degree, skip=False), (a * b) ** degree * np.asarray(k), rtol=1e-9)
    nngp = kernels.pnn_nngp(x, y, degree, skip=False)
    _close(kernels.pnn_nngp(a * x, b * y, degree, skip=False), (a * b) ** degree * np.asarray(nngp), rtol=1e-9)


@PROPERTY
@given(x=X, y=Y, degree=DEGREE, a=st.one_of(SCALE, SCALE.map(lambda s: -s)), b=st.one_of(SCALE, SCALE.map(lambda s: -s)))
def test_activation_free_skip_free_kernel_is_homogeneous_for_all_signs(x, y, degree, a, b):
    k = np.asarray(kernels.pnn_ntk(x, y, degree, skip=False, activation="identity"))
    _close(k, 2 * (degree + 1) * (x @ y.T) ** degree, rtol=1e-10)
    _close(kernels.pnn_ntk(a * x, b * y, degree, skip=False, activation="identity"), (a * b) ** degree * k, rtol=1e-9)


@PROPERTY
@given(x=X, y=Y, degree=st.integers(1, 6))
def test_with_skip_the_kernel_is_a_polynomial_of_degree_n_along_rays(x, y, degree):
    """Theta(a x, y) = sum_{j=1..N} c_j a^j: N + 2 samples in a determine it, the next ones must lie on it."""
    a = np.linspace(0.5, 3.0, degree + 4)
    k = np.stack([np.asarray(kernels.pnn_ntk(s * x, y, degree)) for s in a])  # (len(a), 5, 4)
    basis = np.stack([a**j for j in range(1, degree + 1)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, k.reshape(len(a), -1), rcond=None)
    _close(basis @ coef, k.reshape(len(a), -1), rtol=1e-8)


def _relu_ntk_numpy(x, y):
    """2 [kappa_1 + x.y kappa_0], the two-layer ReLU NTK (Jacot et al. 2018; Arora et al. 2019), in numpy."""
    nx, ny = np.linalg.norm(x, axis=1)[:, None], np.linalg.norm(y, axis=1)[None, :]
    dot = x @ y.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(nx * ny > 0, dot / (nx * ny), 0.0)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    kappa1 = nx * ny * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    kappa0 = np.where(nx * ny > 0, (np.pi - theta) / (2 * np.pi), 0.0)
    return 2 * (kappa1 + dot * kappa0)


@PROPERTY
@given(x=X, y=Y, skip=st.booleans())
def test_degree_one_is_the_relu_ntk(x, y, skip):
    # numpy's arccos of a cosine one ulp from 1 is off by ~1e-8 (ill-conditioned there; pntk snaps such
    # cosines to 1), so the reference is good to ~1e-8 relative, and the diagonal is checked exactly
    expected = _relu_ntk_numpy(x, y)
    _close(kernels.pnn_ntk(x, y, 1, skip=skip), expected, rtol=1e-7)
    _close(kernels.relu_ntk(x, y), expected, rtol=1e-7)
    # Theta(x, x) = 2 [|x|^2 / 2 + |x|^2 / 2] = 2 |x|^2 (theta = 0)
    _close(np.diag(np.asarray(kernels.relu_ntk(x, x))), 2 * np.sum(x * x, axis=1), rtol=1e-14)


@PROPERTY
@given(x=X, y=Y, layer=st.sampled_from(["relu", "one_plus_relu", "one_plus"]))
def test_a_product_of_one_branch_is_the_branch(x, y, layer):
    branch = getattr(kernels, layer)(kernels.inputs(x, y))
    for got, want in zip(kernels.hadamard(branch), branch):
        np.testing.assert_array_equal(got, want)
    other = kernels.relu(kernels.inputs(x, y))
    for got, want in zip(kernels.hadamard_power(branch, other, 0), branch):
        np.testing.assert_array_equal(got, want)


@PROPERTY
@given(x=X, y=Y, count=st.integers(0, 9))
def test_hadamard_power_equals_the_product_rule_and_the_order_of_branches_does_not_matter(x, y, count):
    k = kernels.inputs(x, y)
    first, repeated = kernels.relu(k), kernels.one_plus_relu(k)
    closed = kernels.hadamard_power(first, repeated, count)
    general = kernels.hadamard(first, *[repeated] * count)
    reversed_order = kernels.hadamard(*[repeated] * count, first)
    for a, b, c in zip(closed, general, reversed_order):
        _close(a, b, rtol=1e-12)
        _close(c, b, rtol=1e-12)


def test_the_property_inputs_include_the_hard_cases():
    """The coordinate strategy does produce zero rows and exact duplicates (so the tests above see them)."""
    found = {"zero": False, "duplicate": False}

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(x=X)
    def look(x):
        found["zero"] |= bool(np.any(np.all(x == 0, axis=1)))
        found["duplicate"] |= len({tuple(r) for r in x}) < len(x)

    look()
    assert found == {"zero": True, "duplicate": True}, found
    assert jnp.asarray(0.0).dtype == jnp.float64  # pntk enabled float64 (conftest imports it)
