"""pntk.widgets: the static face's HTML and accessibility, frames equal to the live face's drawing, validation, caches."""

import base64
import html.parser
import json

import jax
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from pntk import data, frequency, kernels, models, spectra, training
from pntk import extrapolation as ex
from pntk import widgets as W
from pntk.convergence import subnet

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EX_DEGREES, EX_WIDTHS = [1, 2, 3], [16, W.INFINITE]
SP_DEGREES, SP_WIDTHS = [1, 3], [64, W.INFINITE]


@pytest.fixture(scope="module")
def ex_static():
    return W.extrapolation_static("quadratic", 2.0, degrees=EX_DEGREES, widths=EX_WIDTHS)


@pytest.fixture(scope="module")
def sp_static():
    return W.spectrum_static(3, degrees=SP_DEGREES, widths=SP_WIDTHS)


class _Tags(html.parser.HTMLParser):
    """Every start tag of an HTML string as (tag, attributes), and the text inside <label>/<figcaption>."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.texts, self._open = [], {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("label", "figcaption", "output"):
            self._open = (tag, dict(attrs).get("for", ""))
            self.texts[self._open] = ""

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open:
            self.texts[self._open] += data


def _value_texts(name, values):
    return [f"degree {v}" if name == "degree" else ("infinite width" if v == W.INFINITE else f"width {v}")
            for v in values]


@pytest.mark.parametrize("which", ["ex_static", "sp_static"])
def test_static_face_is_accessible_html_holding_every_frame(which, request):
    face = request.getfixturevalue(which)
    degrees, widths = (EX_DEGREES, EX_WIDTHS) if which == "ex_static" else (SP_DEGREES, SP_WIDTHS)
    assert isinstance(face, W.StaticExplorer)
    page = _Tags(face._repr_html_())
    figures = [a for t, a in page.tags if t == "figure"]
    assert len(figures) == 1 and "pntk-static-widget" in figures[0]["class"].split()
    initial = (3 if 3 in degrees else degrees[0], widths[-1])
    # one range input per control, named by its visible label, announcing its value in words
    inputs = {a["data-control"]: a for t, a in page.tags if t == "input"}
    assert set(inputs) == {"degree", "width"}
    for name, values, start in (("degree", degrees, initial[0]), ("width", widths, initial[1])):
        a = inputs[name]
        assert a["type"] == "range" and (a["min"], a["max"], a["step"]) == ("0", str(len(values) - 1), "1")
        assert page.texts[("label", a["id"])] == name
        assert json.loads(a["data-valuetexts"]) == _value_texts(name, values)
        assert a["aria-valuetext"] == _value_texts(name, [start])[0] and a["value"] == str(values.index(start))
        assert page.texts[("output", a["id"])] == ("∞" if start == W.INFINITE else str(start))
        # step buttons beside it (every value reachable by a tap), named for what they do
        steps = sorted((b["data-step"], b["aria-label"]) for t, b in page.tags
                       if t == "button" and b.get("aria-controls") == a["id"])
        assert steps == [("-1", f"previous {name}"), ("1", f"next {name}")]
    # one <img> per grid cell, the PNG bytes of the frame, its description as alt text; only the initial one shown
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == len(degrees) * len(widths)
    seen = set()
    for a in images:
        n, m = degrees[int(a["data-degree"])], widths[int(a["data-width"])]
        png = base64.b64decode(a["src"].removeprefix("data:image/png;base64,"))
        assert png[:8] == PNG_MAGIC and len(png) <= W.MAX_FRAME_BYTES and png == face.frames[(n, m)]
        assert a["alt"] == face.descriptions[(n, m)] and len(a["alt"]) > 40
        assert ("hidden" in a) == ((n, m) != initial)
        seen.add(png)
    assert len(seen) == len(images)  # moving either slider changes the visible image
    # the caption is a polite live region showing the initial frame's description; a script switches frames
    captions = [a for t, a in page.tags if t == "figcaption"]
    assert len(captions) == 1 and captions[0]["aria-live"] == "polite"
    assert page.texts[("figcaption", "")] == face.descriptions[initial]
    assert [t for t, _ in page.tags].count("script") == 1


def test_frame_descriptions_hold_the_numbers_of_the_frame(ex_static):
    for (n, m), text in ex_static.descriptions.items():
        frame = W.extrapolation_frame(n, m, "quadratic", 2.0)
        assert text == frame.description
        assert f"MAPE outside the training range {frame.mape_out:.1f}%" in text
        assert ("infinite width" if m == W.INFINITE else f"width {m}") in text
        assert ("ReLU net (degree 1)" if n == 1 else f"degree-{n} polynomial net") in text
        assert "[−2, 2]" in text and "[−4, 4]" in text


def test_static_frames_equal_the_live_drawing(ex_static):
    live = W.extrapolation_explorer(target="quadratic", train_range=2.0)
    for m in EX_WIDTHS:
        for n in EX_DEGREES:
            live.set(degree=n, width=m)
            assert live.message.value == ""
            assert live.image.value == ex_static.frames[(n, m)] == W.extrapolation_png(n, m, "quadratic", 2.0)


def test_infinite_width_frame_is_the_chapters_kernel_regression():
    a, f = 2.5, data.target("cubic")
    x_tr = a * np.linspace(-1.0, 1.0, 60)[:, None]
    x_out = a * np.concatenate([np.linspace(-2.0, -1.01, 100), np.linspace(1.01, 2.0, 100)])[:, None]
    for n in (1, 3):
        predict = ex.ntk_regressor(x_tr, f(x_tr), n, bias=True)
        frame = W.extrapolation_frame(n, W.INFINITE, "cubic", a)
        assert frame.mape_out == pytest.approx(data.mape(f(x_out), predict(x_out)), rel=1e-9)
        np.testing.assert_allclose(frame.prediction, predict(frame.x[:, None]), rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(frame.truth, f(frame.x[:, None]))


def test_finite_width_frame_is_kernel_regression_with_the_autodiff_empirical_ntk():
    n, m, a = 2, 16, 2.0
    frame = W.extrapolation_frame(n, m, "quadratic", a)
    params = subnet(W._extrapolation_net(0), m, degree=n)
    apply_fn = models.pnn(n, m, bias=True).apply_fn
    x_tr = frame.x_train[:, None]
    k = np.asarray(kernels.empirical_ntk(apply_fn, params, x_tr))
    k_plot = np.asarray(kernels.empirical_ntk(apply_fn, params, frame.x[:, None], x_tr))
    expected = k_plot @ np.linalg.pinv(k, rcond=1e-10, hermitian=True) @ frame.y_train
    np.testing.assert_allclose(frame.prediction, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_spectrum_frame_matches_exact_spectra_and_the_linearised_dynamics():
    frame = W.spectrum_frame(3, W.INFINITE, 3)
    np.testing.assert_allclose(frame.mu, frequency.pnn_spectrum(3, 3, 30, normalize=True), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(frame.mu_relu, frequency.pnn_spectrum(1, 3, 30, normalize=True), rtol=1e-9,
                               atol=1e-14)
    # the deep-ReLU baseline: Funk-Hecke of the 3-hidden-layer ReLU NTK, divided by Theta(1) = depth + 1
    deep = spectra.sphere_eigenvalues(lambda t: kernels.relu_mlp_ntk_cosine(t, 3), 3, 30) / 4.0
    np.testing.assert_allclose(frame.mu_deep, deep, rtol=1e-8, atol=1e-14)
    assert np.all(frame.mu_deep[3::2][:5] > 1e-6)  # depth alone fills the odd harmonics
    # the dynamics, recomputed independently with pntk.training at half the largest stable rate
    x, x_test, y, proj, comp_test = W._sphere_problem(3)
    for make, res, held in ((lambda a: kernels.pnn_ntk(a, x, 3), frame.residual, frame.heldout),
                            (lambda a: kernels.relu_mlp_ntk(a, x, 3), frame.residual_deep, frame.heldout_deep)):
        k, k_test = np.asarray(make(x)), np.asarray(make(x_test))
        k, k_test = k / np.mean(np.diag(k)), k_test / np.mean(np.diag(k))
        eta = 0.5 * training.max_stable_learning_rate(k)
        hist = training.linearized_dynamics(k, y, learning_rate=eta, steps=frame.steps, k_test_train=k_test,
                                            projections=proj)
        a = np.asarray(hist.residual_projections)
        np.testing.assert_allclose(res, np.abs(a) / np.abs(a[:1]), rtol=1e-6, atol=1e-9)
        c, *_ = np.linalg.lstsq(comp_test.T, np.asarray(hist.test_predictions).T, rcond=None)
        np.testing.assert_allclose(held, np.abs(1 - c.T), rtol=1e-6, atol=1e-8)
        assert np.all(res[0] == 1.0) and np.all(held[0] == 1.0)
        # on S^2, 256 points resolve k <= 5: every frequency is learned on fresh points too
        assert np.all(res[-1] < 1e-3) and np.all(held[-1] < 0.25)
    # the Rayleigh quotients are eigenvalues of a unit-diagonal kernel / n: in (0, 1]
    assert np.all(frame.rayleigh > 0) and np.all(frame.rayleigh <= 1)


def test_spectrum_frame_descriptions_come_from_the_frame():
    """The alt text of a frame is one sentence with the frame's own numbers (and differs between frames)."""
    seen = set()
    for degree, width, dim in ((1, 64, 10), (3, W.INFINITE, 3), (9, 1024, 5)):
        frame = W.spectrum_frame(degree, width, dim)
        text = frame.description
        assert isinstance(text, str) and text.endswith(".") and text.count(". ") == 0
        assert f"d = {dim}" in text and ("two-layer ReLU net" in text if degree == 1 else f"degree-{degree}" in text)
        assert W._fmt(frame.mu_deep[3] / frame.mu_deep[0]) in text
        i = int(np.argmin(np.abs(frame.steps - 1000)))
        assert W._fmt(frame.heldout[i, -1]) in text and W._fmt(frame.residual_deep[i, -1]) in text
        seen.add(text)
    assert len(seen) == 3
    assert "mu_3 / mu_0 = 0 and" in W.spectrum_frame(1, W.INFINITE, 5).description  # odd eigenvalue 0


@pytest.mark.parametrize("fn, kwargs, name", [
    (W.extrapolation_frame, dict(degree=9), "degree"),
    (W.extrapolation_frame, dict(degree=2.5), "degree"),
    (W.extrapolation_frame, dict(width=100), "width"),
    (W.extrapolation_frame, dict(target="sin"), "target"),
    (W.extrapolation_frame, dict(train_range=7.0), "train_range"),
    (W.extrapolation_frame, dict(degree=True), "degree"),
    (W.spectrum_frame, dict(dim=4), "dim"),
    (W.spectrum_frame, dict(degree=0), "degree"),
    (W.spectrum_frame, dict(width="wide"), "width"),
    (W.extrapolation_png, dict(width=-1), "width"),
    (W.spectrum_static, dict(degrees=[10]), "degree"),
    (W.spectrum_static, dict(dim=2), "dim"),
    (W.spectrum_png, dict(dim=11), "dim"),
    (W.extrapolation_static, dict(target="x"), "target"),
    (W.extrapolation_static, dict(widths=[32]), "width"),
    (W.LiveExplorer, dict(name="sliders"), "name"),
])
def test_bad_control_values_raise_value_errors_naming_the_control(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"{name} must be one of \["):
        fn(**kwargs)


def test_seed_and_argument_types_are_checked():
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        W.extrapolation_frame(seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        W.spectrum_frame(seed=1.5)
    with pytest.raises(TypeError, match="must be dicts"):
        W.check_controls(W.SPECTRUM_CONTROLS, "degree=3")
    with pytest.raises(ValueError, match="not PNG bytes"):
        W.static_face({(1, 16): b"GIF89a"}, [1], [16])
    png = W.extrapolation_png(1, 16, "quadratic", 2.0)
    with pytest.raises(ValueError, match="non-empty string"):
        W.static_face({(1, 16): png}, [1], [16], descriptions={(1, 16): " "})
    with pytest.raises(ValueError, match="initial must be"):
        W.static_face({(1, 16): png}, [1], [16], initial=(2, 16))
    assert "width 16" in W.static_face({(1, 16): png}, [1], [16]).descriptions[(1, 16)]



def test_check_controls_canonicalises_and_refuses_unknown_controls():
    values = W.check_controls(W.EXTRAPOLATION_CONTROLS, dict(degree=np.int64(3), width=float("inf"),
                                                             target="cos", train_range=2))
    assert values == dict(degree=3, width=W.INFINITE, target="cos", train_range=2.0)
    with pytest.raises(ValueError, match="unknown control"):
        W.check_controls(W.SPECTRUM_CONTROLS, dict(degree=1, width=64, dim=3, depth=2))
    with pytest.raises(ValueError, match="missing control"):
        W.check_controls(W.SPECTRUM_CONTROLS, dict(degree=1))


def test_live_face_clamps_or_refuses_bad_values_with_a_visible_message():
    live = W.extrapolation_explorer(degree=12)
    assert live.controls["degree"].value == 8
    assert "clamped to 8" in live.message.value
    assert live.image.value == W.extrapolation_png(8, W.INFINITE, "cubic", 2.5)
    before = live.values()
    live.set(width=100, target="sin", colour="red")
    assert live.values() == before
    assert "width must be one of" in live.message.value and "target must be one of" in live.message.value
    assert "unknown control 'colour'" in live.message.value
    live.controls["degree"].value = 99  # set programmatically: the slider clamps it
    assert live.controls["degree"].value == 8
    live.controls["width"].value = 64  # an ordinary change redraws and clears the message
    assert live.message.value == ""
    assert live.image.value == W.extrapolation_png(8, 64, "cubic", 2.5)
    spec = W.spectrum_explorer(dim=4, degree=0)
    assert spec.values() == dict(degree=1, width=W.INFINITE, dim=5)
    assert "dim must be one of" in spec.message.value and "clamped to 1" in spec.message.value
    assert spec.image.value[:8] == PNG_MAGIC


def test_caches_hit_on_repeat():
    W.cache_clear()
    first = W.extrapolation_frame(2, 64, "cos", 1.5)
    assert W._extrapolation_frame.cache_info().misses == 1
    again = W.extrapolation_frame(2, 64.0, "cos", 1.5)
    assert again is first and W._extrapolation_frame.cache_info().hits == 1
    assert W._extrapolation_net.cache_info().currsize == 1
    W.spectrum_frame(2, 64, 3)
    W.spectrum_frame(3, 64, 3)  # the deep-ReLU baseline is shared: one new kernel, not two
    info, deep = W._sphere_dynamics.cache_info(), W._deep_dynamics.cache_info()
    assert (info.misses, info.hits) == (2, 0) and (deep.misses, deep.hits) == (1, 1)
    with pytest.raises(ValueError):  # cached arrays cannot be changed by a caller
        first.prediction[0] = 0.0
    png = W.extrapolation_png(2, 64, "cos", 1.5)
    assert W.extrapolation_png(2, 64.0, "cos", 1.5) is png  # a setting seen before is not drawn again
    assert W._extrapolation_png.cache_info().hits == 1 and W._extrapolation_frame.cache_info().misses == 1
    assert W.spectrum_png(3, 64, 3) is W.spectrum_png(3, 64, 3)


def test_no_matplotlib_figure_is_left_open():
    before = plt.get_fignums()
    W.extrapolation_png(2, W.INFINITE, "quadratic", 1.0)
    W.spectrum_png(2, W.INFINITE, 3)
    fig = W.draw_extrapolation(W.extrapolation_frame(1, 16, "cubic", 2.5))
    assert isinstance(fig, matplotlib.figure.Figure)
    assert plt.get_fignums() == before


def test_bench_cases_are_valid_slider_changes():
    assert set(W.BENCH_CASES) == {"extrapolation", "spectrum"}
    controls = {"extrapolation": W.EXTRAPOLATION_CONTROLS, "spectrum": W.SPECTRUM_CONTROLS}
    for name, (fn, cases) in W.BENCH_CASES.items():
        assert callable(fn) and cases
        for kwargs in cases:
            W.check_controls(controls[name], kwargs)
    fn, cases = W.BENCH_CASES["extrapolation"]
    assert fn(**cases[0])[:8] == PNG_MAGIC


def test_draw_functions_refuse_other_objects():
    with pytest.raises(TypeError, match="ExtrapolationFrame"):
        W.draw_extrapolation({"x": 1})
    with pytest.raises(TypeError, match="SpectrumFrame"):
        W.draw_spectrum(None)
    with pytest.raises(ValueError, match="lacks"):
        W.static_face({}, [1], [16])
