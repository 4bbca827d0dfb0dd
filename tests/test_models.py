"""Models: numerical gradient checks on every backend, forward across backends, arguments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from backends import assert_close, dtype_name

import xplayers
import xplayers.backend.devices
from xplayers import to_numpy
from xplayers.gradcheck import eval_numerical_gradient
from xplayers.models import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet, load_model


def on_backend(model, backend):
    """Move a freshly built (host) model's parameters to ``backend``."""
    model.params = {k: backend.asarray(v) for k, v in model.params.items()}
    return model


def assert_gradients_match(model, X, y):
    """Every analytic gradient of ``model.loss`` agrees with centred differences (float64).

    The bound is relative (1e-6) with an absolute floor of 1e-8 for elements whose gradient
    is near zero (a bias before batchnorm has an exactly-zero one), where round-off in the
    differences dominates.
    """
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name in sorted(model.params):
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                          verbose=False)
        np.testing.assert_allclose(to_numpy(grads[name]), to_numpy(numeric), rtol=1e-6,
                                   atol=1e-8, err_msg=f"gradient of {name}")


FC_CASES = list(itertools.product([None, "batchnorm", "layernorm"], [0.0, 0.25], [0.0, 0.7]))


@pytest.mark.parametrize(("normalization", "dropout", "reg"), FC_CASES)
def test_fully_connected_gradients(backend, rng, normalization, dropout, reg):
    model = FullyConnectedNet([5, 4], input_dim=6, num_classes=3, dropout=dropout,
                              normalization=normalization, reg=reg, weight_scale=0.5,
                              dtype=np.float64, seed=7)
    on_backend(model, backend)
    X = backend.asarray(rng.standard_normal((4, 2, 3)))
    y = backend.asarray(rng.integers(0, 3, size=4))
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_two_layer_gradients(backend, rng, reg):
    model = on_backend(TwoLayerNet(5, 6, 3, weight_scale=0.5, reg=reg, dtype="float64",
                                   seed=1), backend)
    X = backend.asarray(rng.standard_normal((4, 5)))
    y = backend.asarray(rng.integers(0, 3, size=4))
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_three_layer_conv_gradients(backend, rng, reg):
    model = ThreeLayerConvNet((2, 6, 5), num_filters=2, filter_size=3, hidden_dim=4,
                              num_classes=3, weight_scale=0.3, reg=reg, dtype=np.float64,
                              seed=3)
    on_backend(model, backend)
    X = backend.asarray(rng.standard_normal((2, 2, 6, 5)))
    y = backend.asarray(np.array([0, 2]))
    assert_gradients_match(model, X, y)


def test_no_hidden_layer_is_softmax_regression(backend, rng):
    model = on_backend(FullyConnectedNet([], input_dim=4, num_classes=3, weight_scale=0.5,
                                         dtype="float64", seed=0), backend)
    X = backend.asarray(rng.standard_normal((5, 4)))
    y = backend.asarray(rng.integers(0, 3, size=5))
    assert sorted(model.params) == ["W1", "b1"]
    assert_gradients_match(model, X, y)


def test_regularisation_adds_half_reg_sum_of_squares(rng):
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    plain = FullyConnectedNet([5], input_dim=4, num_classes=3, dtype="float64", seed=2)
    regd = FullyConnectedNet([5], input_dim=4, num_classes=3, reg=0.3, dtype="float64",
                             seed=2)
    expected = 0.5 * 0.3 * sum(np.sum(regd.params[k] ** 2) for k in ("W1", "W2"))
    assert float(regd.loss(X, y)[0]) - float(plain.loss(X, y)[0]) == pytest.approx(expected)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scores_match_numpy_and_keep_dtype(backend, rng, normalization, dtype):
    host_X = rng.standard_normal((5, 7))

    def build():
        return FullyConnectedNet([6, 5], input_dim=7, num_classes=4, dropout=0.3,
                                 normalization=normalization, dtype=dtype, seed=11)

    reference = build()
    model = on_backend(build(), backend)
    y = rng.integers(0, 4, size=5)
    reference.loss(host_X.astype(dtype), y)  # one training step's statistics, then test mode
    model.loss(backend.asarray(host_X, dtype), backend.asarray(y))
    expected = reference.loss(host_X.astype(dtype))
    scores = model.loss(backend.asarray(host_X, dtype))
    assert dtype_name(scores) == dtype
    assert_close(scores, expected)


def test_float64_input_is_cast_to_float32_model(rng):
    model = TwoLayerNet(4, 3, 2, seed=0)
    scores = model.loss(rng.standard_normal((3, 4)))
    assert scores.dtype == np.float32


def test_test_mode_uses_running_statistics(rng):
    model = FullyConnectedNet([4], input_dim=3, num_classes=2, normalization="batchnorm",
                              seed=0)
    X = rng.standard_normal((8, 3)).astype(np.float32)
    first = model.loss(X[:1])
    assert model.state() == {}  # test mode does not create or touch running statistics
    model.loss(X, rng.integers(0, 2, size=8))
    assert set(model.state()) == {"running_mean1", "running_var1"}
    assert not np.allclose(model.loss(X[:1]), first)


def test_same_seed_same_weights_and_config_rebuilds():
    a = FullyConnectedNet([3, 2], input_dim=4, num_classes=2, normalization="layernorm",
                          seed=5)
    b = type(a)(**a.config)
    assert a.config == b.config and a.config["dtype"] == "float32"
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.params["W1"].dtype == np.float32 and a.device == "cpu"
    assert "FullyConnectedNet(" in repr(a) and "on cpu" in repr(a)


def test_dropout_with_seed_is_deterministic_and_without_is_not(rng):
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, size=20)
    fixed = FullyConnectedNet([50], input_dim=6, num_classes=3, dropout=0.5, seed=1)
    assert float(fixed.loss(X, y)[0]) == float(fixed.loss(X, y)[0])
    fresh = FullyConnectedNet([50], input_dim=6, num_classes=3, dropout=0.5, init_seed=1)
    assert float(fresh.loss(X, y)[0]) != float(fresh.loss(X, y)[0])


def test_dropout_seed_repeats_the_sequence_of_masks(rng, tmp_path):
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, size=20)

    def losses(model: FullyConnectedNet) -> list[float]:
        return [float(model.loss(X, y)[0]) for _ in range(3)]

    def make(**seeds: int) -> FullyConnectedNet:
        return FullyConnectedNet([50, 40], input_dim=6, num_classes=3, dropout=0.5,
                                 init_seed=1, **seeds)

    first = losses(make(dropout_seed=4))
    assert first == losses(make(dropout_seed=4))
    assert len(set(first)) == 3  # new masks at each step
    assert first != losses(make(dropout_seed=5))
    fixed = make(dropout_seed=4, seed=1)  # seed fixes the masks, as in the course
    assert len(set(losses(fixed))) == 1

    model = make(dropout_seed=4)
    model.save(tmp_path / "m.npz")
    assert load_model(tmp_path / "m.npz", device="cpu").config["dropout_seed"] == 4


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_dropout_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=rf"dropout_seed must be None or a non-negative "
                                         rf"integer, got {bad!r}"):
        FullyConnectedNet([5], input_dim=4, num_classes=2, dropout_seed=bad)


def test_predict_returns_classes(rng):
    model = TwoLayerNet(4, 3, 5, seed=0)
    X = rng.standard_normal((7, 4))
    predictions = model.predict(X, batch_size=3)
    np.testing.assert_array_equal(predictions, np.argmax(model.loss(X), axis=1))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"hidden_dims": 5}, "hidden_dims must be a list of widths"),
    ({"hidden_dims": [5, 0]}, r"hidden_dims\[1\] must be a positive integer, got 0"),
    ({"hidden_dims": [5], "normalization": "groupnorm"}, "normalization must be one of"),
    ({"hidden_dims": [5], "dropout": 1.0}, r"drop probability and must lie in \[0, 1\)"),
    ({"hidden_dims": [5], "dtype": "int32"}, "dtype must be float32 or float64, got int32"),
    ({"hidden_dims": [5], "reg": -1.0}, "reg must be a finite number >= 0"),
    ({"hidden_dims": [5], "weight_scale": 0.0}, "weight_scale must be a positive finite"),
])
def test_fully_connected_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FullyConnectedNet(**kwargs)


def test_conv_net_bad_arguments():
    with pytest.raises(ValueError, match=r"input_dim must be \(C, H, W\)"):
        ThreeLayerConvNet(input_dim=(32, 32))
    with pytest.raises(ValueError, match="filter_size must be odd"):
        ThreeLayerConvNet(filter_size=4)


def test_mixed_devices_name_the_arguments(backend, rng):
    model = on_backend(TwoLayerNet(4, 3, 2, seed=0), backend)
    X = rng.standard_normal((2, 4)).astype(np.float32)
    if backend.name == "numpy":  # feed the NumPy model an array from elsewhere
        strict = pytest.importorskip("array_api_strict")
        X, other = strict.asarray(X), "an array_api_strict"
    else:
        other = "a numpy"
    with pytest.raises((TypeError, ValueError),
                       match=rf"X is {other} array on device .*the model's W1 is a"):
        model.loss(X)


def test_moving_to_unusable_gpu_leaves_model_on_cpu(monkeypatch):
    monkeypatch.setattr(xplayers.backend.devices, "cuda_status", lambda: (False, "no GPU (test)"))
    model = TwoLayerNet(4, 3, 2, seed=0)
    with pytest.raises(RuntimeError, match="no GPU"):
        model.to("cuda")
    assert model.device == "cpu" and isinstance(model.params["W1"], np.ndarray)


@pytest.mark.gpu
@pytest.mark.skipif(not xplayers.cuda_available(), reason="no usable GPU")
def test_model_moves_to_gpu_as_a_whole(rng):
    model = FullyConnectedNet([4], input_dim=3, num_classes=2, normalization="batchnorm",
                              seed=0)
    X, y = rng.standard_normal((6, 3)).astype(np.float32), rng.integers(0, 2, size=6)
    model.loss(X, y)
    expected = model.loss(X)
    model.to("cuda")
    assert model.device == "cuda:0"
    assert all(xplayers.device_of(v) == "cuda:0" for v in model.state().values())
    assert_close(model.loss(xplayers.to_device(X, "cuda")), expected)


# --- the course's dtype and seeding habits (issue 11) -----------------------------------------


@pytest.mark.parametrize("make", [lambda **kw: TwoLayerNet(4, 5, 3, **kw),
                                  lambda **kw: FullyConnectedNet([5], input_dim=4, num_classes=3,
                                                                 **kw)])
def test_models_compute_in_their_parameters_dtype(backend, rng, make):
    model = make(weight_scale=0.5)  # float32 by default
    model.params = {k: backend.asarray(v, np.float64) for k, v in model.params.items()}
    X = backend.asarray(rng.standard_normal((6, 4)), np.float32)
    y = backend.asarray(rng.integers(0, 3, size=6))
    scores = model.loss(X)
    assert dtype_name(scores) == "float64"  # X follows the parameters, not dtype=
    loss, grads = model.loss(X, y)
    assert dtype_name(loss) == "float64"
    assert {dtype_name(g) for g in grads.values()} == {"float64"}
    X64 = backend.asarray(to_numpy(X).astype(np.float64))
    assert_close(scores, model.loss(X64))


def test_unseeded_models_repeat_under_numpy_global_seed():
    for make in (lambda: TwoLayerNet(4, 5, 3), lambda: ThreeLayerConvNet((1, 4, 4), 2, 3, 5, 3),
                 lambda: FullyConnectedNet([5, 4], input_dim=4, num_classes=3)):
        np.random.seed(231)  # noqa: NPY002 (the course's habit, tested)
        first = make().params
        np.random.seed(231)  # noqa: NPY002
        second = make().params
        for name in first:
            np.testing.assert_array_equal(first[name], second[name])
        assert not np.array_equal(make().params["W1"], first["W1"])  # the state moved on


def test_seeded_models_leave_numpy_global_state_alone():
    np.random.seed(5)  # noqa: NPY002 (the global state under test)
    expected = np.random.random_sample(3)  # noqa: NPY002
    np.random.seed(5)  # noqa: NPY002
    a = FullyConnectedNet([5], input_dim=4, num_classes=3, seed=1)
    TwoLayerNet(4, 5, 3, seed=1)
    ThreeLayerConvNet((1, 4, 4), 2, 3, 5, 3, seed=1)
    np.testing.assert_array_equal(np.random.random_sample(3), expected)  # noqa: NPY002
    b = FullyConnectedNet([5], input_dim=4, num_classes=3, seed=1)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])


def test_main_api_dropout_of_one_points_to_the_course_meaning():
    with pytest.raises(ValueError, match=r"xplayers\.course.*dropout_keep_ratio"):
        FullyConnectedNet([5], input_dim=4, num_classes=3, dropout=1)


def test_replaced_float64_parameters_survive_save_and_load(tmp_path):
    model = TwoLayerNet(4, 5, 3, seed=0)  # float32 by the constructor
    model.params = {k: v.astype(np.float64) + 1e-12 for k, v in model.params.items()}
    assert model.config["dtype"] == "float64"
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    for name, value in model.params.items():
        assert loaded.params[name].dtype == np.float64
        np.testing.assert_array_equal(loaded.params[name], value)  # no float32 round trip
