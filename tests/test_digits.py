"""pntk.digits: data, pooling, models, optimiser and metrics of the chapter "Arithmetic on handwritten digits"."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pntk import digits as dg
from pntk import kernels


@pytest.fixture(scope="module")
def digits():
    return dg.load_digit_images()


def test_bundled_digits(digits):
    images, labels = digits
    assert images.shape == (1797, 64) and images.dtype == np.float64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_split_keeps_fresh_images_out_of_training_and_sums_in_range(digits):
    images, labels = digits
    d = dg.arithmetic_split(jax.random.key(0), images, labels, max_train_sum=9, n_train=256, n_test=64)
    assert d.x_train.shape == (256, 128) and d.x_id.shape == (64, 128) and d.x_ood.shape == (64, 128)
    assert not set(d.train_images) & set(d.fresh_images)
    assert len(d.train_images) + len(d.fresh_images) == 1797
    assert d.y_train.max() <= 9 and d.y_id.max() <= 9 and d.y_ood.min() >= 10
    # every training and test pair is made of images of its own pool, with the right label
    rows = {tuple(images[i]): i for i in range(1797)}
    for x, y, pool in ((d.x_train, d.y_train, d.train_images), (d.x_ood, d.y_ood, d.fresh_images)):
        for xi, yi in zip(x[:20], y[:20]):
            a, b = rows[tuple(xi[:64])], rows[tuple(xi[64:])]
            assert a in pool and b in pool and labels[a] + labels[b] == yi
    # the same key gives the same split, another key another one
    again = dg.arithmetic_split(jax.random.key(0), images, labels, max_train_sum=9, n_train=256, n_test=64)
    other = dg.arithmetic_split(jax.random.key(1), images, labels, max_train_sum=9, n_train=256, n_test=64)
    np.testing.assert_array_equal(d.x_train, again.x_train)
    assert not np.array_equal(d.x_train, other.x_train)


def test_every_digit_is_seen_in_both_positions_in_training(digits):
    images, labels = digits
    d = dg.arithmetic_split(jax.random.key(3), images, labels, max_train_sum=9, n_train=2048, n_test=64)
    rows = {tuple(images[i]): labels[i] for i in range(1797)}
    left = {rows[tuple(x[:64])] for x in d.x_train}
    right = {rows[tuple(x[64:])] for x in d.x_train}
    assert left == right == set(range(10))


def test_split_refuses_bad_arguments(digits):
    images, labels = digits
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="max_train_sum"):
        dg.arithmetic_split(key, images, labels, max_train_sum=5)
    with pytest.raises(TypeError, match="max_train_sum"):
        dg.arithmetic_split(key, images, labels, max_train_sum=9.0)
    with pytest.raises(ValueError, match="labels"):
        dg.arithmetic_split(key, images, labels[:-1])
    with pytest.raises(ValueError, match="labels"):
        dg.arithmetic_split(key, images, labels + 5)
    with pytest.raises(ValueError, match="fresh_fraction"):
        dg.arithmetic_split(key, images, labels, fresh_fraction=1.5)
    with pytest.raises(TypeError, match="key"):
        dg.arithmetic_split(0, images, labels)
    with pytest.raises(ValueError, match="out-of-range"):
        dg.arithmetic_split(key, images[:40], labels[:40], max_train_sum=17, n_test=500)


def test_adaptive_pool_hand_computed_cases():
    # shorter output, overlapping bins: [0, 2), [1, 4), [3, 5)
    np.testing.assert_allclose(dg.adaptive_avg_pool1d(jnp.arange(1.0, 6.0), 3), [1.5, 3.0, 4.5])
    # exact division: bins [0, 2), [2, 4)
    np.testing.assert_allclose(dg.adaptive_avg_pool1d(jnp.arange(1.0, 5.0), 2), [1.5, 3.5])
    # longer output: bins [0, 1), [0, 2), [1, 2)
    np.testing.assert_allclose(dg.adaptive_avg_pool1d(jnp.array([1.0, 3.0]), 3), [1.0, 2.0, 3.0])
    # longer output by an integer factor repeats each entry
    np.testing.assert_allclose(dg.adaptive_avg_pool1d(jnp.array([1.0, 3.0]), 4), [1, 1, 3, 3])
    # same length is the identity; batches pool along the last axis
    x = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(dg.adaptive_avg_pool1d(x, 4), x)
    assert dg.adaptive_avg_pool1d(x, 7).shape == (3, 7)
    # every column of the matrix is an average (sums to 1)
    p = dg.adaptive_pool_matrix(128, 256)
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    with pytest.raises(ValueError, match="output_size"):
        dg.adaptive_pool_matrix(4, 0)


def test_model_shapes_and_official_parameter_counts():
    x = jnp.zeros((5, 1568))
    pi, mlp = dg.pinet(1568, 256), dg.relu_mlp(1568, 256)
    p_pi, p_mlp = pi.init_fn(jax.random.key(0)), mlp.init_fn(jax.random.key(0))
    assert pi.apply_fn(p_pi, x).shape == (5,) and mlp.apply_fn(p_mlp, x).shape == (5,)
    # official pinet: Linear(1568, 256) + 3 Linear(256, 256) + Linear(256, 1); mlp: the same layers
    count = 1568 * 256 + 256 + 3 * (256 * 256 + 256) + 257
    for p in (p_pi, p_mlp):
        assert sum(leaf.size for leaf in jax.tree_util.tree_leaves(p)) == count
    # PyTorch's default nn.Linear bounds
    assert np.abs(p_pi["layers"][0]["w"]).max() <= 1 / np.sqrt(1568)
    assert np.abs(p_mlp[1]["b"]).max() <= 1 / np.sqrt(256)


def test_models_refuse_bad_input():
    net = dg.pinet(8, 16)
    p = net.init_fn(jax.random.key(0))
    with pytest.raises(ValueError, match=r"\(n, 8\)"):
        net.apply_fn(p, jnp.zeros((3, 9)))
    with pytest.raises(ValueError, match="degree"):
        dg.pinet(8, 16, degree=1)
    with pytest.raises(TypeError, match="width"):
        dg.relu_mlp(8, 16.0)
    with pytest.raises(ValueError, match="parametrization"):
        dg.relu_mlp(8, 16, parametrization="mup")
    with pytest.raises(ValueError, match="hidden layers"):
        dg.relu_mlp(8, 16, depth=2).apply_fn(dg.relu_mlp(8, 16, depth=3).init_fn(jax.random.key(0)),
                                             jnp.zeros((2, 8)))


def test_pinet_is_a_sum_of_products_of_the_input_as_written():
    # the forward pass written out with the pooling done by hand (8 -> 16 repeats each pixel twice)
    net = dg.pinet(8, 16, degree=3)
    p = net.init_fn(jax.random.key(1))
    z = jax.random.uniform(jax.random.key(2), (4, 8))
    zbar = jnp.repeat(z, 2, axis=1)
    relu = jax.nn.relu
    h = relu(z @ p["layers"][0]["w"] + p["layers"][0]["b"])
    for layer in p["layers"][1:]:
        h = relu(h @ layer["w"] + layer["b"]) * zbar + h
    np.testing.assert_allclose(net.apply_fn(p, z), (h @ p["out"]["w"] + p["out"]["b"])[:, 0])


def test_growth_along_rays_degree_four_against_one():
    z = jax.random.uniform(jax.random.key(0), (3, 16))
    r = jnp.array([1e3, 1e4])
    for net, slope in ((dg.pinet(16, 32), 4.0), (dg.relu_mlp(16, 32), 1.0)):
        p = net.init_fn(jax.random.key(5))
        f = np.abs(np.stack([net.apply_fn(p, ri * z) for ri in r]))
        np.testing.assert_allclose(np.log10(f[1] / f[0]), slope, atol=0.02)


def test_empirical_ntk_of_the_mlp_tends_to_the_relu_mlp_ntk():
    x = jax.random.normal(jax.random.key(0), (5, 3))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    limit = np.asarray(kernels.relu_mlp_ntk(x, x, 2, bias=True)) + 1.0  # + 1: the readout bias
    errors = []
    for width in (32, 256, 2048):
        errs = []
        for seed in range(3):
            net = dg.relu_mlp(3, width, depth=2, parametrization="ntk")
            p = net.init_fn(jax.random.key(seed))
            k = np.asarray(kernels.empirical_ntk(net.apply_fn, p, x))
            errs.append(np.abs(k - limit).max() / np.abs(limit).max())
        errors.append(np.median(errs))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.1, errors


def test_empirical_ntk_of_the_pinet_concentrates_as_the_width_grows():
    # the infinite-width NTK of the PyTorch-initialised pinet is not known in closed form (and the
    # injected pooled input changes with the width), so we check concentration: the spread of the
    # empirical NTK over initialisations, relative to its mean, shrinks as the width grows (measured:
    # 0.30 at width 64, 0.068 at width 1024, about 1/sqrt(width))
    x = jax.random.uniform(jax.random.key(0), (4, 8))
    spread = []
    for width in (64, 1024):
        net = dg.pinet(8, width)
        ks = np.stack([np.asarray(kernels.empirical_ntk(net.apply_fn, net.init_fn(jax.random.key(s)), x))
                       for s in range(6)])
        spread.append(np.median(ks.std(axis=0) / np.abs(ks.mean(axis=0))))
    assert spread[1] < 0.5 * spread[0], spread


def test_sgd_matches_pytorch_nesterov_update_by_hand():
    # a linear model y = x w, two batches of two points, two epochs, written out step by step
    x = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]])
    y = np.array([1.0, 0.0, 2.0, -1.0])
    lr, mu, wd = 0.05, 0.9, 0.01
    w, v = np.array([0.3, -0.2]), np.zeros(2)
    for _ in range(2):
        for b in (slice(0, 2), slice(2, 4)):
            g = 2 * x[b].T @ (x[b] @ w - y[b]) / 2 + wd * w
            v = mu * v + g
            w = w - lr * (g + mu * v)
    run = dg.sgd_nesterov(lambda p, z: z @ p, jnp.array([0.3, -0.2]), x, y, learning_rate=lr,
                          momentum=mu, weight_decay=wd, batch_size=2, epochs=2)
    np.testing.assert_allclose(run.params, w, rtol=1e-12)
    assert run.loss.shape == (2,)


def test_tiny_training_run_lowers_the_loss_and_is_deterministic(digits):
    images, labels = digits
    d = dg.arithmetic_split(jax.random.key(0), images, labels, n_train=256, n_test=32)
    for net in (dg.pinet(128, 32), dg.relu_mlp(128, 32)):
        p = net.init_fn(jax.random.key(1))
        run = dg.sgd_nesterov(net.apply_fn, p, d.x_train, d.y_train, learning_rate=1e-3, batch_size=32, epochs=10)
        assert run.loss[-1] < 0.5 * run.loss[0]
        again = dg.sgd_nesterov(net.apply_fn, net.init_fn(jax.random.key(1)), d.x_train, d.y_train,
                                learning_rate=1e-3, batch_size=32, epochs=10)
        np.testing.assert_array_equal(run.loss, again.loss)


def test_sgd_refuses_bad_arguments():
    f = lambda p, z: z @ p  # noqa: E731
    x, y, p = np.ones((4, 2)), np.ones(4), jnp.zeros(2)
    with pytest.raises(ValueError, match="multiple of batch_size"):
        dg.sgd_nesterov(f, p, x, y, batch_size=3)
    with pytest.raises(ValueError, match="momentum"):
        dg.sgd_nesterov(f, p, x, y, momentum=1.0, batch_size=2)
    with pytest.raises(ValueError, match="y must have shape"):
        dg.sgd_nesterov(f, p, x, np.ones(3), batch_size=2)
    with pytest.raises(TypeError, match="apply_fn"):
        dg.sgd_nesterov(None, p, x, y, batch_size=2)
    with pytest.raises(ValueError, match="learning_rate"):
        dg.sgd_nesterov(f, p, x, y, learning_rate=0.0, batch_size=2)


def test_the_three_accuracies_by_hand():
    y = np.array([3, 3, 3, 3, 3])
    pred = np.array([3.2, 2.6, 3.9, 4.6, 1.4])
    # round: 3, 3, 4, 5, 1; floor/ceil contain 3 for 3.2, 2.6, 3.9; |round - y| <= 1 for the first three
    assert dg.arithmetic_accuracy(y, pred) == {"round": 0.4, "floor_ceil": 0.6, "leeway": 0.6}
    # an exact integer prediction counts for all three; half rounds to even as torch.round
    assert dg.arithmetic_accuracy([2, 2], [2.0, 2.5]) == {"round": 1.0, "floor_ceil": 1.0, "leeway": 1.0}
    with pytest.raises(ValueError, match="integer labels"):
        dg.arithmetic_accuracy([1.5], [1.5])
    with pytest.raises(ValueError, match="same shape"):
        dg.arithmetic_accuracy([1, 2], [1.0])


def test_official_scale_results_file_has_provenance_and_matches_the_script_on_the_tiny_configuration():
    import importlib.util
    import json
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "digit_arithmetic.py"
    spec = importlib.util.spec_from_file_location("digit_arithmetic_experiment", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    stored = json.loads(script.RESULTS.read_text())
    prov = stored["provenance"]
    assert prov["command"].startswith("python experiments/digit_arithmetic.py")
    assert len(prov["commit"]) == 40 and prov["date"] and prov["machine"]
    assert stored["config"] == script.OFFICIAL and stored["tiny"]["config"] == script.TINY
    official = script.OFFICIAL
    assert len(stored["rows"]) == 2 * len(official["rates"]) * len(official["seeds"])
    fresh = script.run(**script.TINY)
    assert len(fresh) == len(stored["tiny"]["rows"])
    for new, old in zip(fresh, stored["tiny"]["rows"]):
        assert new.keys() == old.keys()
        for key, value in new.items():
            if isinstance(value, str):
                assert value == old[key]
            else:  # accuracies are counts over 64 pairs: allow one pair to flip across machines
                np.testing.assert_allclose(value, old[key], rtol=1e-6, atol=1.5 / 64, err_msg=key)
