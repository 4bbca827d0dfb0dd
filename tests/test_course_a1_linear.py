"""``xplayers.course.classifiers.linear_svm``, ``softmax`` and ``linear_classifier``."""
# ruff: noqa: NPY002  (the course draws from NumPy's global state; so do these references)

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close

from xplayers import to_numpy
from xplayers.course.classifiers import LinearSVM, Softmax
from xplayers.course.classifiers import linear_classifier as lc_module
from xplayers.course.classifiers.linear_svm import svm_loss_naive, svm_loss_vectorized
from xplayers.course.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized
from xplayers.gradcheck import eval_numerical_gradient, rel_error


def _svm_loops(W, X, y, reg):
    """The course's svm_loss_naive loops, with the gradient filled in, float64."""
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in range(X.shape[0]):
        scores = X[i].dot(W)
        for j in range(W.shape[1]):
            if j == y[i]:
                continue
            margin = scores[j] - scores[y[i]] + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    n = X.shape[0]
    return loss / n + reg * np.sum(W * W), dW / n + 2 * reg * W


def _softmax_loops(W, X, y, reg):
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in range(X.shape[0]):
        scores = X[i].dot(W)
        scores -= scores.max()
        p = np.exp(scores) / np.sum(np.exp(scores))
        loss -= np.log(p[y[i]])
        for j in range(W.shape[1]):
            dW[:, j] += (p[j] - (j == y[i])) * X[i]
    n = X.shape[0]
    return loss / n + reg * np.sum(W * W), dW / n + 2 * reg * W


CASES = [(svm_loss_naive, _svm_loops), (svm_loss_vectorized, _svm_loops),
         (softmax_loss_naive, _softmax_loops), (softmax_loss_vectorized, _softmax_loops)]


def _problem(rng, n=12, d=7, c=4):
    W = 0.1 * rng.standard_normal((d, c))
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    return W, X, y


@pytest.mark.parametrize(("loss_fn", "reference"), CASES, ids=lambda f: f.__name__)
def test_loss_and_gradient_match_the_course_loops(backend, rng, loss_fn, reference):
    W, X, y = _problem(rng)
    for reg in (0.0, 0.5):
        loss, dW = loss_fn(backend.asarray(W), backend.asarray(X), backend.asarray(y), reg)
        expected_loss, expected_dW = reference(W, X, y, reg)
        assert float(loss) == pytest.approx(expected_loss, rel=1e-12)
        assert_close(dW, expected_dW)


@pytest.mark.parametrize(("loss_fn", "reference"), CASES, ids=lambda f: f.__name__)
def test_gradient_check_float64(backend, rng, loss_fn, reference):
    W, X, y = _problem(rng)
    Wb, Xb, yb = backend.asarray(W), backend.asarray(X), backend.asarray(y)
    _, dW = loss_fn(Wb, Xb, yb, 0.3)
    numeric = eval_numerical_gradient(lambda w: loss_fn(w, Xb, yb, 0.3)[0], Wb, verbose=False)
    assert rel_error(numeric, dW) < 1e-7


def test_softmax_is_finite_for_huge_scores(backend, rng):
    W, X, y = _problem(rng)
    loss, dW = softmax_loss_vectorized(backend.asarray(W * 1e6), backend.asarray(X),
                                       backend.asarray(y), 0.0)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(to_numpy(dW)))


def test_float32_stays_float32(backend, rng):
    W, X, y = _problem(rng)
    loss, dW = svm_loss_vectorized(backend.asarray(W, np.float32), backend.asarray(X, np.float32),
                                   backend.asarray(y), 0.1)
    assert np.asarray(to_numpy(dW)).dtype == np.float32
    assert np.asarray(to_numpy(loss)).dtype == np.float32


def test_losses_name_bad_arguments(rng):
    W, X, y = _problem(rng)
    with pytest.raises(ValueError, match="X's columns must equal W's rows"):
        svm_loss_naive(W, X[:, :3], y, 0.0)
    with pytest.raises(ValueError, match="reg must be a real number >= 0"):
        softmax_loss_naive(W, X, y, -1.0)
    with pytest.raises(ValueError, match="labels in y"):
        softmax_loss_vectorized(W, X, y + 10, 0.0)


def _course_train(X, y, loss_ref, learning_rate, reg, num_iters, batch_size):
    """The course's LinearClassifier.train, from NumPy's global random state."""
    W = 0.001 * np.random.randn(X.shape[1], np.max(y) + 1)
    history = []
    for _ in range(num_iters):
        rows = np.random.choice(X.shape[0], batch_size)
        loss, grad = loss_ref(W, X[rows], y[rows], reg)
        history.append(loss)
        W -= learning_rate * grad
    return W, history


@pytest.mark.parametrize(("cls", "reference"), [(LinearSVM, _svm_loops),
                                                (Softmax, _softmax_loops)])
def test_train_repeats_the_course_from_np_random_seed(backend, rng, cls, reference):
    X = rng.standard_normal((50, 6))
    X = np.hstack([X, np.ones((50, 1))])  # the notebook's bias trick
    y = rng.integers(0, 3, 50)
    np.random.seed(231)
    W_ref, history_ref = _course_train(X, y, reference, 1e-1, 1e-2, 30, 16)
    np.random.seed(231)
    model = cls()
    history = model.train(backend.asarray(X), backend.asarray(y), learning_rate=1e-1,
                          reg=1e-2, num_iters=30, batch_size=16)
    assert isinstance(history, list) and all(type(v) is float for v in history)
    np.testing.assert_allclose(history, history_ref, rtol=1e-10)
    assert tuple(model.W.shape) == (7, 3)  # (D, C), the bias row last
    assert_close(model.W, W_ref, rtol=1e-9, atol=1e-12)
    pred = model.predict(backend.asarray(X))
    np.testing.assert_array_equal(to_numpy(pred), np.argmax(X @ W_ref, axis=1))
    assert model.loss(backend.asarray(X), backend.asarray(y), 0.0)[1].shape == (7, 3)


def test_train_prints_the_course_progress(capsys, rng):
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 2, 20)
    LinearSVM().train(X, y, num_iters=101, batch_size=5, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["iteration 0 / 101", "iteration 100 / 101"]


def test_classifier_arguments_are_checked(rng):
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 2, 20)
    with pytest.raises(NotImplementedError, match="use LinearSVM or Softmax"):
        lc_module.LinearClassifier().train(X, y, num_iters=1)
    with pytest.raises(RuntimeError, match="call train first"):
        Softmax().predict(X)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Softmax().train(X, y, batch_size=0)
    with pytest.raises(ValueError, match="y has shape"):
        Softmax().train(X, y[:3])
    model = Softmax()
    model.train(X, y, num_iters=1)
    with pytest.raises(ValueError, match="X has 3 columns, expected 4"):
        model.predict(X[:, :3])
