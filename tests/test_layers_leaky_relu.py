"""Leaky ReLU on every backend: gradients, PyTorch reference, dtypes, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name

from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layers import leaky_relu_backward, leaky_relu_forward, relu_forward


def _away_from_kink(rng, shape):
    host = rng.standard_normal(shape)
    return host + np.sign(host) * 0.1


@pytest.mark.parametrize("alpha", [0.01, 0.3, -0.5])
def test_leaky_relu_gradcheck(backend, rng, alpha):
    x = backend.asarray(_away_from_kink(rng, (4, 5)))
    dout = backend.asarray(rng.standard_normal((4, 5)))
    _, cache = leaky_relu_forward(x, alpha)
    dx = leaky_relu_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda v: leaky_relu_forward(v, alpha)[0], x, dout)
    assert rel_error(dx, num) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_matches_torch(backend, rng, dtype):
    torch = pytest.importorskip("torch")
    host = rng.standard_normal((3, 2, 4)).astype(dtype)
    host.flat[:2] = 0.0  # the gradient at 0 is alpha's, as in PyTorch
    hd = rng.standard_normal(host.shape).astype(dtype)
    tx = torch.tensor(host, requires_grad=True)
    tout = torch.nn.functional.leaky_relu(tx, negative_slope=0.2)
    tout.backward(torch.tensor(hd))
    out, cache = leaky_relu_forward(backend.asarray(host), 0.2)
    dx = leaky_relu_backward(backend.asarray(hd), cache)
    assert dtype_name(out) == dtype_name(dx) == np.dtype(dtype).name
    assert_close(out, tout.detach().numpy())
    assert_close(dx, tx.grad.numpy())


def test_leaky_relu_with_zero_slope_is_relu(backend, rng):
    x = backend.asarray(rng.standard_normal((5, 6)))
    assert_close(leaky_relu_forward(x, 0.0)[0], relu_forward(x)[0])


def test_leaky_relu_backward_casts_dout_to_the_forward_dtype(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3)), np.float32)
    _, cache = leaky_relu_forward(x)
    dx = leaky_relu_backward(backend.asarray(rng.standard_normal((2, 3))), cache)
    assert dtype_name(dx) == "float32"


def test_leaky_relu_bad_arguments(backend):
    x = backend.asarray(np.ones((2, 3)))
    for alpha in ("0.1", None, float("nan"), True):
        with pytest.raises(ValueError, match=r"leaky_relu_forward: alpha must be a finite real "
                                             rf"number .*got {alpha!r}"):
            leaky_relu_forward(x, alpha)
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        leaky_relu_forward(backend.asarray(np.ones((2, 3), dtype=np.int64)))
    _, cache = leaky_relu_forward(x)
    with pytest.raises(ValueError, match=r"dout has shape \(3, 2\), expected \(2, 3\)"):
        leaky_relu_backward(backend.asarray(np.ones((3, 2))), cache)
