"""The 2019 course's ``classifiers.neural_net.TwoLayerNet`` (its own loss/train/predict)."""
# ruff: noqa: NPY002  (the course draws from NumPy's global state; so do these references)

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close

from xplayers import to_device, to_numpy
from xplayers.course.classifiers.neural_net import TwoLayerNet
from xplayers.gradcheck import eval_numerical_gradient, rel_error

# The 2019 two_layer_net notebook's checks for its toy model and data.
CORRECT_SCORES = np.asarray([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949]])
CORRECT_LOSS = 1.30378789133


def _toy():
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


def _reference(params, X, y, reg):
    """affine - relu - affine - softmax written out in NumPy, with the 2019 reg term."""
    h = np.maximum(0, X @ params["W1"] + params["b1"])
    scores = h @ params["W2"] + params["b2"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    return scores, loss + reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def test_np_random_seed_repeats_the_notebook():
    net, X, y = _toy()
    assert np.sum(np.abs(net.loss(X) - CORRECT_SCORES)) < 1e-7
    loss, _ = net.loss(X, y, reg=0.05)
    assert abs(float(loss) - CORRECT_LOSS) < 1e-10
    # the course's draw order: W1, then W2, from the global state
    np.random.seed(0)
    W1, W2 = 1e-1 * np.random.randn(4, 10), 1e-1 * np.random.randn(10, 3)
    np.testing.assert_array_equal(net.params["W1"], W1)
    np.testing.assert_array_equal(net.params["W2"], W2)


def test_loss_and_gradients_on_every_backend(backend):
    net, X, y = _toy()
    host = {k: v.copy() for k, v in net.params.items()}
    net.params = {k: backend.asarray(v) for k, v in host.items()}
    Xb, yb = backend.asarray(X), backend.asarray(y)
    scores = net.loss(Xb)
    expected_scores, expected_loss = _reference(host, X, y, 0.05)
    assert_close(scores, expected_scores)
    loss, grads = net.loss(Xb, yb, reg=0.05)
    assert float(loss) == pytest.approx(expected_loss, rel=1e-12)
    assert sorted(grads) == ["W1", "W2", "b1", "b2"]
    for name in grads:
        numeric = eval_numerical_gradient(lambda _: net.loss(Xb, yb, reg=0.05)[0],
                                          net.params[name], verbose=False)
        assert rel_error(numeric, grads[name]) < 1e-8, name


def test_train_reproduces_the_course_loop(backend):
    net, X, y = _toy()
    net.params = {k: backend.asarray(v) for k, v in net.params.items()}
    np.random.seed(3)
    stats = net.train(backend.asarray(X), backend.asarray(y), backend.asarray(X),
                      backend.asarray(y), learning_rate=1e-1, reg=5e-6, num_iters=100)
    # the course's loop, written out
    ref, _, _ = _toy()
    np.random.seed(3)
    lr, losses = 1e-1, []
    for it in range(100):
        rows = np.random.choice(5, 200)
        loss, grads = ref.loss(X[rows], y[rows], reg=5e-6)
        losses.append(float(loss))
        for k in ref.params:
            ref.params[k] = ref.params[k] - lr * grads[k]
        if it % max(5 / 200, 1) == 0:
            lr *= 0.95
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=1e-9)
    assert stats["loss_history"][-1] < 0.02  # the notebook's expectation
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 100
    assert to_numpy(net.predict(backend.asarray(X))).tolist() == y.tolist()


def test_params_move_with_to_device():
    net, X, _ = _toy()
    net.params = to_device(net.params, "cpu")
    assert net.loss(X).shape == (5, 3)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        TwoLayerNet(4, 0, 3)
    net, X, y = _toy()
    with pytest.raises(ValueError, match=r"X has shape \(5, 3\), expected \(N, 4\)"):
        net.loss(X[:, :3])
    with pytest.raises(ValueError, match="reg must be a real number >= 0"):
        net.loss(X, y, reg=-1)
    with pytest.raises(ValueError, match="learning_rate_decay must be a real number > 0"):
        net.train(X, y, X, y, learning_rate_decay=0)
