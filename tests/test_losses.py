"""SVM and softmax losses on every backend, against NumPy, PyTorch and numerical gradients."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name

from xplayers import device_of, to_numpy
from xplayers.gradcheck import eval_numerical_gradient, rel_error
from xplayers.layers import softmax_loss, svm_loss

LOSSES = [svm_loss, softmax_loss]
FLOATS = [np.float32, np.float64]


def _inputs(rng, n=6, c=5):
    return rng.standard_normal((n, c)), rng.integers(0, c, n)


def _host_svm(x, y):
    n = x.shape[0]
    margins = np.maximum(0.0, x - x[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0.0
    return margins.sum() / n


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("loss_fn", LOSSES)
def test_loss_matches_numpy_and_keeps_dtype(backend, rng, loss_fn, dtype):
    x, y = _inputs(rng)
    xb = backend.asarray(x, dtype)
    loss, dx = loss_fn(xb, backend.asarray(y))
    expected_loss, expected_dx = loss_fn(x.astype(dtype), y)
    assert tuple(loss.shape) == () and dtype_name(loss) == np.dtype(dtype).name
    assert dtype_name(dx) == np.dtype(dtype).name
    assert type(loss) is type(xb) and type(dx) is type(xb)
    assert device_of(dx) == device_of(xb) and device_of(loss) == device_of(xb)
    assert isinstance(float(loss), float)
    assert_close(loss, expected_loss)
    assert_close(dx, expected_dx)
    np.testing.assert_array_equal(to_numpy(xb), x.astype(dtype))  # input untouched


def test_svm_matches_reference_and_torch(backend, rng):
    x, y = _inputs(rng, n=7, c=4)
    loss, _ = svm_loss(backend.asarray(x), backend.asarray(y))
    assert_close(loss, _host_svm(x, y))
    torch = pytest.importorskip("torch")
    # PyTorch's multi_margin_loss also divides each example's sum by the number of classes C.
    t_loss = torch.nn.functional.multi_margin_loss(torch.tensor(x), torch.tensor(y))
    assert_close(loss, 4 * t_loss.numpy(), rtol=1e-12, atol=1e-12)


def test_softmax_matches_torch(backend, rng):
    torch = pytest.importorskip("torch")
    x, y = _inputs(rng, n=7, c=4)
    x *= 3.0
    loss, dx = softmax_loss(backend.asarray(x), backend.asarray(y))
    tx = torch.tensor(x, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(tx, torch.tensor(y))
    t_loss.backward()
    assert_close(loss, t_loss.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_close(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_svm_gradient_by_hand(backend):
    # Row 0: label 0, margins 1 - 2 + 1 = 0 (not positive) and 3 - 2 + 1 = 2.
    # Row 1: label 2, margins 0 - 1 + 1 = 0 and 5 - 1 + 1 = 5.
    x = backend.asarray(np.array([[2.0, 1.0, 3.0], [0.0, 5.0, 1.0]]))
    loss, dx = svm_loss(x, backend.asarray(np.array([0, 2])))
    assert float(loss) == pytest.approx((2.0 + 5.0) / 2)
    np.testing.assert_allclose(to_numpy(dx), [[-0.5, 0.0, 0.5], [0.0, 0.5, -0.5]])


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_loss_gradcheck(backend, rng, loss_fn):
    x_host, y_host = _inputs(rng, n=5, c=4)
    x, y = backend.asarray(x_host), backend.asarray(y_host)
    _, dx = loss_fn(x, y)
    numerical = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False)
    assert dtype_name(dx) == "float64"
    assert rel_error(dx, numerical) < 1e-7


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_is_finite_for_huge_logits(backend, dtype):
    x = backend.asarray(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [1e4, -1e4, 0.0]]), dtype)
    y = backend.asarray(np.array([0, 1, 1]))
    loss, dx = softmax_loss(x, y)
    # Row 0 is certain and right (0), row 1 splits evenly (log 2), row 2 is wrong by 2e4.
    assert float(loss) == pytest.approx((0.0 + np.log(2.0) + 2e4) / 3, rel=1e-6)
    host_dx = to_numpy(dx)
    assert np.all(np.isfinite(host_dx))
    np.testing.assert_allclose(host_dx, np.array([[0, 0, 0], [0, -0.5, 0.5], [1, -1, 0]]) / 3,
                               atol=1e-7)
    loss, dx = svm_loss(x, y)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(to_numpy(dx)))


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_loss_rejects_bad_labels_and_shapes(backend, rng, loss_fn):
    name = loss_fn.__name__
    x_host, _ = _inputs(rng, n=3, c=5)
    x = backend.asarray(x_host)
    with pytest.raises(ValueError, match=rf"{name}: labels in y must lie in \[0, 5\) for 5 "
                                         r"classes, got values from 0 to 5"):
        loss_fn(x, backend.asarray(np.array([0, 5, 1])))
    with pytest.raises(ValueError, match=r"labels in y must lie in \[0, 5\).*from -1 to 2"):
        loss_fn(x, backend.asarray(np.array([2, -1, 1])))
    with pytest.raises(TypeError, match=rf"{name}: y must hold integer class labels"):
        loss_fn(x, backend.asarray(np.array([0.0, 1.0, 2.0])))
    with pytest.raises(ValueError, match=rf"{name}: y has shape \(2,\), expected \(3,\)"):
        loss_fn(x, backend.asarray(np.array([0, 1])))
    with pytest.raises(ValueError, match=rf"{name}: x must have shape \(N, C\), "
                                         r"got shape \(3, 5, 1\)"):
        loss_fn(backend.asarray(x_host[:, :, None]), backend.asarray(np.array([0, 1, 2])))
    with pytest.raises(ValueError, match=rf"{name}: x must hold at least one row"):
        loss_fn(backend.asarray(np.zeros((0, 5))), backend.asarray(np.zeros(0, dtype=np.int64)))
    with pytest.raises(TypeError, match=rf"{name}: x must be a floating-point array"):
        loss_fn(backend.asarray(np.ones((3, 5), dtype=np.int64)),
                backend.asarray(np.array([0, 1, 2])))


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_loss_accepts_other_integer_label_dtypes(backend, rng, loss_fn):
    x_host, y_host = _inputs(rng)
    x = backend.asarray(x_host)
    reference = loss_fn(x_host, y_host)
    for label_dtype in (np.int32, np.uint8):
        loss, dx = loss_fn(x, backend.asarray(y_host, label_dtype))
        assert_close(loss, reference[0])
        assert_close(dx, reference[1])


def test_small_label_dtypes_with_many_classes(backend, rng):
    from xplayers.layers import softmax_loss

    x = backend.asarray(np.zeros((3, 300)))
    y = backend.asarray(np.array([0, 200, 255], dtype=np.uint8))
    loss, dx = softmax_loss(x, y)
    assert float(loss) == pytest.approx(np.log(300))
    host = np.asarray(backend.to_numpy(dx))
    assert np.sum(host < 0) == 3  # exactly one correct class per row
