"""Dense layers on every backend: affine, ReLU, batchnorm, layernorm, dropout."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name, tolerance

from xplayers import RandomStream, device_of, to_numpy
from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)

FLOATS = [np.float32, np.float64]


def _num_grad(f, x, dout):
    return eval_numerical_gradient_array(f, x, dout)


def _same_backend(array, reference_input):
    """``array`` lives in the same library, on the same device, as ``reference_input``."""
    assert type(array) is type(reference_input)
    assert device_of(array) == device_of(reference_input)


# --------------------------------------------------------------------------------- affine


@pytest.mark.parametrize("dtype", FLOATS)
def test_affine_forward_matches_numpy_and_reference(backend, rng, dtype):
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 5)), rng.standard_normal(5)
    out, _ = affine_forward(*(backend.asarray(a, dtype) for a in (x, w, b)))
    expected, _ = affine_forward(*(a.astype(dtype) for a in (x, w, b)))
    assert dtype_name(out) == np.dtype(dtype).name
    _same_backend(out, backend.asarray(x, dtype))
    assert_close(out, expected)
    assert_close(out, x.reshape(3, 8) @ w + b, rtol=1e-5 if dtype == np.float32 else 1e-12,
                 atol=1e-5 if dtype == np.float32 else 1e-12)


def test_affine_backward_gradcheck(backend, rng):
    x = backend.asarray(rng.standard_normal((3, 2, 3)))
    w = backend.asarray(rng.standard_normal((6, 4)))
    b = backend.asarray(rng.standard_normal(4))
    dout = backend.asarray(rng.standard_normal((3, 4)))
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert rel_error(dx, _num_grad(lambda v: affine_forward(v, w, b)[0], x, dout)) < 1e-7
    assert rel_error(dw, _num_grad(lambda v: affine_forward(x, v, b)[0], w, dout)) < 1e-7
    assert rel_error(db, _num_grad(lambda v: affine_forward(x, w, v)[0], b, dout)) < 1e-7
    dx_skipped, dw2, db2 = affine_backward(dout, cache, compute_dx=False)
    assert dx_skipped is None
    assert_close(dw2, dw)
    assert_close(db2, db)


def test_affine_rejects_bad_shapes(backend, rng):
    x = backend.asarray(rng.standard_normal((3, 4)))
    with pytest.raises(ValueError,
                       match=r"affine_forward: w has shape \(5, 2\), expected \(4, 2\)"):
        affine_forward(x, backend.asarray(np.ones((5, 2))), backend.asarray(np.ones(2)))
    with pytest.raises(ValueError, match=r"affine_forward: b has shape \(3,\), expected \(2,\)"):
        affine_forward(x, backend.asarray(np.ones((4, 2))), backend.asarray(np.ones(3)))


# ----------------------------------------------------------------------------------- relu


@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_forward_matches_numpy(backend, rng, dtype):
    x = rng.standard_normal((4, 5))
    out, _ = relu_forward(backend.asarray(x, dtype))
    expected, _ = relu_forward(x.astype(dtype))
    assert dtype_name(out) == np.dtype(dtype).name
    assert_close(out, expected)
    np.testing.assert_array_equal(to_numpy(out), np.maximum(x, 0).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_is_exactly_where(rng, dtype):
    # NumPy selects the gradient without np.where; the result must be where's, bit for bit:
    # NaN and infinities dropped at inactive units, signed zeros kept at active ones.
    x = rng.standard_normal((6, 40)).astype(dtype)
    dout = rng.standard_normal((6, 40)).astype(dtype)
    dout[0, :8] = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, -0.0, 1.0]
    x[0, :8] = [-1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0]
    x[1, :4] = [np.nan, 0.0, -0.0, np.inf]
    bits = f"u{np.dtype(dtype).itemsize}"
    for d, c in ((dout, x), (dout[:, ::3], x[:, ::3]), (dout.T, x.T)):
        expected = np.where(c > 0, d, np.zeros((), dtype=dtype))
        got = relu_backward(d, c)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got.view(bits), expected.view(bits))


def test_relu_refuses_integer_arrays_whose_gradient_would_be_truncated(backend):
    ints = backend.asarray(np.array([[1, -2, 3]]))
    with pytest.raises(TypeError, match=r"relu_forward: x must be a floating-point array"):
        relu_forward(ints)
    with pytest.raises(TypeError, match=r"relu_backward: cache must be a floating-point"):
        relu_backward(backend.asarray(np.full((1, 3), 0.5)), ints)


def test_relu_backward_gradcheck(backend, rng):
    host = rng.standard_normal((4, 5))
    host += np.sign(host) * 0.1  # keep away from the kink at 0
    x = backend.asarray(host)
    dout = backend.asarray(rng.standard_normal((4, 5)))
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    assert rel_error(dx, _num_grad(lambda v: relu_forward(v)[0], x, dout)) < 1e-10
    assert_close(relu_backward(dout, x), dx)  # the input works as a cache too


# ------------------------------------------------------------------------------ batchnorm


def _bn_inputs(backend, rng, dtype=np.float64, n=6, d=4):
    x = rng.standard_normal((n, d)) * 3.0 + 5.0
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    return (x, gamma, beta), tuple(backend.asarray(a, dtype) for a in (x, gamma, beta))


@pytest.mark.parametrize("dtype", FLOATS)
def test_batchnorm_train_forward_matches_numpy(backend, rng, dtype):
    host, (x, gamma, beta) = _bn_inputs(backend, rng, dtype)
    param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    host_param = {"mode": "train"}
    expected, _ = batchnorm_forward(*(a.astype(dtype) for a in host), host_param)
    assert dtype_name(out) == np.dtype(dtype).name
    _same_backend(out, x)
    assert_close(out, expected, **{**tolerance(dtype), "atol": 1e-5 if dtype == np.float32
                                   else 1e-12})
    for key in ("running_mean", "running_var"):
        assert dtype_name(param[key]) == np.dtype(dtype).name
        _same_backend(param[key], x)
        assert_close(param[key], host_param[key])
    # With gamma = 1 and beta = 0 every feature has mean 0 and (biased) variance ~1.
    d = x.shape[1]
    ones, zeros = backend.asarray(np.ones(d), dtype), backend.asarray(np.zeros(d), dtype)
    plain = to_numpy(batchnorm_forward(x, ones, zeros, {"mode": "train"})[0]).astype(np.float64)
    np.testing.assert_allclose(plain.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(plain.var(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(to_numpy(x), host[0].astype(dtype))  # input untouched


def test_batchnorm_matches_torch(backend, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    host, (x, gamma, beta) = _bn_inputs(backend, rng, n=8, d=5)
    mean0, var0 = rng.standard_normal(5), rng.uniform(0.5, 2.0, 5)
    param = {"mode": "train", "momentum": 0.8, "eps": 1e-3,
             "running_mean": backend.asarray(mean0), "running_var": backend.asarray(var0)}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    t_mean, t_var = torch.tensor(mean0), torch.tensor(var0)
    t_args = [torch.tensor(a) for a in host]
    expected = F.batch_norm(t_args[0], t_mean, t_var, t_args[1], t_args[2], training=True,
                            momentum=0.2, eps=1e-3)
    assert_close(out, expected.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(param["running_mean"], t_mean.numpy(), rtol=1e-10, atol=1e-12)
    # PyTorch's running_var uses the unbiased variance; the API asks for the biased one.
    biased = host[0].var(axis=0)
    assert_close(param["running_var"], 0.8 * var0 + 0.2 * biased, rtol=1e-10, atol=1e-12)

    param["mode"] = "test"
    out, _ = batchnorm_forward(x, gamma, beta, param)
    expected = F.batch_norm(t_args[0], torch.tensor(to_numpy(param["running_mean"])),
                            torch.tensor(to_numpy(param["running_var"])), t_args[1], t_args[2],
                            training=False, eps=1e-3)
    assert_close(out, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_running_stats_defaults_and_update(backend, rng):
    host, (x, gamma, beta) = _bn_inputs(backend, rng)
    param = {"mode": "train"}
    batchnorm_forward(x, gamma, beta, param)
    mean, var = host[0].mean(axis=0), host[0].var(axis=0)
    # Defaults: momentum 0.9, running mean from zeros, running variance from ONES.
    assert_close(param["running_mean"], 0.1 * mean)
    assert_close(param["running_var"], 0.9 + 0.1 * var)
    first_mean, first_var = param["running_mean"], param["running_var"]
    host2 = rng.standard_normal(host[0].shape)
    batchnorm_forward(backend.asarray(host2), gamma, beta, param)
    assert_close(param["running_mean"], 0.9 * 0.1 * mean + 0.1 * host2.mean(axis=0))
    assert_close(param["running_var"], 0.9 * (0.9 + 0.1 * var) + 0.1 * host2.var(axis=0))
    # The update makes new arrays: references to the old ones keep their values.
    assert_close(first_mean, 0.1 * mean)
    assert_close(first_var, 0.9 + 0.1 * var)


def test_batchnorm_test_mode(backend, rng):
    host, (x, gamma, beta) = _bn_inputs(backend, rng)
    # Without running statistics: mean 0, variance 1, and bn_param gains no keys.
    param = {"mode": "test"}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    assert param == {"mode": "test"}
    assert_close(out, host[0] / np.sqrt(1 + 1e-5) * host[1] + host[2])
    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    param = {"mode": "test", "eps": 1e-2, "running_mean": backend.asarray(mean),
             "running_var": backend.asarray(var)}
    before = dict(param)
    out, _ = batchnorm_forward(x, gamma, beta, param)
    assert_close(out, (host[0] - mean) / np.sqrt(var + 1e-2) * host[1] + host[2])
    assert set(param) == set(before) and all(param[k] is before[k] for k in before)


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_gradcheck(backend, rng, backward):
    _, (x, gamma, beta) = _bn_inputs(backend, rng, n=5, d=3)
    dout = backend.asarray(rng.standard_normal((5, 3)))
    param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, param)
    dx, dgamma, dbeta = backward(dout, cache)
    for grad, arg in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert dtype_name(grad) == "float64"
        _same_backend(grad, arg)
    fx = lambda v: batchnorm_forward(v, gamma, beta, param)[0]  # noqa: E731
    fg = lambda v: batchnorm_forward(x, v, beta, param)[0]  # noqa: E731
    fb = lambda v: batchnorm_forward(x, gamma, v, param)[0]  # noqa: E731
    assert rel_error(dx, _num_grad(fx, x, dout)) < 1e-7
    assert rel_error(dgamma, _num_grad(fg, gamma, dout)) < 1e-9
    assert rel_error(dbeta, _num_grad(fb, beta, dout)) < 1e-9


def test_batchnorm_staged_and_alt_agree(backend, rng):
    for dtype in FLOATS:
        _, (x, gamma, beta) = _bn_inputs(backend, rng, dtype, n=7, d=5)
        dout = backend.asarray(rng.standard_normal((7, 5)), dtype)
        _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
        staged, alt = batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)
        for a, b in zip(staged, alt, strict=True):
            assert dtype_name(a) == dtype_name(b) == np.dtype(dtype).name
            assert_close(a, b, rtol=1e-4 if dtype == np.float32 else 1e-10,
                         atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_test_mode_backward_gradcheck(backend, rng, backward):
    _, (x, gamma, beta) = _bn_inputs(backend, rng, n=4, d=3)
    param = {"mode": "test", "running_mean": backend.asarray(rng.standard_normal(3)),
             "running_var": backend.asarray(rng.uniform(0.5, 2.0, 3))}
    dout = backend.asarray(rng.standard_normal((4, 3)))
    _, cache = batchnorm_forward(x, gamma, beta, param)
    dx, dgamma, dbeta = backward(dout, cache)
    assert rel_error(dx, _num_grad(lambda v: batchnorm_forward(v, gamma, beta, param)[0],
                                   x, dout)) < 1e-9
    assert rel_error(dgamma, _num_grad(lambda v: batchnorm_forward(x, v, beta, param)[0],
                                       gamma, dout)) < 1e-9
    assert rel_error(dbeta, _num_grad(lambda v: batchnorm_forward(x, gamma, v, param)[0],
                                      beta, dout)) < 1e-9


def test_batchnorm_failing_call_keeps_state(backend, rng):
    _, (x, gamma, beta) = _bn_inputs(backend, rng)
    mean, var = backend.asarray(np.zeros(4)), backend.asarray(np.ones(4))
    param = {"mode": "train", "running_mean": mean, "running_var": var}
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma has shape \(3,\), "
                                         r"expected \(4,\)"):
        batchnorm_forward(x, backend.asarray(np.ones(3)), beta, param)
    with pytest.raises(ValueError, match=r"bn_param\['running_var'\] has shape \(5,\), "
                                         r"expected \(4,\)"):
        batchnorm_forward(x, gamma, beta, {**param, "running_var": backend.asarray(np.ones(5))})
    assert set(param) == {"mode", "running_mean", "running_var"}
    assert param["running_mean"] is mean and param["running_var"] is var
    np.testing.assert_array_equal(to_numpy(mean), np.zeros(4))
    np.testing.assert_array_equal(to_numpy(var), np.ones(4))
    fresh = {"mode": "train"}
    with pytest.raises(ValueError, match="beta has shape"):
        batchnorm_forward(x, gamma, backend.asarray(np.ones(2)), fresh)
    assert fresh == {"mode": "train"}


def test_batchnorm_rejects_bad_input(backend, rng):
    _, (x, gamma, beta) = _bn_inputs(backend, rng)
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] is required"):
        batchnorm_forward(x, gamma, beta, {})
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] must be 'train' or 'test', "
                                         r"got 'eval'"):
        batchnorm_forward(x, gamma, beta, {"mode": "eval"})
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\), got shape \(6, 2, 2\)"):
        batchnorm_forward(backend.asarray(np.ones((6, 2, 2))), gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"bn_param\['momentum'\] must lie in \[0.0, 1.0\]"):
        batchnorm_forward(x, gamma, beta, {"mode": "train", "momentum": 1.5})
    with pytest.raises(TypeError, match=r"gamma must hold real numbers .* got dtype \S*complex"):
        batchnorm_forward(x, backend.asarray(np.ones(4), np.complex128), beta, {"mode": "train"})
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        batchnorm_forward(backend.asarray(np.ones((6, 4), dtype=np.int64)), gamma, beta,
                          {"mode": "train"})
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"batchnorm_backward: dout has shape \(6, 3\), "
                                         r"expected \(6, 4\)"):
        batchnorm_backward(backend.asarray(np.ones((6, 3))), cache)


def test_batchnorm_running_stats_on_another_device_are_named():
    strict = pytest.importorskip("array_api_strict")
    device = strict.Device("device1")
    x = strict.ones((3, 2), dtype=strict.float64, device=device)
    ones = strict.ones(2, dtype=strict.float64, device=device)
    param = {"mode": "train", "running_mean": strict.zeros(2, dtype=strict.float64)}
    with pytest.raises(ValueError, match="running_mean is an array_api_strict array on device"):
        batchnorm_forward(x, ones, ones, param)


def test_batchnorm_helper_over_spatial_axes(backend, rng):
    """The private helpers spatial batchnorm builds on: statistics over N, H and W."""
    torch = pytest.importorskip("torch")
    from xplayers.layers.batchnorm import _batchnorm_backward_axes, _batchnorm_forward_axes

    host = rng.standard_normal((3, 2, 2, 3)) * 2.0 + 1.0
    g_host, b_host = rng.standard_normal(2), rng.standard_normal(2)
    x = backend.asarray(host)
    gamma, beta = backend.asarray(g_host.reshape(1, 2, 1, 1)), backend.asarray(
        b_host.reshape(1, 2, 1, 1))
    param = {"mode": "train"}
    out, cache = _batchnorm_forward_axes(backend.xp, "f", x, gamma, beta, param, (0, 2, 3))
    t_mean, t_var = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    expected = torch.nn.functional.batch_norm(
        torch.tensor(host), t_mean, t_var, torch.tensor(g_host), torch.tensor(b_host),
        training=True, momentum=0.1, eps=1e-5)
    assert_close(out, expected.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(param["running_mean"], t_mean.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(param["running_var"], 0.9 + 0.1 * host.var(axis=(0, 2, 3)))

    dout = backend.asarray(rng.standard_normal(host.shape))
    for staged in (False, True):
        dx, dgamma, dbeta = _batchnorm_backward_axes(backend.xp, "f", dout, cache, staged=staged)
        assert tuple(dgamma.shape) == tuple(dbeta.shape) == (1, 2, 1, 1)
        f = lambda v: _batchnorm_forward_axes(  # noqa: E731
            backend.xp, "f", v, gamma, beta, {"mode": "train"}, (0, 2, 3))[0]
        assert rel_error(dx, _num_grad(f, x, dout)) < 1e-7


# ------------------------------------------------------------------------------ layernorm


@pytest.mark.parametrize("dtype", FLOATS)
def test_layernorm_forward_matches_numpy(backend, rng, dtype):
    host, (x, gamma, beta) = _bn_inputs(backend, rng, dtype, n=5, d=6)
    out, _ = layernorm_forward(x, gamma, beta, {"eps": 1e-5})
    expected, _ = layernorm_forward(*(a.astype(dtype) for a in host), {"eps": 1e-5})
    assert dtype_name(out) == np.dtype(dtype).name
    _same_backend(out, x)
    assert_close(out, expected, **{**tolerance(dtype), "atol": 1e-5 if dtype == np.float32
                                   else 1e-12})
    # Rows are normalised independently: one row alone gives the same result.
    alone, _ = layernorm_forward(x[2:3, :], gamma, beta, {})
    assert_close(alone, to_numpy(out)[2:3], **{**tolerance(dtype), "atol": 1e-5})


def test_layernorm_matches_torch(backend, rng):
    torch = pytest.importorskip("torch")
    host, (x, gamma, beta) = _bn_inputs(backend, rng, n=4, d=7)
    out, _ = layernorm_forward(x, gamma, beta, {"eps": 1e-3, "mode": "train"})
    t = [torch.tensor(a) for a in host]
    expected = torch.nn.functional.layer_norm(t[0], (7,), t[1], t[2], eps=1e-3)
    assert_close(out, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_layernorm_backward_gradcheck(backend, rng):
    _, (x, gamma, beta) = _bn_inputs(backend, rng, n=3, d=5)
    dout = backend.asarray(rng.standard_normal((3, 5)))
    param = {}
    _, cache = layernorm_forward(x, gamma, beta, param)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    for grad, arg in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert dtype_name(grad) == "float64"
        _same_backend(grad, arg)
    assert rel_error(dx, _num_grad(lambda v: layernorm_forward(v, gamma, beta, param)[0],
                                   x, dout)) < 1e-7
    assert rel_error(dgamma, _num_grad(lambda v: layernorm_forward(x, v, beta, param)[0],
                                       gamma, dout)) < 1e-9
    assert rel_error(dbeta, _num_grad(lambda v: layernorm_forward(x, gamma, v, param)[0],
                                      beta, dout)) < 1e-9


def test_layernorm_rejects_bad_input(backend, rng):
    _, (x, gamma, beta) = _bn_inputs(backend, rng, n=3, d=4)
    with pytest.raises(ValueError, match=r"layernorm_forward: gamma has shape \(3,\), "
                                         r"expected \(4,\)"):
        layernorm_forward(x, backend.asarray(np.ones(3)), beta, {})
    with pytest.raises(ValueError, match=r"layernorm_forward: x must have shape \(N, D\), "
                                         r"got shape \(4,\)"):
        layernorm_forward(gamma, gamma, beta, {})
    with pytest.raises(ValueError, match=r"ln_param\['eps'\] must be a number >= 0"):
        layernorm_forward(x, gamma, beta, {"eps": -1.0})
    _, cache = layernorm_forward(x, gamma, beta, {})
    with pytest.raises(ValueError, match=r"layernorm_backward: dout has shape \(4, 4\)"):
        layernorm_backward(backend.asarray(np.ones((4, 4))), cache)


# -------------------------------------------------------------------------------- dropout


def test_dropout_test_mode_is_identity(backend, rng):
    x = backend.asarray(rng.standard_normal((3, 4)), np.float32)
    out, cache = dropout_forward(x, {"p": 0.7, "mode": "test"})
    assert cache is None
    np.testing.assert_array_equal(to_numpy(out), to_numpy(x))
    dout = backend.asarray(rng.standard_normal((3, 4)), np.float32)
    np.testing.assert_array_equal(to_numpy(dropout_backward(dout, cache)), to_numpy(dout))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("p", [0.25, 0.6])
def test_dropout_train_statistics(backend, rng, dtype, p):
    host = rng.uniform(1.0, 2.0, (200, 250))
    x = backend.asarray(host, dtype)
    out, mask = dropout_forward(x, {"p": p, "mode": "train"})
    assert dtype_name(out) == dtype_name(mask) == np.dtype(dtype).name
    _same_backend(out, x)
    result = to_numpy(out).astype(np.float64)
    dropped = result == 0
    # 50 000 units: the fraction dropped is p within a few standard deviations (~0.002).
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(result.mean(), host.mean(), rtol=0.02)
    # Kept units are exactly x / (1 - p) (up to rounding in dtype).
    np.testing.assert_allclose(result[~dropped], (host / (1 - p))[~dropped],
                               rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(to_numpy(x), host.astype(dtype))  # input untouched


def test_dropout_p_zero_keeps_everything(backend, rng):
    x = backend.asarray(rng.standard_normal((5, 6)))
    out, _ = dropout_forward(x, {"p": 0.0, "mode": "train"})
    np.testing.assert_array_equal(to_numpy(out), to_numpy(x))


def test_dropout_seed_is_reproducible_and_global_state_untouched(backend, rng):
    host = rng.standard_normal((20, 30))
    x = backend.asarray(host)
    np_state = np.random.get_state()  # noqa: NPY002 (the global state is what we watch)
    torch = pytest.importorskip("torch") if backend.name == "torch" else None
    torch_state = torch.get_rng_state() if torch is not None else None
    first, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 123})
    again, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 123})
    other, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 124})
    unseeded, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    np.testing.assert_array_equal(to_numpy(first), to_numpy(again))
    assert not np.array_equal(to_numpy(first), to_numpy(other))
    assert to_numpy(unseeded).shape == host.shape
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    if torch is not None:
        assert torch.equal(torch.get_rng_state(), torch_state)
    if backend.name != "cupy":  # host backends share one seeded stream: the same mask
        on_numpy, _ = dropout_forward(host, {"p": 0.5, "mode": "train", "seed": 123})
        np.testing.assert_array_equal(to_numpy(first), on_numpy)


def test_dropout_random_stream_moves_on_and_repeats(backend, rng):
    host = rng.standard_normal((20, 30))
    x = backend.asarray(host)
    np_state = np.random.get_state()  # noqa: NPY002 (the global state is what we watch)

    def masks(stream: RandomStream) -> list[np.ndarray]:
        param = {"p": 0.5, "mode": "train", "seed": stream}
        return [to_numpy(dropout_forward(x, param)[1]) for _ in range(3)]

    first, again = masks(RandomStream(9)), masks(RandomStream(9))
    other = masks(RandomStream(10))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)  # the same sequence from the same seed
    assert not np.array_equal(first[0], first[1])  # a new mask at each call
    assert not np.array_equal(first[0], other[0])
    assert set(np.unique(first[0])) == {0.0, 2.0}
    after = np.random.get_state()  # noqa: NPY002
    assert np.array_equal(after[1], np_state[1])
    if backend.name != "cupy":  # host backends share the stream's host generator
        stream = RandomStream(9)
        host_masks = [dropout_forward(host, {"p": 0.5, "mode": "train", "seed": stream})[1]
                      for _ in range(3)]
        for a, b in zip(first, host_masks, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_dropout_rejects_bad_seed(backend, rng, seed):
    x = backend.asarray(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"dropout_param\['seed'\] must be None, a "
                                         r"non-negative int or an xplayers.RandomStream"):
        dropout_forward(x, {"p": 0.5, "mode": "train", "seed": seed})
    with pytest.raises(ValueError, match="RandomStream: seed must be a non-negative integer"):
        RandomStream(seed)


def test_dropout_backward_gradcheck(backend, rng):
    x = backend.asarray(rng.standard_normal((4, 5)))
    dout = backend.asarray(rng.standard_normal((4, 5)))
    param = {"p": 0.4, "mode": "train", "seed": 7}
    _, cache = dropout_forward(x, param)
    dx = dropout_backward(dout, cache)
    assert dtype_name(dx) == "float64"
    assert 0 < np.count_nonzero(to_numpy(cache)) < 20  # some dropped, some kept
    assert rel_error(dx, _num_grad(lambda v: dropout_forward(v, param)[0], x, dout)) < 1e-9


def test_dropout_rejects_bad_params(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3)))
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=rf"dropout_param\['p'\].*\[0, 1\), got p={p}"):
            dropout_forward(x, {"p": p, "mode": "train"})
    with pytest.raises(ValueError, match=r"dropout_param\['p'\] is required"):
        dropout_forward(x, {"mode": "train"})
    with pytest.raises(TypeError, match=r"dropout_param\['p'\] must be a real number"):
        dropout_forward(x, {"p": "0.5", "mode": "train"})
    with pytest.raises(ValueError, match=r"dropout_param\['mode'\] is required"):
        dropout_forward(x, {"p": 0.5})
    with pytest.raises(ValueError, match=r"dropout_param\['mode'\] must be 'train' or 'test', "
                                         r"got 'eval'"):
        dropout_forward(x, {"p": 0.5, "mode": "eval"})
    _, mask = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    with pytest.raises(ValueError, match=r"dropout_backward: dout has shape \(3, 2\)"):
        dropout_backward(backend.asarray(np.ones((3, 2))), mask)
