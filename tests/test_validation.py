"""Bad input raises ValueError/TypeError naming the argument, never a JAX traceback."""

import jax
import numpy as np
import pytest

from pntk import data, kernels, models, spectra, training

X = np.ones((4, 3))


@pytest.mark.parametrize("call,error,match", [
    (lambda: kernels.pnn_ntk(X, X, 0), ValueError, r"degree must be an integer in \[1, 128\], got 0"),
    (lambda: kernels.pnn_ntk(X, X, 500), ValueError, "degree"),
    (lambda: kernels.pnn_ntk(X, X, -2), ValueError, "degree"),
    (lambda: kernels.pnn_ntk(X, X, 2.0), TypeError, "degree must be an integer"),
    (lambda: kernels.pnn_ntk(X, X, 2.5), TypeError, "degree"),
    (lambda: kernels.pnn_ntk(X, X, True), TypeError, "degree"),
    (lambda: kernels.pnn_ntk(X, np.ones((4, 2)), 2), ValueError, "same input dimension"),
    (lambda: kernels.pnn_ntk(np.array([[np.nan, 1.0, 0.0]]), X, 2), ValueError, "x1 contains 1 non-finite"),
    (lambda: kernels.pnn_ntk(X, np.full((2, 3), np.inf), 2), ValueError, "x2 contains"),
    (lambda: kernels.pnn_ntk(np.ones(3), X, 2), ValueError, r"x1 must have shape \(n, d\)"),
    (lambda: kernels.pnn_ntk(np.ones((0, 3)), X, 2), ValueError, "x1 is empty"),
    (lambda: kernels.pnn_ntk(np.ones((2, 2, 2)), X, 2), ValueError, "rank 2"),
    (lambda: kernels.pnn_ntk("abc", X, 2), TypeError, "x1"),
    (lambda: kernels.pnn_ntk(X, X, 2, activation="tanh"), ValueError, "activation must be one of"),
    (lambda: kernels.pnn_ntk(X, X, 2, skip="yes"), TypeError, "skip"),
    (lambda: kernels.pnn_ntk_cosine(np.array([0.5, 1.5]), 2), ValueError, r"\[-1, 1\]"),
    (lambda: models.pnn(0, 10), ValueError, "degree"),
    (lambda: models.pnn(2, 0), ValueError, "width must be an integer >= 1"),
    (lambda: models.pnn(2, 10, activation="sigmoid"), ValueError, "activation"),
    (lambda: models.pnn(2, 10).init_fn(0, 3), TypeError, "jax.random.key"),
    (lambda: models.pnn(2, 10).init_fn(jax.random.key(0), 0), ValueError, "input_dim"),
    (lambda: data.sphere(jax.random.key(0), 0, 3), ValueError, "n must be"),
    (lambda: data.sphere(jax.random.key(0), 5, 0), ValueError, "dim must be"),
    (lambda: data.ball(jax.random.key(0), 5, 2, radius=-1.0), ValueError, "radius"),
    (lambda: data.target("sine"), ValueError, "unknown target 'sine'"),
    (lambda: data.target("cubic_plus_linear")(np.ones((3, 1))), ValueError, "dimension >= 2"),
    (lambda: data.mape([0.0, 1.0], [1.0, 1.0]), ValueError, "y_true == 0"),
    (lambda: spectra.sphere_eigenvalues(lambda t: t, 1, 5), ValueError, "dim must be an integer >= 2"),
    (lambda: spectra.sphere_eigenvalues(lambda t: t, 3, -1), ValueError, "max_k"),
    (lambda: spectra.sphere_eigenvalues(lambda t: t * np.nan, 3, 4), ValueError, "non-finite"),
    (lambda: spectra.sphere_eigenvalues(3.0, 3, 4), TypeError, "kernel must be a function"),
    (lambda: training.kernel_regression(np.ones((3, 2)), np.ones(3)), ValueError, "k_train must be a square"),
    (lambda: training.kernel_regression(np.eye(3), np.ones(4)), ValueError, "y must have length 3"),
    (lambda: training.kernel_regression(np.eye(3), np.ones(3), ridge=-1.0), ValueError, "ridge"),
    (lambda: training.linearized_dynamics(np.eye(3), np.ones(3), learning_rate=1.0, steps=[-1]), ValueError, "steps"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_apply_fn_checks_input_dimension_and_params():
    init, apply = models.pnn(2, 5)
    params = init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3\)"):
        apply(params, np.ones((2, 4)))
    other = models.pnn(3, 5).init_fn(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="params\\['W'\\] has shape"):
        apply(other, np.ones((2, 3)))


def test_empirical_ntk_reports_mismatched_params():
    init, apply = models.pnn(2, 5)
    params = init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="apply_fn"):
        kernels.empirical_ntk(apply, params, np.ones((2, 4)), np.ones((2, 4)))


def test_integer_inputs_are_accepted_as_floats():
    np.testing.assert_allclose(kernels.pnn_ntk(np.eye(3, dtype=int), None, 2), kernels.pnn_ntk(np.eye(3), None, 2))


# ----------------------------------------------------------------------------
# The whole public API: one representative bad call per public function.
# A new public function without a row here fails test_every_public_function_has_a_bad_input_row.
# ----------------------------------------------------------------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
import pkgutil  # noqa: E402

import pntk  # noqa: E402

KEY = jax.random.key(0)
XS = np.eye(4, 3) + 0.1  # four distinct points (X repeats one point: its Gram matrix is singular)
# modules whose public functions this table covers; every other pntk submodule must be listed
# in OWNED_ELSEWHERE with the test file that checks its bad inputs
TABLE_MODULES = ("data", "kernels", "models", "spectra", "training", "plotting", "reference",
                 "convergence", "equivalence", "extrapolation", "frequency")
OWNED_ELSEWHERE = {
    "hadamard_nets": "tests/test_hadamard_nets.py",
    "widgets": "tests/test_widgets.py",
    "blocked": "tests/test_blocked.py",
    "experiments": "tests/test_experiments.py",
    "digits": "tests/test_digits.py",
}


def _params():
    return models.pnn(2, 5).init_fn(KEY, 3)


def _k():
    return pntk.kernels.inputs(X, X)


def _mod(name):
    return importlib.import_module(f"pntk.{name}")


# (qualified name, bad call, exception, regex the message must match: the argument and the allowed values)
API = [
    # data
    ("data.sphere", lambda: data.sphere(KEY, True, 3), TypeError, "n must be an integer >= 1"),
    ("data.ball", lambda: data.ball(KEY, 5, 2, radius=-1.0), ValueError, "radius must be a finite number >= 0"),
    ("data.cube", lambda: data.cube(KEY, 5, 2, half_width=np.nan), ValueError, "half_width must be a finite"),
    ("data.ray", lambda: data.ray([0.0, 0.0], [1.0]), ValueError, "direction must be a non-zero finite vector"),
    ("data.target", lambda: data.target("sine"), ValueError, r"unknown target 'sine'; choose one of \["),
    ("data.mape", lambda: data.mape([1.0, 2.0], [1.0]), ValueError, "y_pred must have length 2"),
    ("data.relative_error", lambda: data.relative_error(np.ones(3), np.zeros(3)), ValueError, "exact is zero"),
    ("data.zonal_harmonic_target", lambda: data.zonal_harmonic_target(KEY, 1), ValueError, "dim must be an integer >= 2"),
    # kernels: layers
    ("kernels.inputs", lambda: pntk.kernels.inputs(X, np.ones((2, 2))), ValueError, "same input dimension"),
    ("kernels.inputs_from_cosine", lambda: pntk.kernels.inputs_from_cosine(np.array([0.2, 1.5])), ValueError, r"\[-1, 1\]"),
    ("kernels.dense", lambda: pntk.kernels.dense(_k(), scale=-2.0), ValueError, "scale must be a finite number"),
    ("kernels.relu", lambda: pntk.kernels.relu(X), TypeError, "k must be a pntk.kernels.Kernel"),
    ("kernels.one_plus_relu", lambda: pntk.kernels.one_plus_relu(None), TypeError, "k must be a pntk.kernels.Kernel"),
    ("kernels.one_plus", lambda: pntk.kernels.one_plus(3.0), TypeError, "k must be a pntk.kernels.Kernel"),
    ("kernels.hadamard", lambda: pntk.kernels.hadamard(_k(), X), TypeError, r"branches\[1\] must be a pntk.kernels.Kernel"),
    ("kernels.hadamard_power", lambda: pntk.kernels.hadamard_power(_k(), _k(), -1), ValueError, r"count must be an integer in \[0, 127\]"),
    # kernels: models in closed form
    ("kernels.pnn_kernel", lambda: pntk.kernels.pnn_kernel(X, X, 2.5), TypeError, "degree must be an integer"),
    ("kernels.pnn_ntk", lambda: pntk.kernels.pnn_ntk(X, np.ones((4, 2)), 2), ValueError, "same input dimension"),
    ("kernels.pnn_nngp", lambda: pntk.kernels.pnn_nngp(X, X, 2, activation="tanh"), ValueError, r"activation must be one of \('relu', 'identity'\)"),
    ("kernels.pnn_ntk_cosine", lambda: pntk.kernels.pnn_ntk_cosine(np.array([np.nan]), 2), ValueError, "non-finite"),
    ("kernels.pnn_nngp_cosine", lambda: pntk.kernels.pnn_nngp_cosine(np.array([0.5]), 0), ValueError, r"degree must be an integer in \[1, 128\]"),
    ("kernels.relu_ntk", lambda: pntk.kernels.relu_ntk(np.ones((0, 3))), ValueError, "x1 is empty"),
    ("kernels.add_bias", lambda: pntk.kernels.add_bias(X), TypeError, "k must be a pntk.kernels.Kernel"),
    ("kernels.relu_mlp_kernel", lambda: pntk.kernels.relu_mlp_kernel(X, X, 0), ValueError, r"depth must be an integer in \[1, 128\]"),
    ("kernels.relu_mlp_ntk", lambda: pntk.kernels.relu_mlp_ntk(X, X, 2.0), TypeError, "depth must be an integer"),
    ("kernels.relu_mlp_nngp", lambda: pntk.kernels.relu_mlp_nngp(X, X, 2, bias="yes"), TypeError, "bias must be True or False"),
    ("kernels.relu_mlp_ntk_cosine", lambda: pntk.kernels.relu_mlp_ntk_cosine(np.array([1.5]), 2), ValueError, r"\[-1, 1\]"),
    ("kernels.relu_mlp_nngp_cosine", lambda: pntk.kernels.relu_mlp_nngp_cosine(np.array([0.5]), 200), ValueError, r"depth must be an integer in \[1, 128\]"),
    ("kernels.empirical_ntk", lambda: pntk.kernels.empirical_ntk(models.pnn(2, 5).apply_fn, _params(), X, batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    # models (and the functions they return)
    ("models.pnn", lambda: models.pnn(2, 0), ValueError, "width must be an integer >= 1"),
    ("models.relu_net", lambda: models.relu_net(-3), ValueError, "width must be an integer >= 1"),
    ("models.relu_mlp", lambda: models.relu_mlp(0, 5), ValueError, r"depth must be an integer in \[1, 128\]"),
    ("models.pnn().init_fn", lambda: models.pnn(2, 5).init_fn(KEY, 2.0), TypeError, "input_dim must be an integer"),
    ("models.pnn().apply_fn", lambda: models.pnn(2, 5).apply_fn(_params(), np.ones(3)), ValueError, r"x must have shape \(n, 3\)"),
    # spectra
    ("spectra.sphere_legendre", lambda: spectra.sphere_legendre(3, 3, [np.nan]), ValueError, r"t must contain finite cosines in \[-1, 1\]"),
    ("spectra.harmonic_multiplicity", lambda: spectra.harmonic_multiplicity(1, 2), ValueError, "dim must be an integer >= 2"),
    ("spectra.sphere_eigenvalues", lambda: spectra.sphere_eigenvalues(lambda t: t, 3, 2.5), TypeError, "max_k must be an integer"),
    ("spectra.expand_by_multiplicity", lambda: spectra.expand_by_multiplicity([np.inf], 3), ValueError, "mu must be a non-empty finite"),
    ("spectra.gram_eigenvalues", lambda: spectra.gram_eigenvalues(np.ones((2, 3))), ValueError, "k must be a square matrix"),
    ("spectra.decay_exponent", lambda: spectra.decay_exponent([1.0], [1.0]), ValueError, "same length >= 2"),
    # training
    ("training.mse_loss", lambda: training.mse_loss(models.pnn(2, 5).apply_fn, _params(), X, np.ones(5)), ValueError, r"y must have the shape \(4,\)"),
    ("training.train", lambda: training.train(models.pnn(2, 5).apply_fn, _params(), X, np.ones(4), learning_rate=-0.1, steps=2), ValueError, "learning_rate must be a finite number"),
    ("training.linearized_dynamics", lambda: training.linearized_dynamics(np.eye(3), np.ones(3), learning_rate=0.1, steps=[1.5]), ValueError, "steps"),
    ("training.flat_mse", lambda: training.flat_mse(None, {"w": np.ones(2)}), TypeError, "apply_fn must be callable"),
    ("training.kernel_regression", lambda: training.kernel_regression(np.eye(3), np.ones(3), np.ones((2, 4))), ValueError, r"k_test_train must have shape \(n_test, 3\)"),
    ("training.pnn_kernel_regression", lambda: training.pnn_kernel_regression(X, np.ones(4), np.ones((2, 2)), 2), ValueError, "x_test has input dimension 2, expected 3"),
    ("training.max_stable_learning_rate", lambda: training.max_stable_learning_rate(np.full((2, 2), np.nan)), ValueError, "k_train contains non-finite"),
    # plotting
    ("plotting.degree_color", lambda: pntk.plotting.degree_color(0), ValueError, "degree must be an integer >= 1"),
    ("plotting.html_table", lambda: pntk.plotting.html_table("N", ["a", "b"], [(1, [0.5])]), ValueError, "rows: row 1 has 1 values, expected 2"),
    # reference (neural-tangents oracle)
    ("reference.pnn_stax", lambda: _mod("reference").pnn_stax(2, 5, 0), ValueError, "input_dim must be an integer >= 1"),
    ("reference.pnn_kernel_nt", lambda: _mod("reference").pnn_kernel_nt(X, X, 2, which="both"), ValueError, "which must be 'ntk' or 'nngp'"),
    ("reference.relu_mlp_stax", lambda: _mod("reference").relu_mlp_stax(2, 5, 3, bias=1), TypeError, "bias must be True or False"),
    ("reference.relu_mlp_kernel_nt", lambda: _mod("reference").relu_mlp_kernel_nt(X, X, 0), ValueError, "depth must be an integer >= 1"),
    # convergence
    ("convergence.arc_cosine", lambda: _mod("convergence").arc_cosine(np.zeros((1, 3))), ValueError, "zero vector"),
    ("convergence.arc_cosine_monte_carlo", lambda: _mod("convergence").arc_cosine_monte_carlo(KEY, X, num_samples=0), ValueError, "num_samples must be an integer >= 1"),
    ("convergence.ntk_convergence", lambda: _mod("convergence").ntk_convergence(KEY, X, 2, [], 1), ValueError, "widths must contain at least one width"),
    ("convergence.gram_ntk_fn", lambda: _mod("convergence").gram_ntk_fn(3), TypeError, "apply_fn must be callable"),
    ("convergence.subnet", lambda: _mod("convergence").subnet(_params(), 99), ValueError, r"width must be an integer in \[1, 5\]"),
    ("convergence.loglog_slope", lambda: _mod("convergence").loglog_slope([1.0, 2.0], [1.0, -1.0]), ValueError, "finite and positive"),
    ("convergence.kernel_drift", lambda: _mod("convergence").kernel_drift(_params(), X, np.ones(4), learning_rate=0.1, steps=0), ValueError, "steps must be an integer >= 1"),
    ("convergence.ccp_coefficients", lambda: _mod("convergence").ccp_coefficients([1, 2]), TypeError, "params must be the dict"),
    ("convergence.evaluate_coefficients", lambda: _mod("convergence").evaluate_coefficients([], X), ValueError, "at least one coefficient tensor"),
    ("convergence.ray_coefficients", lambda: _mod("convergence").ray_coefficients(_params(), np.ones(4)), ValueError, r"direction must have shape \(3,\)"),
    ("convergence.polyfit_residuals", lambda: _mod("convergence").polyfit_residuals([1.0, 2.0], [1.0, 2.0], -1), ValueError, "max_degree must be an integer >= 0"),
    ("convergence.init_outputs", lambda: _mod("convergence").init_outputs(KEY, X, [2], 0, 1), ValueError, "width must be an integer >= 1"),
    # equivalence
    ("equivalence.finite_width_ntk", lambda: _mod("equivalence").finite_width_ntk("params", X), TypeError, "params must be a dict"),
    ("equivalence.ntk_error_vs_width", lambda: _mod("equivalence").ntk_error_vs_width([0], [5], X, key=KEY), ValueError, "degrees must be an integer >= 1"),
    ("equivalence.loglog_slope", lambda: _mod("equivalence").loglog_slope([1.0], [1.0]), ValueError, ">= 2 entries"),
    ("equivalence.width_for_error", lambda: _mod("equivalence").width_for_error([1.0, 2.0], [1.0, 0.5], 0.0), ValueError, "target must be a finite number > 0"),
    ("equivalence.sphere_ntk_diagonal", lambda: _mod("equivalence").sphere_ntk_diagonal(0), ValueError, "degree must be an integer"),
    ("equivalence.relative_change", lambda: _mod("equivalence").relative_change(np.zeros(2), np.ones(2)), ValueError, "before is zero"),
    ("equivalence.compare_with_linearization", lambda: _mod("equivalence").compare_with_linearization(2, 5, X, np.ones(4), X, key=KEY, lr_fraction=2.0), ValueError, r"lr_fraction must lie in \(0, 1\)"),
    # extrapolation
    ("extrapolation.shell", lambda: _mod("extrapolation").shell(KEY, 5, 2, 2.0, 1.0), ValueError, "outer must be larger than inner"),
    ("extrapolation.mape_over_draws", lambda: _mod("extrapolation").mape_over_draws(KEY, lambda k: XS, lambda k: XS, {"y": lambda x: x[:, 0]}, {"k": pntk.kernels.relu_ntk}, n_draws=0), ValueError, "n_draws must be an integer >= 1"),
    ("extrapolation.ntk_regressor", lambda: _mod("extrapolation").ntk_regressor(X, np.ones(4), 0), ValueError, "degree must be an integer >= 1"),
    ("extrapolation.ntk_regressor()", lambda: _mod("extrapolation").ntk_regressor(XS, np.ones(4), 2)(np.ones((2, 2))), ValueError, "x has input dimension 2, expected 3"),
    ("extrapolation.ray_points", lambda: _mod("extrapolation").ray_points(np.zeros((1, 2)), [1.0]), ValueError, "directions must be finite and non-zero"),
    ("extrapolation.values_along_rays", lambda: _mod("extrapolation").values_along_rays(3, np.eye(2), [1.0]), TypeError, "predict must be callable"),
    ("extrapolation.growth_exponent", lambda: _mod("extrapolation").growth_exponent(np.ones(3), [1.0, 2.0]), ValueError, r"values must have shape \(T,\)"),
    ("extrapolation.polynomial_r2", lambda: _mod("extrapolation").polynomial_r2(np.arange(3.0), [1.0, 2.0, 3.0], 0), ValueError, "degree must be an integer >= 1"),
    ("extrapolation.polynomial_r2_along_rays", lambda: _mod("extrapolation").polynomial_r2_along_rays(lambda x: x[:, 0], np.eye(2), [1.0, 2.0, 3.0], []), ValueError, "degrees must contain at least one"),
    ("extrapolation.random_directions", lambda: _mod("extrapolation").random_directions(KEY, 0, 2), ValueError, "n must be an integer >= 1"),
    ("extrapolation.disk_sector", lambda: _mod("extrapolation").disk_sector(KEY, 5, 1.0, "north"), ValueError, r"sector must be one of \["),
    ("extrapolation.half_disk", lambda: _mod("extrapolation").half_disk(KEY, 5, -1.0), ValueError, "radius must be a finite number"),
    ("extrapolation.quadrant", lambda: _mod("extrapolation").quadrant(7, 5, 1.0), TypeError, "key must be a JAX PRNG key"),
    ("extrapolation.scalar_ccp", lambda: _mod("extrapolation").scalar_ccp(0), ValueError, "degree must be an integer >= 1"),
    ("extrapolation.adam_fit", lambda: _mod("extrapolation").adam_fit(3, {}, X, np.ones(4), KEY), TypeError, "apply_fn must be callable"),
    # frequency
    ("frequency.pnn_spectrum", lambda: _mod("frequency").pnn_spectrum(True, 3, 4), TypeError, "degree must be an integer"),
    ("frequency.pnn_spectra", lambda: _mod("frequency").pnn_spectra([2, 0], 3, 4), ValueError, "degrees must be an integer >= 1"),
    ("frequency.multiplicities", lambda: _mod("frequency").multiplicities(1, 3), ValueError, "dim must be an integer >= 2"),
    ("frequency.mercer_trace", lambda: _mod("frequency").mercer_trace([np.nan], 3), ValueError, "mu contains non-finite"),
    ("frequency.trace_fraction", lambda: _mod("frequency").trace_fraction([1.0, 0.5], 3, -1), ValueError, "min_k must be an integer >= 0"),
    ("frequency.parity_exponents", lambda: _mod("frequency").parity_exponents([1.0, 0.5], 0), ValueError, "k_min must be an integer >= 1"),
    ("frequency.normalize_kernel", lambda: _mod("frequency").normalize_kernel(np.zeros((2, 2))), ValueError, "positive diagonal"),
    ("frequency.predicted_residual", lambda: _mod("frequency").predicted_residual([1.0], -1.0, 3), ValueError, "learning_rate must be a finite number"),
    ("frequency.learning_time", lambda: _mod("frequency").learning_time([1.0], 1.0, factor=0.5), ValueError, "factor must be > 1"),
    ("frequency.gegenbauer_energy", lambda: _mod("frequency").gegenbauer_energy(-1, 1.0, 3), ValueError, "k must be an integer >= 0"),
    ("frequency.projection_dynamics", lambda: _mod("frequency").projection_dynamics(np.ones((2, 3)), np.ones(2), np.ones((1, 2)), [0.1], 3), ValueError, "k_train must be a square matrix"),
    # added for the functions of the other modules' recent commits (their owners cannot edit this table)
    ("data.harmonic_count", lambda: data.harmonic_count(1, 2), ValueError, "dim must be an integer >= 2"),
    ("training.slowest_contraction", lambda: training.slowest_contraction(np.eye(3), -1.0), ValueError, "learning_rate must be a finite number"),
    ("training.steps_to_tolerance", lambda: training.steps_to_tolerance(np.eye(3), 0.1, tolerance=2.0), ValueError, r"tolerance must lie in \(0, 1\)"),
    ("training.initial_output_variance", lambda: training.initial_output_variance(np.eye(3), np.ones((2, 4)), np.eye(3), np.ones((2, 3)), np.ones(2)), ValueError, r"k_test_train must have shape \(n_test, 3\)"),
    ("convergence.half_line_polyfit", lambda: _mod("convergence").half_line_polyfit([1.0, -1.0], [1.0, 2.0], [0.5], 0), ValueError, "degree must be an integer >= 1"),
    ("equivalence.distances_to_limit", lambda: _mod("equivalence").distances_to_limit("run"), TypeError, "run must be a TrainingComparison"),
    ("equivalence.initial_output_effect", lambda: _mod("equivalence").initial_output_effect(0, XS, np.ones(4), XS, np.ones(4)), ValueError, "degree must be an integer >= 1"),
    ("training.linearized_dynamics", lambda: training.linearized_dynamics(np.eye(3), np.ones(3), learning_rate=-0.1, steps=[1]), ValueError, "learning_rate must be a finite number"),
    ("frequency.component_coefficients", lambda: _mod("frequency").component_coefficients(np.ones((2, 3)), np.ones(4)), ValueError, r"values must be a finite array of shape \(3,\)"),
    ("convergence.empirical_nngp", lambda: _mod("convergence").empirical_nngp("p", X), TypeError, "params must be the dict"),
    ("convergence.nngp_convergence", lambda: _mod("convergence").nngp_convergence(KEY, XS, [2], [4], 0), ValueError, "num_seeds must be an integer >= 1"),
]


def _public_functions(module_name):
    """Public functions of a module's __all__: callables that are not classes and take arguments."""
    module = _mod(module_name)
    names = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not callable(obj) or inspect.isclass(obj):
            continue  # constants, NamedTuple results (their fields are validated where they are built)
        if not inspect.signature(obj).parameters:
            continue  # nothing to validate (e.g. plotting.style(), reference.neural_tangents())
        names.append(f"{module_name}.{name}")
    return names


def test_every_pntk_module_is_covered_by_a_bad_input_table():
    found = {m.name for m in pkgutil.iter_modules(pntk.__path__) if not m.name.startswith("_")}
    uncovered = found - set(TABLE_MODULES) - set(OWNED_ELSEWHERE)
    assert not uncovered, f"add the public functions of {sorted(uncovered)} to the API table of this file"


def test_every_public_function_has_a_bad_input_row():
    rows = {name for name, *_ in API}
    missing = [f for m in TABLE_MODULES for f in _public_functions(m) if f not in rows]
    assert not missing, f"public functions without a bad-input row in tests/test_validation.py: {missing}"


@pytest.mark.parametrize("name,call,error,match", API, ids=[row[0] for row in API])
def test_public_api_refuses_bad_input_with_a_clear_error(name, call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    # the error is raised by pntk's own checks, before any JAX computation
    assert "jax" not in type(info.value).__module__


# every function that takes a polynomial degree: bad degrees of every kind, and numpy integers accepted
DEGREE_FUNCTIONS = {
    "kernels.pnn_ntk": lambda n: pntk.kernels.pnn_ntk(X, X, n),
    "kernels.pnn_kernel": lambda n: pntk.kernels.pnn_kernel(X, None, n),
    "kernels.pnn_nngp_cosine": lambda n: pntk.kernels.pnn_nngp_cosine(np.array([0.3]), n),
    "models.pnn": lambda n: models.pnn(n, 4),
    "training.pnn_kernel_regression": lambda n: training.pnn_kernel_regression(XS, np.ones(4), XS, n),
    "extrapolation.ntk_regressor": lambda n: _mod("extrapolation").ntk_regressor(XS, np.ones(4), n),
    "extrapolation.scalar_ccp": lambda n: _mod("extrapolation").scalar_ccp(n),
    "frequency.pnn_spectrum": lambda n: _mod("frequency").pnn_spectrum(n, 3, 2, num_nodes=16),
    "plotting.degree_color": lambda n: pntk.plotting.degree_color(n),
    "reference.pnn_stax": lambda n: _mod("reference").pnn_stax(n, 4, 3),
}
BAD_DEGREES = [(0, ValueError), (-2, ValueError), (2.5, TypeError), (2.0, TypeError), (True, TypeError),
               ("3", TypeError), (None, TypeError), (np.float64(2.0), TypeError)]


@pytest.mark.parametrize("name", sorted(DEGREE_FUNCTIONS))
def test_every_degree_argument_is_checked(name):
    call = DEGREE_FUNCTIONS[name]
    for bad, error in BAD_DEGREES:
        with pytest.raises(error, match="degree must be an integer"):
            call(bad)
    call(np.int64(2))  # numpy integers are integers
    call(np.array(2, dtype=np.int32))


WIDTH_FUNCTIONS = {
    "models.pnn": lambda m: models.pnn(2, m),
    "models.relu_net": lambda m: models.relu_net(m),
    "models.relu_mlp": lambda m: models.relu_mlp(3, m),
    "reference.relu_mlp_stax": lambda m: _mod("reference").relu_mlp_stax(2, m, 3),
    "reference.pnn_stax": lambda m: _mod("reference").pnn_stax(2, m, 3),
    "convergence.init_outputs": lambda m: _mod("convergence").init_outputs(KEY, X, [2], m, 1),
    "equivalence.compare_with_linearization": lambda m: _mod("equivalence").compare_with_linearization(2, m, X, np.ones(4), X, key=KEY),
}


@pytest.mark.parametrize("name", sorted(WIDTH_FUNCTIONS))
@pytest.mark.parametrize("bad,error", [(0, ValueError), (-5, ValueError), (10.5, TypeError), (False, TypeError)])
def test_every_width_argument_is_checked(name, bad, error):
    with pytest.raises(error, match="width must be an integer"):
        WIDTH_FUNCTIONS[name](bad)


# every function that takes points: NaN, inf, empty, wrong rank, mismatched dimensions
POINT_FUNCTIONS = {
    "kernels.pnn_ntk": lambda a, b: pntk.kernels.pnn_ntk(a, b, 2),
    "kernels.relu_ntk": lambda a, b: pntk.kernels.relu_ntk(a, b),
    "kernels.inputs": lambda a, b: pntk.kernels.inputs(a, b),
    "kernels.empirical_ntk": lambda a, b: pntk.kernels.empirical_ntk(models.pnn(2, 5).apply_fn, _params(), a, b),
    "reference.pnn_kernel_nt": lambda a, b: _mod("reference").pnn_kernel_nt(a, b, 2),
    "kernels.relu_mlp_ntk": lambda a, b: pntk.kernels.relu_mlp_ntk(a, b, 3),
    "kernels.relu_mlp_kernel": lambda a, b: pntk.kernels.relu_mlp_kernel(a, b, 2, bias=True),
    "reference.relu_mlp_kernel_nt": lambda a, b: _mod("reference").relu_mlp_kernel_nt(a, b, 2),
    "convergence.arc_cosine": lambda a, b: _mod("convergence").arc_cosine(a, b),
    "convergence.arc_cosine_monte_carlo": lambda a, b: _mod("convergence").arc_cosine_monte_carlo(KEY, a, b, 8),
    "equivalence.finite_width_ntk": lambda a, b: _mod("equivalence").finite_width_ntk(_params(), a, b),
}
BAD_POINTS = [
    ("nan", np.array([[np.nan, 1.0, 0.0]]), X, "x1 contains 1 non-finite"),
    ("inf", X, np.array([[1.0, -np.inf, 0.0]]), "x2 contains 1 non-finite"),
    ("empty", np.ones((0, 3)), X, "x1 is empty"),
    ("rank1", X, np.ones(3), r"x2 must have shape \(n, d\)"),
    ("rank3", np.ones((2, 2, 3)), X, "rank 2"),
    ("dims", X, np.ones((2, 4)), "same input dimension"),
    ("complex", X.astype(complex), X, "x1 must be real"),
]


@pytest.mark.parametrize("name", sorted(POINT_FUNCTIONS))
@pytest.mark.parametrize("case,x1,x2,match", BAD_POINTS, ids=[c[0] for c in BAD_POINTS])
def test_every_pair_of_point_sets_is_checked(name, case, x1, x2, match):
    error = TypeError if case == "complex" else ValueError
    with pytest.raises(error, match=match):
        POINT_FUNCTIONS[name](x1, x2)


@pytest.mark.parametrize("name", ["kernels.pnn_ntk", "kernels.pnn_nngp", "models.pnn", "reference.pnn_stax",
                                  "training.pnn_kernel_regression", "equivalence.finite_width_ntk"])
def test_every_activation_argument_names_the_allowed_values(name):
    calls = {
        "kernels.pnn_ntk": lambda: pntk.kernels.pnn_ntk(X, X, 2, activation="gelu"),
        "kernels.pnn_nngp": lambda: pntk.kernels.pnn_nngp(X, X, 2, activation="ReLU"),
        "models.pnn": lambda: models.pnn(2, 4, activation="tanh"),
        "reference.pnn_stax": lambda: _mod("reference").pnn_stax(2, 4, 3, activation="sigmoid"),
        "training.pnn_kernel_regression": lambda: training.pnn_kernel_regression(X, np.ones(4), X, 2, activation="elu"),
        "equivalence.finite_width_ntk": lambda: _mod("equivalence").finite_width_ntk(_params(), X, activation="swish"),
    }
    with pytest.raises(ValueError, match=r"activation must be one of \('relu', 'identity'\)"):
        calls[name]()


def test_a_singular_gram_matrix_is_reported_not_returned_as_nan():
    with pytest.raises(ValueError, match="singular.*ridge > 0"):
        training.pnn_kernel_regression(X, np.arange(4.0), X, 2)
    with pytest.raises(ValueError, match="singular.*ridge > 0"):
        _mod("extrapolation").ntk_regressor(X, np.arange(4.0), 2)
    assert np.all(np.isfinite(training.pnn_kernel_regression(X, np.ones(4), X, 2, ridge=1e-3)))


def test_unknown_target_names_the_allowed_targets():
    with pytest.raises(ValueError) as info:
        data.target("Quadratic")
    for name in data.TARGETS:
        assert repr(name) in str(info.value)


def test_html_table_marks_missing_values_and_keeps_numbers_whole():
    html = pntk.plotting.html_table("N", ["even", "odd"], [(1, [2.9912, float("nan")]), (2, [3.0, 3.1])], ".2f").data
    assert html.count("<tr>") == 3
    assert "&ndash;" in html and "nan" not in html
    assert "2.99" in html and "3.10" in html
    assert html.count('style="white-space:nowrap"') == 4
