"""The convolutional sandwich layers on every backend: gradients, compute_dx, PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from backends import Backend, assert_close

from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layer_utils import (
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from xplayers.layers import (
    conv_backward,
    conv_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
)

GRAD_TOL = 1e-6
CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _inputs(backend: Backend, rng: np.random.Generator, x_shape, w_shape):
    host = [rng.standard_normal(s) for s in (x_shape, w_shape, (w_shape[0],))]
    return [backend.asarray(a) for a in host]


def _check(analytic, f, at, dout, what: str) -> None:
    err = rel_error(analytic, eval_numerical_gradient_array(f, at, dout))
    assert err < GRAD_TOL, f"{what}: relative error {err:.2e}"


def test_conv_relu(backend: Backend, rng) -> None:
    x, w, b = _inputs(backend, rng, (2, 3, 5, 4), (3, 3, 3, 3))
    out, cache = conv_relu_forward(x, w, b, CONV_PARAM)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    dx, dw, db = conv_relu_backward(dout, cache)
    _check(dx, lambda v: conv_relu_forward(v, w, b, CONV_PARAM)[0], x, dout, "dx")
    _check(dw, lambda v: conv_relu_forward(x, v, b, CONV_PARAM)[0], w, dout, "dw")
    _check(db, lambda v: conv_relu_forward(x, w, v, CONV_PARAM)[0], b, dout, "db")
    none, dw2, db2 = conv_relu_backward(dout, cache, compute_dx=False)
    assert none is None
    assert_close(dw2, dw)
    assert_close(db2, db)


def test_conv_relu_pool(backend: Backend, rng) -> None:
    x, w, b = _inputs(backend, rng, (2, 2, 6, 5), (3, 2, 3, 3))
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 3, "pool_width": 2, "stride": 2}

    def fwd(x_, w_, b_):
        return conv_relu_pool_forward(x_, w_, b_, conv_param, pool_param)[0]

    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    assert tuple(out.shape) == (2, 3, 2, 2)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    dx, dw, db = conv_relu_pool_backward(dout, cache)
    _check(dx, lambda v: fwd(v, w, b), x, dout, "dx")
    _check(dw, lambda v: fwd(x, v, b), w, dout, "dw")
    _check(db, lambda v: fwd(x, w, v), b, dout, "db")
    none, dw2, _ = conv_relu_pool_backward(dout, cache, compute_dx=False)
    assert none is None
    assert_close(dw2, dw)


@pytest.mark.parametrize("pool_param", [POOL_PARAM, {"pool_height": 3, "pool_width": 3,
                                                      "stride": 1}], ids=["2x2", "3x3-overlap"])
def test_conv_relu_pool_equals_course_order(backend: Backend, rng, pool_param) -> None:
    """The sandwich pools before its ReLU; values and gradients equal conv, relu, pool."""
    x, w, _ = _inputs(backend, rng, (3, 2, 6, 6), (4, 2, 3, 3))
    # Filter 0 all negative, filter 1 exactly zero (ties at 0), filters 2-3 mixed.
    b = backend.asarray(np.array([-100.0, 0.0, 0.0, 0.5]))
    w = backend.asarray(backend.to_numpy(w) * np.array([1.0, 0.0, 1.0, 1.0])[:, None, None, None])
    out, cache = conv_relu_pool_forward(x, w, b, CONV_PARAM, pool_param)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    grads = conv_relu_pool_backward(dout, cache)

    a, conv_cache = conv_forward(x, w, b, CONV_PARAM)
    s, relu_cache = relu_forward(a)
    ref, pool_cache = max_pool_forward(s, pool_param)
    da = relu_backward(max_pool_backward(dout, pool_cache), relu_cache)
    ref_grads = conv_backward(da, conv_cache)
    np.testing.assert_array_equal(backend.to_numpy(out), backend.to_numpy(ref))
    for got, want in zip(grads, ref_grads, strict=True):
        assert_close(got, want, rtol=0, atol=0)


def test_conv_bn_relu(backend: Backend, rng) -> None:
    x, w, b = _inputs(backend, rng, (3, 2, 4, 5), (3, 2, 3, 3))
    gamma = backend.asarray(rng.standard_normal(3))
    beta = backend.asarray(rng.standard_normal(3))

    def fwd(x_, w_, b_, g_, be_):
        return conv_bn_relu_forward(x_, w_, b_, g_, be_, CONV_PARAM, {"mode": "train"})[0]

    bn_param = {"mode": "train"}
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, bn_param)
    assert tuple(bn_param["running_mean"].shape) == (3,)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    dx, dw, db, dgamma, dbeta = conv_bn_relu_backward(dout, cache)
    _check(dx, lambda v: fwd(v, w, b, gamma, beta), x, dout, "dx")
    _check(dw, lambda v: fwd(x, v, b, gamma, beta), w, dout, "dw")
    _check(dgamma, lambda v: fwd(x, w, b, v, beta), gamma, dout, "dgamma")
    _check(dbeta, lambda v: fwd(x, w, b, gamma, v), beta, dout, "dbeta")
    # The bias is cancelled by the batch mean: its gradient vanishes.
    assert float(np.max(np.abs(backend.to_numpy(db)))) < 1e-10
    rest = conv_bn_relu_backward(dout, cache, compute_dx=False)
    assert rest[0] is None
    for got, want in zip(rest[1:], (dw, db, dgamma, dbeta), strict=True):
        assert_close(got, want)


def test_conv_relu_pool_matches_torch(backend: Backend, rng) -> None:
    torch = pytest.importorskip("torch")
    host = [rng.standard_normal(s) for s in ((2, 3, 8, 6), (4, 3, 5, 5), (4,))]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in host)
    a = torch.nn.functional.conv2d(tx, tw, tb, stride=1, padding=2)
    tout = torch.nn.functional.max_pool2d(torch.relu(a), 2, stride=2)
    hd = rng.standard_normal(tuple(tout.shape))
    tout.backward(torch.tensor(hd))

    x, w, b = (backend.asarray(h) for h in host)
    out, cache = conv_relu_pool_forward(x, w, b, {"stride": 1, "pad": 2}, POOL_PARAM)
    dx, dw, db = conv_relu_pool_backward(backend.asarray(hd), cache)
    assert_close(out, tout.detach().numpy())
    assert_close(dx, tx.grad.numpy())
    assert_close(dw, tw.grad.numpy())
    assert_close(db, tb.grad.numpy())
