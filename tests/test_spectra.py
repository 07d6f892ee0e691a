"""Funk-Hecke eigenvalues: exact cases, Mercer's trace, the ReLU NTK's zero odd modes, Gram spectra."""

import jax
import numpy as np
import pytest
from scipy.special import eval_gegenbauer

from pntk import data, kernels, spectra


def test_legendre_of_dimension_d_is_the_normalised_gegenbauer():
    t = np.linspace(-1, 1, 41)
    for dim in [3, 5, 10]:
        p = spectra.sphere_legendre(12, dim, t)
        alpha = (dim - 2) / 2
        for k in range(13):
            np.testing.assert_allclose(p[k], eval_gegenbauer(k, alpha, t) / eval_gegenbauer(k, alpha, 1.0), atol=1e-12)
    np.testing.assert_allclose(spectra.sphere_legendre(6, 2, t)[6], np.cos(6 * np.arccos(t)), atol=1e-12)


def test_multiplicities():
    assert [spectra.harmonic_multiplicity(3, k) for k in range(5)] == [1, 3, 5, 7, 9]
    assert [spectra.harmonic_multiplicity(2, k) for k in range(4)] == [1, 2, 2, 2]
    # N(d, k) = dim of degree-k homogeneous polynomials minus those of degree k-2
    from math import comb
    for d in [4, 7, 10]:
        for k in range(2, 8):
            assert spectra.harmonic_multiplicity(d, k) == comb(k + d - 1, k) - comb(k + d - 3, k - 2)


def test_exact_eigenvalues_of_t_squared_on_s2():
    """t^2 = 1/3 P_0 + 2/3 P_2 in d = 3, and k(t) = sum_k N(d,k) mu_k P_k(t): mu_0 = 1/3, mu_2 = 2/15."""
    mu = spectra.sphere_eigenvalues(lambda t: t**2, 3, 5)
    np.testing.assert_allclose(mu, [1 / 3, 0, 2 / 15, 0, 0, 0], atol=1e-14)


@pytest.mark.parametrize("dim", [3, 5, 10])
@pytest.mark.parametrize("degree", [1, 3])
def test_mercer_trace_identity(dim, degree):
    kernel = lambda t: kernels.pnn_ntk_cosine(t, degree)  # noqa: E731
    mu = spectra.sphere_eigenvalues(kernel, dim, 80 if dim == 3 else 40)
    total = sum(spectra.harmonic_multiplicity(dim, k) * m for k, m in enumerate(mu))
    # the spectrum decays like k^-d with multiplicity k^(d-2): the truncated tail is O(K^-1)
    assert abs(total / float(kernel(1.0)) - 1) < (0.01 if dim == 3 else 0.05)
    assert np.all(mu[::2] > 0)


def test_relu_ntk_without_bias_has_zero_odd_eigenvalues_beyond_one():
    """Bietti & Mairal (2019): mu_k = 0 for odd k >= 3; not for the polynomial net of degree 2."""
    mu = spectra.sphere_eigenvalues(lambda t: kernels.pnn_ntk_cosine(t, 1), 3, 21)
    assert np.all(np.abs(mu[3::2]) < 1e-13 * mu[0])
    assert mu[1] > 1e-3 * mu[0]
    mu2 = spectra.sphere_eigenvalues(lambda t: kernels.pnn_ntk_cosine(t, 2), 3, 21)
    assert np.all(mu2[3::2] > 1e-8 * mu2[0])


def test_relu_ntk_even_eigenvalues_decay_like_k_to_the_minus_d():
    for dim in [3, 5]:
        mu = spectra.sphere_eigenvalues(lambda t: kernels.pnn_ntk_cosine(t, 1), dim, 120)
        ks = np.arange(60, 121, 2)
        assert abs(spectra.decay_exponent(ks, mu[ks]) - dim) < 0.1


@pytest.mark.slow
def test_gram_spectrum_matches_funk_hecke():
    n, dim = 2000, 3
    x = np.asarray(data.sphere(jax.random.key(0), n, dim))
    gram = spectra.gram_eigenvalues(kernels.pnn_ntk(x, x, 2))
    mu = spectra.expand_by_multiplicity(spectra.sphere_eigenvalues(lambda t: kernels.pnn_ntk_cosine(t, 2), dim, 30), dim)
    # the top eigenvalues (degrees 0-3, 16 of them) within 10%
    np.testing.assert_allclose(gram[:16], mu[:16], rtol=0.1)
    assert abs(gram.sum() - float(kernels.pnn_ntk_cosine(1.0, 2))) < 1e-9 * gram.sum()  # trace(K)/n = k(1)


def test_decay_exponent_of_an_exact_power_law():
    ks = np.arange(1, 50)
    assert abs(spectra.decay_exponent(ks, 3.0 * ks**-2.5) - 2.5) < 1e-12
    with pytest.raises(ValueError, match="positive"):
        spectra.decay_exponent(ks, np.zeros(49))


def test_docstring_examples_run():
    """The worked examples in the docstrings of pntk.spectra and pntk.kernels (the deep-ReLU spectrum) are right."""
    import doctest

    import pntk.kernels
    import pntk.spectra
    for module in (pntk.spectra, pntk.kernels):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and (module is pntk.kernels or result.attempted >= 5), result
