# ruff: noqa: NPY002  (the course's inputs come from NumPy's legacy global seed, on purpose)
"""The course's notebook checks, run through ``xplayers.course`` on every backend.

Each test uses a notebook's inputs (``np.linspace`` arrays, ``np.random.seed(231)`` draws) and
asserts the check value the course publishes (its ``correct_out`` arrays and expected losses,
to the digits published) AND, tightly, the same quantity from an independent float64 NumPy
reference written here from the standard formulas. Parameters are float64 (as the course's),
gamma, beta and biases are sometimes integer arrays, as in the notebooks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from backends import dtype_name

from xplayers import to_numpy
from xplayers.course import fast_layers, layers
from xplayers.course.classifiers.cnn import ThreeLayerConvNet
from xplayers.course.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from xplayers.course.gradient_check import eval_numerical_gradient_array, rel_error

# --- an independent float64 reference ---------------------------------------------------


def ref_affine(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b


def ref_conv(x, w, b, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, _, hh, ww = w.shape
    ho = 1 + (xp.shape[2] - hh) // stride
    wo = 1 + (xp.shape[3] - ww) // stride
    out = np.zeros((x.shape[0], f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + hh, j * stride:j * stride + ww]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def ref_pool(x, ph, pw, stride):
    ho, wo = 1 + (x.shape[2] - ph) // stride, 1 + (x.shape[3] - pw) // stride
    out = np.zeros((*x.shape[:2], ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph,
                                j * stride:j * stride + pw].max(axis=(2, 3))
    return out


def ref_norm(x, gamma, beta, axes, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def ref_softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y].mean()


def ref_svm_loss(x, y):
    correct = x[np.arange(len(y)), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(len(y)), y] = 0
    return margins.sum() / len(y)


def ref_two_layer_scores(X, p):
    return np.maximum(0, X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def host(a):
    return np.asarray(to_numpy(a))


def numeric_grads_agree(backend, f, inputs, dout, analytic, bound):
    """Every analytic gradient agrees with ``eval_numerical_gradient_array`` within ``bound``."""
    for x, grad in zip(inputs, analytic, strict=True):
        numeric = eval_numerical_gradient_array(lambda _: f(), x, dout)
        assert rel_error(numeric, grad) < bound


# --- affine, relu, losses ------------------------------------------------------------------

AFFINE_CORRECT = np.array([[1.49834967, 1.70660132, 1.91485297],
                           [3.25553199, 3.5141327, 3.77273342]])


def test_affine_forward_matches_the_course(backend):
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = layers.affine_forward(backend.asarray(x), backend.asarray(w), backend.asarray(b))
    assert rel_error(out, AFFINE_CORRECT) < 1e-9  # the course: "around e-9"
    assert rel_error(out, ref_affine(x, w, b)) < 1e-14


def test_affine_backward_and_integer_bias(backend):
    np.random.seed(231)
    x, w = np.random.randn(10, 2, 3), np.random.randn(6, 5)
    b, dout = np.array([0, 128, -3, 4, 7]), np.random.randn(10, 5)  # an integer bias
    xs, ws, bs, ds = (backend.asarray(a) for a in (x, w, b, dout))
    out, cache = layers.affine_forward(xs, ws, bs)
    assert dtype_name(out) == "float64"
    assert rel_error(out, ref_affine(x, w, b)) < 1e-14
    dx, dw, db = layers.affine_backward(ds, cache)
    assert dtype_name(db) == "float64"  # an integer input's gradient: the compute dtype
    numeric_grads_agree(backend, lambda: layers.affine_forward(xs, ws, bs)[0], (xs, ws), ds,
                        (dx, dw), 1e-8)
    np.testing.assert_allclose(host(db), dout.sum(axis=0), rtol=1e-12)


RELU_CORRECT = np.array([[0., 0., 0., 0.],
                         [0., 0., 0.04545455, 0.13636364],
                         [0.22727273, 0.31818182, 0.40909091, 0.5]])


def test_relu_forward_matches_the_course(backend):
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = layers.relu_forward(backend.asarray(x))
    assert rel_error(out, RELU_CORRECT) < 1e-7  # the course: "around 5e-8"
    assert rel_error(out, np.maximum(x, 0)) < 1e-15


def test_svm_and_softmax_losses_match_the_course(backend):
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    xs, ys = backend.asarray(x), backend.asarray(y)
    for loss_fn, published, ref in ((layers.svm_loss, 8.999602749096233, ref_svm_loss),
                                    (layers.softmax_loss, 2.302545844500738, ref_softmax_loss)):
        loss, dx = loss_fn(xs, ys)
        assert float(loss) == pytest.approx(published, rel=1e-12)
        assert float(loss) == pytest.approx(ref(x, y), rel=1e-12)
        numeric = eval_numerical_gradient_array(lambda _, f=loss_fn: f(xs, ys)[0], xs,
                                                backend.asarray(1.0))
        assert rel_error(numeric, dx) < 1e-8  # the course: "around 1e-9"


# --- the two-layer and fully-connected nets ---------------------------------------------------

TWO_LAYER_SCORES = np.asarray(
    [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
     [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
     [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])


def test_two_layer_net_matches_the_course(backend):
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    assert abs(model.params["W1"].std() - std) < std / 10
    assert np.all(model.params["b1"] == 0)
    params = {"W1": np.linspace(-0.7, 0.3, num=D * H).reshape(D, H),
              "b1": np.linspace(-0.1, 0.9, num=H),
              "W2": np.linspace(-0.3, 0.4, num=H * C).reshape(H, C),
              "b2": np.linspace(-0.9, 0.1, num=C)}
    for name, value in params.items():
        model.params[name] = backend.asarray(value)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    scores = model.loss(backend.asarray(X))
    assert np.abs(host(scores) - TWO_LAYER_SCORES).sum() < 1e-6
    np.testing.assert_allclose(host(scores), ref_two_layer_scores(X, params), rtol=1e-13)
    y = np.asarray([0, 5, 1])
    loss, _ = model.loss(backend.asarray(X), backend.asarray(y))
    assert abs(float(loss) - 3.4702243556) < 1e-10
    assert float(loss) == pytest.approx(ref_softmax_loss(ref_two_layer_scores(X, params), y),
                                        rel=1e-13)
    model.reg = 1.0
    loss, _ = model.loss(backend.asarray(X), backend.asarray(y))
    assert abs(float(loss) - 26.5948426952) < 1e-10


def test_fully_connected_initial_losses_match_the_course(backend):
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    Xs, ys = backend.asarray(X), backend.asarray(y)
    # Without seed= the weights come from NumPy's global state, as the course's: the losses
    # the course prints (its models built one after the other) are reproduced to the digit.
    for reg, published in ((0, 2.3004790897684924), (3.14, 7.052114776533016)):
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                                  weight_scale=5e-2, dtype=np.float64)
        model.params = {k: backend.asarray(v) for k, v in model.params.items()}
        loss, grads = model.loss(Xs, ys)
        assert float(loss) == pytest.approx(published, rel=1e-12)
        for name in ("b1", "b3"):  # every gradient: tests/test_models.py
            numeric = eval_numerical_gradient_array(lambda _, m=model: m.loss(Xs, ys)[0],
                                                    model.params[name], backend.asarray(1.0))
            assert rel_error(numeric, grads[name]) < 1e-6  # the course: "e-7 or less"


# --- batch and layer normalisation ---------------------------------------------------------


def _bn_activations():
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    X = np.random.randn(N, D1)
    W1, W2 = np.random.randn(D1, D2), np.random.randn(D2, D3)
    return np.maximum(0, X.dot(W1)).dot(W2)


def test_batchnorm_forward_with_integer_gamma_and_beta(backend):
    a = _bn_activations()
    gamma, beta = np.asarray([1, 2, 3]), np.asarray([11, 12, 13])  # integers, as NumPy allows
    out, _ = layers.batchnorm_forward(backend.asarray(a), backend.asarray(gamma),
                                      backend.asarray(beta), {"mode": "train"})
    out = host(out)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)  # means close to beta
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)  # stds close to gamma
    np.testing.assert_allclose(out, ref_norm(a, gamma, beta, 0), rtol=1e-12, atol=1e-12)


def test_batchnorm_backward_matches_numeric_gradients(backend):
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta, dout = np.random.randn(D), np.random.randn(D), np.random.randn(N, D)
    xs, gs, bs, ds = (backend.asarray(v) for v in (x, gamma, beta, dout))
    param = {"mode": "train"}
    _, cache = layers.batchnorm_forward(xs, gs, bs, param)
    for backward in (layers.batchnorm_backward, layers.batchnorm_backward_alt):
        dx, dgamma, dbeta = backward(ds, cache)
        numeric_grads_agree(backend, lambda: layers.batchnorm_forward(xs, gs, bs, param)[0],
                            (xs, gs, bs), ds, (dx, dgamma, dbeta), 1e-7)


def test_layernorm_forward_and_backward(backend):
    np.random.seed(231)
    N, D = 4, 5
    a = 5 * np.random.randn(N, D) + 12
    gamma, beta = np.asarray([3, 3, 3, 3, 3]), np.asarray([5, 5, 5, 5, 5])
    out, _ = layers.layernorm_forward(backend.asarray(a), backend.asarray(gamma),
                                      backend.asarray(beta), {})
    np.testing.assert_allclose(host(out).mean(axis=1), 5, atol=1e-10)
    np.testing.assert_allclose(host(out), ref_norm(a, gamma, beta, 1), rtol=1e-12)
    g, dout = np.random.randn(D), np.random.randn(N, D)
    xs, gs, bs, ds = (backend.asarray(v) for v in (a, g, beta * 1.0, dout))
    _, cache = layers.layernorm_forward(xs, gs, bs, {})
    numeric_grads_agree(backend, lambda: layers.layernorm_forward(xs, gs, bs, {})[0],
                        (xs, gs, bs), ds, layers.layernorm_backward(ds, cache), 1e-7)


# --- dropout: the course's keep probability ------------------------------------------------


@pytest.mark.parametrize("keep", [0.25, 0.4, 0.7])
def test_dropout_keeps_the_course_meaning(backend, keep):
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    xs = backend.asarray(x)
    out, _ = layers.dropout_forward(xs, {"mode": "train", "p": keep, "seed": 0})
    out_test, _ = layers.dropout_forward(xs, {"mode": "test", "p": keep})
    out = host(out)
    assert (out == 0).mean() == pytest.approx(1 - keep, abs=0.01)  # zeroed: 1 - p
    assert out.mean() == pytest.approx(x.mean(), rel=0.01)  # inverted dropout keeps the mean
    np.testing.assert_array_equal(host(out_test), x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / keep, rtol=1e-12)


def test_dropout_keep_one_is_no_dropout(backend):
    np.random.seed(231)
    x = np.random.randn(20, 30)
    out, cache = layers.dropout_forward(backend.asarray(x), {"mode": "train", "p": 1})
    np.testing.assert_array_equal(host(out), x)
    dout = np.random.randn(20, 30)
    np.testing.assert_array_equal(host(layers.dropout_backward(backend.asarray(dout), cache)),
                                  dout)
    with pytest.raises(ValueError, match=r"probability of KEEPING a unit .* got 0"):
        layers.dropout_forward(backend.asarray(x), {"mode": "train", "p": 0})


def test_main_api_dropout_of_one_points_to_the_course_layer(backend):
    from xplayers.layers import dropout_forward

    x = backend.asarray(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"probability of dropping .* got p=1.*"
                                         r"xplayers\.course\.layers\.dropout_forward"):
        dropout_forward(x, {"mode": "train", "p": 1})


def test_course_seed_fixes_the_masks_only():
    np.random.seed(231)
    plain = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, dtype=np.float64)
    np.random.seed(231)
    seeded = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, dtype=np.float64,
                               dropout_keep_ratio=0.5, seed=123)
    for name, value in plain.params.items():  # weights: NumPy's global state, as the course's
        np.testing.assert_array_equal(seeded.params[name], value)
    X, y = np.random.randn(4, 3), np.array([0, 1, 1, 0])
    assert float(seeded.loss(X, y)[0]) == float(seeded.loss(X, y)[0])  # fixed masks
    with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
        FullyConnectedNet([5], input_dim=3, num_classes=2, seed=-1)


def test_course_model_checkpoints_load_in_xplayers_meaning(tmp_path):
    from xplayers.models import FullyConnectedNet as XFullyConnectedNet
    from xplayers.models import load_model

    model = FullyConnectedNet([4], input_dim=3, num_classes=2, dropout_keep_ratio=0.75, seed=0)
    model.save(tmp_path / "course.npz")
    loaded = load_model(tmp_path / "course.npz")
    assert type(loaded) is XFullyConnectedNet
    assert loaded.config["dropout"] == 0.25  # the drop probability: keep 0.75, not inverted
    np.testing.assert_array_equal(loaded.params["W1"], model.params["W1"])


def test_fully_connected_keep_ratio_is_converted():
    for kwargs in ({"dropout_keep_ratio": 0.75}, {"dropout": 0.75}):
        model = FullyConnectedNet([4, 4], input_dim=3, num_classes=2, seed=0, **kwargs)
        assert [p["p"] for p in model.dropout_params] == [0.25, 0.25]  # xplayers' drop p
    assert FullyConnectedNet([4], input_dim=3, num_classes=2, dropout_keep_ratio=1).use_dropout \
        is False
    with pytest.raises(ValueError, match=r"dropout_keep_ratio is the course's probability of "
                                         r"KEEPING a unit .* got 0"):
        FullyConnectedNet([4], input_dim=3, num_classes=2, dropout_keep_ratio=0)
    with pytest.raises(ValueError, match="not both"):
        FullyConnectedNet([4], input_dim=3, num_classes=2, dropout_keep_ratio=0.5, dropout=0.5)


# --- conv and pool -------------------------------------------------------------------------

CONV_CORRECT = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                          [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                          [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                         [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                          [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                          [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])

POOL_CORRECT = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                          [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                          [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                         [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                          [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                          [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])


def test_conv_forward_naive_matches_the_course(backend):
    x = np.linspace(-0.1, 0.5, num=96).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=144).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = layers.conv_forward_naive(backend.asarray(x), backend.asarray(w),
                                       backend.asarray(b), {"stride": 2, "pad": 1})
    assert rel_error(out, CONV_CORRECT) < 1e-7  # the course: "around e-8"
    assert rel_error(out, ref_conv(x, w, b, 2, 1)) < 1e-13


def test_conv_backward_and_fast_names_agree(backend):
    np.random.seed(231)
    x, w = np.random.randn(4, 3, 5, 5), np.random.randn(2, 3, 3, 3)
    b, dout = np.random.randn(2), np.random.randn(4, 2, 5, 5)
    conv_param = {"stride": 1, "pad": 1}
    xs, ws, bs, ds = (backend.asarray(v) for v in (x, w, b, dout))
    out, cache = layers.conv_forward_naive(xs, ws, bs, conv_param)
    grads = layers.conv_backward_naive(ds, cache)
    numeric_grads_agree(backend, lambda: layers.conv_forward_naive(xs, ws, bs, conv_param)[0],
                        (xs, ws, bs), ds, grads, 1e-7)  # the course: "around e-8 or less"
    out_fast, cache_fast = fast_layers.conv_forward_fast(xs, ws, bs, conv_param)
    assert rel_error(out_fast, out) < 1e-15
    for fast, naive in zip(fast_layers.conv_backward_fast(ds, cache_fast), grads, strict=True):
        assert rel_error(fast, naive) < 1e-15


def test_max_pool_forward_naive_matches_the_course(backend):
    x = np.linspace(-0.3, 0.4, num=96).reshape(2, 3, 4, 4)
    pool_param = {"pool_width": 2, "pool_height": 2, "stride": 2}
    out, _ = layers.max_pool_forward_naive(backend.asarray(x), pool_param)
    assert rel_error(out, POOL_CORRECT) < 1e-7  # the course: "around 4e-8"
    assert rel_error(out, ref_pool(x, 2, 2, 2)) < 1e-15
    out_fast, _ = fast_layers.max_pool_forward_fast(backend.asarray(x), pool_param)
    assert rel_error(out_fast, out) == 0


# --- spatial batch and group normalisation -------------------------------------------------


def test_spatial_batchnorm_with_integer_gamma_and_beta(backend):
    np.random.seed(231)
    x = 4 * np.random.randn(2, 3, 4, 5) + 10
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])
    out, _ = layers.spatial_batchnorm_forward(backend.asarray(x), backend.asarray(gamma),
                                              backend.asarray(beta), {"mode": "train"})
    out = host(out)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-5)
    ref = ref_norm(x, gamma.reshape(1, 3, 1, 1), beta.reshape(1, 3, 1, 1), (0, 2, 3))
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_spatial_groupnorm_forward_and_backward(backend):
    np.random.seed(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * np.random.randn(N, C, H, W) + 10
    gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    out, _ = layers.spatial_groupnorm_forward(backend.asarray(x), backend.asarray(gamma),
                                              backend.asarray(beta), G, {})
    grouped = host(out).reshape(N * G, -1)
    np.testing.assert_allclose(grouped.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(grouped.std(axis=1), 1, rtol=1e-5)
    ref = ref_norm(x.reshape(N, G, -1), 1.0, 0.0, 2).reshape(x.shape)
    np.testing.assert_allclose(host(out), ref, rtol=1e-12, atol=1e-12)
    gamma, beta, dout = (np.random.randn(1, C, 1, 1), np.random.randn(1, C, 1, 1),
                         np.random.randn(N, C, H, W))
    xs, gs, bs, ds = (backend.asarray(v) for v in (x, gamma, beta, dout))
    _, cache = layers.spatial_groupnorm_forward(xs, gs, bs, G, {})
    numeric_grads_agree(backend, lambda: layers.spatial_groupnorm_forward(xs, gs, bs, G, {})[0],
                        (xs, gs, bs), ds, layers.spatial_groupnorm_backward(ds, cache), 1e-7)


# --- the three-layer conv net --------------------------------------------------------------


def test_three_layer_conv_net_initial_loss(backend):
    np.random.seed(231)
    N = 6
    X = np.random.randn(N, 3, 16, 16)
    y = np.random.randint(10, size=N)
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=4, hidden_dim=20,
                              dtype=np.float64)
    model.params = {k: backend.asarray(v) for k, v in model.params.items()}
    loss, _ = model.loss(backend.asarray(X), backend.asarray(y))
    assert float(loss) == pytest.approx(math.log(10), abs=1e-3)  # the course: "about log(10)"
    model.reg = 0.5
    loss_reg, _ = model.loss(backend.asarray(X), backend.asarray(y))
    penalty = 0.25 * sum(float((host(model.params[k]) ** 2).sum()) for k in ("W1", "W2", "W3"))
    assert float(loss_reg) == pytest.approx(float(loss) + penalty, rel=1e-12)
