"""Tests of pntk.frequency: exact spectra per frequency and learning speed per frequency."""

import math

import jax
import numpy as np
import pytest
from scipy.special import eval_gegenbauer

import pntk  # noqa: F401  (float64)
from pntk import data, frequency, kernels, spectra, training


def test_relu_ntk_odd_eigenvalues_vanish_without_bias():
    # Bietti & Mairal 2019: two-layer ReLU NTK without bias, mu_k = 0 for odd k >= 3
    for dim in (3, 5):
        mu = frequency.pnn_spectrum(1, dim, 25)
        assert mu[0] > 0 and mu[1] > 0
        assert np.max(np.abs(mu[3::2])) < 1e-12 * mu[0]
        assert np.all(mu[2::2] > 1e-8 * mu[0])


def test_pnn_odd_eigenvalues_positive_for_degree_two_and_more():
    for degree in (2, 3, 6):
        mu = frequency.pnn_spectrum(degree, 5, 25)
        assert np.all(mu > 0)


def test_pnn_spectrum_matches_default_quadrature():
    mu = frequency.pnn_spectrum(3, 3, 30)
    ref = spectra.sphere_eigenvalues(lambda t: kernels.pnn_ntk_cosine(t, 3), 3, 30, num_nodes=2000)
    np.testing.assert_allclose(mu, ref, rtol=1e-8, atol=1e-14)


def test_normalized_spectrum_is_spectrum_over_diagonal():
    raw = frequency.pnn_spectrum(4, 5, 10)
    norm = frequency.pnn_spectrum(4, 5, 10, normalize=True)
    diag = float(kernels.pnn_ntk_cosine(np.ones(1), 4)[0])
    np.testing.assert_allclose(norm * diag, raw, rtol=1e-12)


def test_mercer_trace_approaches_diagonal():
    # sum_k N(d,k) mu_k = Theta(1); the tail after K decays like 1/K (N ~ k^(d-2), mu ~ k^-d)
    for degree in (1, 3):
        diag = float(kernels.pnn_ntk_cosine(np.ones(1), degree)[0])
        gaps = [diag - frequency.mercer_trace(frequency.pnn_spectrum(degree, 3, K), 3) for K in (20, 40, 80)]
        assert all(g > 0 for g in gaps)
        assert gaps[0] / diag < 0.02
        assert 1.5 < gaps[0] / gaps[1] < 2.6 and 1.5 < gaps[1] / gaps[2] < 2.6


def test_mercer_trace_exact_for_finite_rank_kernel():
    # t^2 on S^2: only degrees 0 and 2; trace = 1 exactly
    mu = spectra.sphere_eigenvalues(lambda t: t**2, 3, 6, num_nodes=64)
    assert frequency.mercer_trace(mu, 3) == pytest.approx(1.0, abs=1e-12)
    assert frequency.trace_fraction(mu, 3, 1) == pytest.approx(2 / 3, abs=1e-12)  # t^2 = 1/3 + (2/3) P_2
    assert frequency.trace_fraction(mu, 3, 1, total=2.0) == pytest.approx(1 - (1 / 3) / 2, abs=1e-12)


def test_parity_exponents_of_known_power_law():
    k = np.arange(0, 61, dtype=float)
    mu = np.where(k % 2 == 0, 3.0, 0.5) * np.maximum(k, 1) ** -4.0
    exps = frequency.parity_exponents(mu, 10)
    assert exps.even == pytest.approx(4.0, abs=1e-10)
    assert exps.odd == pytest.approx(4.0, abs=1e-10)
    mu[11::2] = 0.0
    assert math.isnan(frequency.parity_exponents(mu, 10).odd)


def test_relu_ntk_decay_exponent_close_to_dimension():
    # mu_k ~ k^-d for the ReLU NTK (even k)
    for dim in (3, 5):
        exps = frequency.parity_exponents(frequency.pnn_spectrum(1, dim, 60), 20)
        assert abs(exps.even - dim) < 0.25
        assert math.isnan(exps.odd)


def test_normalize_kernel_unit_diagonal_and_same_eigvecs():
    x = data.sphere(jax.random.key(0), 50, 4)
    k = np.asarray(kernels.pnn_ntk(x, x, 3))
    kn = frequency.normalize_kernel(k)
    np.testing.assert_allclose(np.diag(kn), 1.0, rtol=1e-12)
    np.testing.assert_allclose(kn * k[0, 0], k, rtol=1e-10)
    with pytest.raises(ValueError, match="k"):
        frequency.normalize_kernel(np.zeros((3, 3)))


def test_predicted_residual_matches_linearized_dynamics_on_eigenvectors():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    lam = np.linspace(0.1, 5.0, 20)
    k = (q * lam) @ q.T
    y = q[:, 3]  # an eigenvector with eigenvalue lam[3]; lam/n plays mu
    hist = training.linearized_dynamics(k, y, learning_rate=0.7, steps=np.arange(0, 30, 7), projections=y)
    pred = frequency.predicted_residual(lam[3:4] / 20, 0.7, np.arange(0, 30, 7))
    np.testing.assert_allclose(np.asarray(hist.residual_projections)[:, 0], pred[:, 0], rtol=1e-10)


def test_learning_time_inverse_to_eigenvalue():
    mu = np.array([1e-3, 1e-4, 1e-5, 0.0])
    t = frequency.learning_time(mu, 0.5)
    assert np.isinf(t[3])
    assert t[1] / t[0] == pytest.approx(10, rel=1e-3)
    assert t[2] / t[1] == pytest.approx(10, rel=1e-3)
    assert np.isinf(frequency.learning_time(np.array([3.0]), 0.5)[0])  # |1 - 3| >= 1 diverges
    with pytest.raises(ValueError, match="factor"):
        frequency.learning_time(mu, 0.5, factor=0.5)


def test_gegenbauer_energy_pure_for_correct_parameter_and_leaky_for_code():
    dim = 10
    pure = frequency.gegenbauer_energy(5, (dim - 2) / 2, dim)
    assert pure[5] == pytest.approx(1.0, abs=1e-10)
    leaky = frequency.gegenbauer_energy(5, (dim - 1) / 2, dim)
    assert leaky.sum() == pytest.approx(1.0, abs=1e-12)
    assert leaky[5] < 0.999
    assert np.all(leaky[[0, 2, 4]] < 1e-20)  # parity is preserved: only k-2, k-4, ... appear
    assert leaky[3] > 1e-4


def test_gegenbauer_energy_matches_sampled_projection():
    # Monte Carlo check of the leaked energy of C_4^(4.5) on S^9 against its degree-2/0 parts
    dim = 10
    e = frequency.gegenbauer_energy(4, 4.5, dim)
    x = np.asarray(data.sphere(jax.random.key(1), 200_000, dim))
    g = eval_gegenbauer(4, 4.5, x[:, 0])
    pure = e[4] * np.mean(g**2)  # energy claimed to be in degree 4
    # the degree-4 part is proportional to C_4^(4) (the correct zonal harmonic)
    h = eval_gegenbauer(4, 4.0, x[:, 0])
    proj = np.mean(g * h) ** 2 / np.mean(h**2)
    assert proj == pytest.approx(pure, rel=0.03)


def test_argument_validation():
    with pytest.raises(TypeError, match="degree"):
        frequency.pnn_spectrum(2.0, 3, 5)
    with pytest.raises(ValueError, match="dim"):
        frequency.pnn_spectrum(2, 1, 5)
    with pytest.raises(ValueError, match="mu"):
        frequency.mercer_trace(np.ones((2, 2)), 3)
    with pytest.raises(ValueError, match="k_min"):
        frequency.parity_exponents(np.ones(10), 0)
    with pytest.raises(ValueError, match="learning_rate"):
        frequency.predicted_residual(np.ones(3), -1.0, 3)


def test_projection_dynamics_matches_linearized_dynamics():
    x = data.sphere(jax.random.key(2), 60, 5)
    k = np.asarray(kernels.pnn_ntk(x, x, 2))
    target = data.zonal_harmonic_target(jax.random.key(3), 5, degrees=(1, 2, 3))
    y = target(x)
    proj = target.projections(x)
    f0 = 0.1 * np.asarray(jax.random.normal(jax.random.key(4), (60,)))
    steps = np.array([0, 1, 5, 50, 400])
    rates = [0.05, 0.4]
    out = frequency.projection_dynamics(k, y, proj, rates, steps, f0_train=f0)
    assert out.shape == (2, 5, 3)
    for i, eta in enumerate(rates):
        ref = training.linearized_dynamics(k, y, learning_rate=eta, steps=steps, f0_train=f0, projections=proj)
        np.testing.assert_allclose(out[i], np.asarray(ref.residual_projections), rtol=1e-9, atol=1e-12)
    both = frequency.projection_dynamics(k, np.stack([y, 2 * y], 1), proj, rates, steps)
    np.testing.assert_allclose(both[:, 1], 2 * both[:, 0], rtol=1e-12)


def test_pnn_spectra_matches_sphere_eigenvalues_for_each_degree():
    degrees = [1, 2, 5, 9]
    for dim in (3, 10):
        table = frequency.pnn_spectra(degrees, dim, 30)
        normed = frequency.pnn_spectra(degrees, dim, 30, normalize=True)
        for row, nrow, n in zip(table, normed, degrees):
            ref = spectra.sphere_eigenvalues(lambda t: kernels.pnn_ntk_cosine(t, n), dim, 30, num_nodes=700)
            scale = np.max(np.abs(ref))
            np.testing.assert_allclose(row, ref, rtol=1e-8, atol=1e-13 * scale)
            diag = float(kernels.pnn_ntk_cosine(np.ones(1), n)[0])
            np.testing.assert_allclose(nrow * diag, row, rtol=1e-12, atol=1e-15 * scale)


def test_linearized_dynamics_match_gradient_steps_on_train_and_test_points():
    """The closed form against the recursion it solves, step by step: r <- r - (2 eta/n) K r on the
    training points, f(x) <- f(x) - (2 eta/n) K(x, X) r on fresh ones."""
    x = np.asarray(data.sphere(jax.random.key(0), 60, 3))
    xt = np.asarray(data.sphere(jax.random.key(1), 25, 3))
    k, kt = np.asarray(kernels.pnn_ntk(x, x, 2)), np.asarray(kernels.pnn_ntk(xt, x, 2))
    y = np.sin(3 * x[:, 0])
    steps = np.array([0, 1, 7, 100, 301])
    eta = 0.9 * training.max_stable_learning_rate(k)  # q < 0 in the top directions: odd steps oscillate
    hist = training.linearized_dynamics(k, y, learning_rate=eta, steps=steps, k_test_train=kt)
    f, g, recorded = np.zeros(60), np.zeros(25), {}
    for s in range(steps[-1] + 1):
        if s in steps:
            recorded[s] = f.copy(), g.copy()
        r = f - y
        f, g = f - 2 * eta / 60 * k @ r, g - 2 * eta / 60 * kt @ r
    for i, s in enumerate(steps):
        np.testing.assert_allclose(hist.train_predictions[i], recorded[s][0], atol=1e-9)
        np.testing.assert_allclose(hist.test_predictions[i], recorded[s][1], atol=1e-9)
    # the residual projections are those of projection_dynamics (one shared closed form)
    proj = np.eye(60)[:3]
    res = frequency.projection_dynamics(k, y, proj, [eta], steps)[0]
    np.testing.assert_allclose(proj @ (y - hist.train_predictions).T, res.T, atol=1e-10)


def test_linearized_dynamics_handle_a_singular_kernel_and_check_arguments():
    x = np.asarray(data.sphere(jax.random.key(0), 30, 3))
    k = x @ x.T  # rank 3: zero eigenvalues use the limit 2 eta s / n of (1 - q^s) / lambda
    y = x[:, 0] + 0.1
    hist = training.linearized_dynamics(k, y, learning_rate=0.1, steps=np.array([0, 10, 10_000]), k_test_train=k)
    assert np.all(np.isfinite(hist.test_predictions))
    # the linear part x_0 is in the kernel's range: learned; the constant is not
    np.testing.assert_allclose(frequency.component_coefficients(x.T, hist.test_predictions[-1]), [1, 0, 0], atol=0.05)
    with pytest.raises(ValueError, match="k_test_train"):
        training.linearized_dynamics(k, y, learning_rate=0.1, steps=[1], k_test_train=np.ones((4, 5)))
    with pytest.raises(ValueError, match="steps"):
        training.linearized_dynamics(k, y, learning_rate=0.1, steps=[-1])
    with pytest.raises(ValueError, match="learning_rate"):
        training.linearized_dynamics(k, y, learning_rate=0.0, steps=[1])


def test_component_coefficients_separate_correlated_components():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(4, 300))
    h[1] += 3 * h[0]  # far from orthogonal: inner products mix them, least squares does not
    c = np.array([0.5, -1.0, 2.0, 0.0])
    np.testing.assert_allclose(frequency.component_coefficients(h, c @ h), c, atol=1e-12)
    two = frequency.component_coefficients(h, np.stack([c @ h, 2 * c @ h]))
    np.testing.assert_allclose(two, [c, 2 * c], atol=1e-12)
    inner = (h @ (c @ h)) / (h * h).sum(1)
    assert abs(inner[0] - c[0]) > 0.5  # the naive reading is contaminated
    with pytest.raises(ValueError, match="harmonics"):
        frequency.component_coefficients(np.ones((5, 3)), np.ones(3))
    with pytest.raises(ValueError, match="values"):
        frequency.component_coefficients(h, np.ones(299))


def test_stable_rate_is_n_over_lambda_max():
    x = np.asarray(data.sphere(jax.random.key(2), 80, 4))
    k = np.asarray(kernels.pnn_ntk(x, x, 3))
    rate = training.max_stable_learning_rate(k)
    assert abs(rate - 80 / np.linalg.eigvalsh(k)[-1]) < 1e-9 * rate
    with pytest.raises(ValueError, match="positive eigenvalue"):
        training.max_stable_learning_rate(np.zeros((3, 3)))
