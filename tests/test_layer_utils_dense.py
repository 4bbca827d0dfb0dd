"""Fully-connected sandwich layers on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name, tolerance

from xplayers import to_numpy
from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layer_utils import (
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)

NORMS = ["batchnorm", "layernorm"]
FLOATS = [np.float32, np.float64]


def _host_inputs(rng, n=4, dims=(2, 3), m=5):
    d = int(np.prod(dims))
    return (rng.standard_normal((n, *dims)), rng.standard_normal((d, m)),
            rng.standard_normal(m), 1.0 + 0.5 * rng.standard_normal(m), rng.standard_normal(m))


def _host_norm_relu(x, w, b, gamma, beta, normalization, eps=1e-5):
    a = x.reshape(x.shape[0], -1) @ w + b
    axis = 0 if normalization == "batchnorm" else 1
    mean, var = a.mean(axis=axis, keepdims=True), a.var(axis=axis, keepdims=True)
    return np.maximum(gamma * (a - mean) / np.sqrt(var + eps) + beta, 0.0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_affine_relu_forward(backend, rng, dtype):
    x, w, b, _, _ = _host_inputs(rng)
    out, _ = affine_relu_forward(*(backend.asarray(a, dtype) for a in (x, w, b)))
    expected, _ = affine_relu_forward(*(a.astype(dtype) for a in (x, w, b)))
    assert dtype_name(out) == np.dtype(dtype).name
    assert_close(out, expected)
    assert_close(out, np.maximum(x.reshape(4, 6) @ w + b, 0.0),
                 rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_affine_relu_backward_gradcheck(backend, rng):
    x, w, b = (backend.asarray(a) for a in _host_inputs(rng)[:3])
    dout = backend.asarray(rng.standard_normal((4, 5)))
    _, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    assert tuple(dx.shape) == (4, 2, 3)
    f = affine_relu_forward
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: f(v, w, b)[0], x, dout)) < 1e-7
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: f(x, v, b)[0], w, dout)) < 1e-7
    assert rel_error(db, eval_numerical_gradient_array(lambda v: f(x, w, v)[0], b, dout)) < 1e-7
    no_dx, dw2, db2 = affine_relu_backward(dout, cache, compute_dx=False)
    assert no_dx is None
    assert_close(dw2, dw)
    assert_close(db2, db)


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_affine_norm_relu_forward(backend, rng, normalization, dtype):
    host = _host_inputs(rng)
    param = {"mode": "train"}
    out, _ = affine_norm_relu_forward(*(backend.asarray(a, dtype) for a in host), param,
                                      normalization)
    host_param = {"mode": "train"}
    expected, _ = affine_norm_relu_forward(*(a.astype(dtype) for a in host), host_param,
                                           normalization)
    assert dtype_name(out) == np.dtype(dtype).name
    loose = {**tolerance(dtype), "atol": 1e-5 if dtype == np.float32 else 1e-12}
    assert_close(out, expected, **loose)
    assert_close(out, _host_norm_relu(*host, normalization),
                 rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)
    if normalization == "batchnorm":  # running statistics are kept in norm_param
        assert_close(param["running_mean"], host_param["running_mean"], **loose)
        assert dtype_name(param["running_var"]) == np.dtype(dtype).name
    else:
        assert param == {"mode": "train"}


@pytest.mark.parametrize("normalization", NORMS)
def test_affine_norm_relu_backward_gradcheck(backend, rng, normalization):
    x, w, b, gamma, beta = (backend.asarray(a) for a in _host_inputs(rng))
    dout = backend.asarray(rng.standard_normal((4, 5)))
    param = {"mode": "train"}

    def f(x=x, w=w, b=b, gamma=gamma, beta=beta):
        return affine_norm_relu_forward(x, w, b, gamma, beta, param, normalization)[0]

    _, cache = affine_norm_relu_forward(x, w, b, gamma, beta, param, normalization)
    grads = affine_norm_relu_backward(dout, cache)
    for grad, (name, arg) in zip(grads, dict(x=x, w=w, b=b, gamma=gamma, beta=beta).items(),
                                 strict=True):
        assert tuple(grad.shape) == tuple(arg.shape) and dtype_name(grad) == "float64"
        numerical = eval_numerical_gradient_array(lambda v, name=name: f(**{name: v}), arg, dout)
        if name == "b" and normalization == "batchnorm":
            # Batchnorm subtracts the batch mean, so the bias has no effect: both are ~0.
            assert np.max(np.abs(to_numpy(grad))) < 1e-12
            assert np.max(np.abs(to_numpy(numerical))) < 1e-9
        else:
            assert rel_error(grad, numerical) < 1e-7, name
    no_dx, *rest = affine_norm_relu_backward(dout, cache, compute_dx=False)
    assert no_dx is None
    for a, b_ in zip(rest, grads[1:], strict=True):
        assert_close(a, b_)


def test_affine_norm_relu_rejects_unknown_normalization(backend, rng):
    x, w, b, gamma, beta = (backend.asarray(a) for a in _host_inputs(rng))
    param = {"mode": "train"}
    with pytest.raises(ValueError, match=r"affine_norm_relu_forward: normalization must be "
                                         r"'batchnorm' or 'layernorm', got 'groupnorm'"):
        affine_norm_relu_forward(x, w, b, gamma, beta, param, "groupnorm")
    assert param == {"mode": "train"}
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] is required"):
        affine_norm_relu_forward(x, w, b, gamma, beta, {}, "batchnorm")
    with pytest.raises(ValueError, match=r"gamma has shape \(4,\), expected \(5,\)"):
        affine_norm_relu_forward(x, w, b, backend.asarray(np.ones(4)), beta, param, "layernorm")


def test_affine_norm_relu_test_mode_uses_running_stats(backend, rng):
    host = _host_inputs(rng)
    x, w, b, gamma, beta = (backend.asarray(a) for a in host)
    mean, var = rng.standard_normal(5), rng.uniform(0.5, 2.0, 5)
    param = {"mode": "test", "running_mean": backend.asarray(mean),
             "running_var": backend.asarray(var)}
    out, _ = affine_norm_relu_forward(x, w, b, gamma, beta, param, "batchnorm")
    a = host[0].reshape(4, 6) @ host[1] + host[2]
    expected = np.maximum(host[3] * (a - mean) / np.sqrt(var + 1e-5) + host[4], 0.0)
    assert_close(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(to_numpy(param["running_mean"]), mean)
