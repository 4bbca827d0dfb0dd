"""Convolution, max pooling, spatial batch norm and group norm on every backend.

Each test body runs once per backend (``backend`` fixture). Gradients are checked numerically
in float64 on tiny, deliberately awkward shapes; forwards are compared across backends and
dtypes with NumPy, and forwards and gradients with PyTorch where it is installed. The NumPy
and CuPy fast paths are compared with the portable body they stand in for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backends import Backend, assert_close, dtype_name, run_portable

from xplayers import cuda_available
from xplayers.backend.cuda import cuda_status
from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layers import conv as conv_module
from xplayers.layers import (
    conv_backward,
    conv_forward,
    max_pool_backward,
    max_pool_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from xplayers.layers import pooling as pooling_module

GRAD_TOL = 1e-6

# (x shape, w shape, stride, pad): non-square inputs, strides that do not tile, 1x1, 5x5 and
# non-square filters.
CONV_CASES = [
    pytest.param((2, 3, 5, 6), (4, 3, 3, 3), 1, 1, id="3x3-s1-p1"),
    pytest.param((2, 2, 7, 6), (3, 2, 5, 5), 2, 2, id="5x5-s2-p2"),
    pytest.param((1, 3, 7, 8), (2, 3, 1, 1), 3, 0, id="1x1-s3-p0"),
    pytest.param((2, 2, 6, 5), (2, 2, 3, 2), 2, 0, id="3x2-s2-p0"),
]

# (x shape, pool_height, pool_width, stride): overlapping, non-tiling and non-square windows.
POOL_CASES = [
    pytest.param((2, 2, 7, 7), 3, 3, 2, id="3x3-s2-overlap"),
    pytest.param((2, 3, 5, 7), 2, 2, 2, id="2x2-s2-odd"),
    pytest.param((1, 2, 4, 5), 2, 3, 1, id="2x3-s1-overlap"),
    pytest.param((2, 1, 6, 6), 1, 1, 3, id="1x1-s3"),
]


def _draw(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    return [rng.standard_normal(shape) for shape in shapes]


def _grad_ok(analytic: Any, numeric: Any, what: str) -> None:
    err = rel_error(analytic, numeric)
    assert err < GRAD_TOL, f"{what}: relative error {err:.2e}"


# --------------------------------------------------------------------------------------------
# Convolution


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_gradients(backend: Backend, rng, x_shape, w_shape, stride, pad) -> None:
    hx, hw, hb = _draw(rng, x_shape, w_shape, (w_shape[0],))
    x, w, b = backend.asarray(hx), backend.asarray(hw), backend.asarray(hb)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward(x, w, b, conv_param)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    dx, dw, db = conv_backward(dout, cache)

    _grad_ok(dx, eval_numerical_gradient_array(
        lambda v: conv_forward(v, w, b, conv_param)[0], x, dout), "dx")
    _grad_ok(dw, eval_numerical_gradient_array(
        lambda v: conv_forward(x, v, b, conv_param)[0], w, dout), "dw")
    _grad_ok(db, eval_numerical_gradient_array(
        lambda v: conv_forward(x, w, v, conv_param)[0], b, dout), "db")

    no_dx, dw2, db2 = conv_backward(dout, cache, compute_dx=False)
    assert no_dx is None
    assert_close(dw2, dw)
    assert_close(db2, db)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_matches_numpy(backend: Backend, rng, dtype, x_shape, w_shape, stride, pad) -> None:
    hx, hw, hb = _draw(rng, x_shape, w_shape, (w_shape[0],))
    conv_param = {"stride": stride, "pad": pad}
    ref_out, ref_cache = conv_forward(*(a.astype(dtype) for a in (hx, hw, hb)), conv_param)
    hd = rng.standard_normal(ref_out.shape).astype(dtype)
    ref_grads = conv_backward(hd, ref_cache)

    args = [backend.asarray(a, dtype) for a in (hx, hw, hb)]
    out, cache = conv_forward(*args, conv_param)
    grads = conv_backward(backend.asarray(hd), cache)
    for got, want in zip((out, *grads), (ref_out, *ref_grads), strict=True):
        assert dtype_name(got) == np.dtype(dtype).name
        # Sums taken in other orders: compare relative to the largest entry.
        scale = float(np.max(np.abs(want)))
        assert_close(got, want, rtol=1e-5 if dtype == np.float32 else 1e-10,
                     atol=(1e-6 if dtype == np.float32 else 1e-13) * scale)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_matches_torch(backend: Backend, rng, x_shape, w_shape, stride, pad) -> None:
    torch = pytest.importorskip("torch")
    hx, hw, hb = _draw(rng, x_shape, w_shape, (w_shape[0],))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (hx, hw, hb))
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
    hd = rng.standard_normal(tuple(tout.shape))
    tout.backward(torch.tensor(hd))

    out, cache = conv_forward(*(backend.asarray(a) for a in (hx, hw, hb)),
                              {"stride": stride, "pad": pad})
    dx, dw, db = conv_backward(backend.asarray(hd), cache)
    assert_close(out, tout.detach().numpy())
    assert_close(dx, tx.grad.numpy())
    assert_close(dw, tw.grad.numpy())
    assert_close(db, tb.grad.numpy())


@pytest.mark.parametrize("block", [None, 1, 2], ids=["one-block", "1-per-block", "2-per-block"])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_numpy_fast_path_matches_portable(
    rng, monkeypatch, block, x_shape, w_shape, stride, pad
) -> None:
    if block is not None:  # force blocks of 1 or 2 examples (and a shorter last block)
        monkeypatch.setattr(conv_module, "_numpy_block", lambda g, itemsize: min(g.n, block))
        x_shape = (3, *x_shape[1:])
    for dtype in (np.float32, np.float64):
        hx, hw, hb = (a.astype(dtype) for a in _draw(rng, x_shape, w_shape, (w_shape[0],)))
        conv_param = {"stride": stride, "pad": pad}
        fast, fast_cache = conv_module.conv_forward(hx, hw, hb, conv_param)
        slow, slow_cache = run_portable(conv_module.conv_forward, hx, hw, hb, conv_param)
        assert fast_cache.path == "numpy" and slow_cache.path == "portable"
        assert fast_cache.saved[1] == (block or x_shape[0])
        assert fast.dtype == dtype
        assert_close(fast, slow)
        hd = rng.standard_normal(fast.shape).astype(dtype)
        for compute_dx in (True, False):
            fast_grads = conv_backward(hd, fast_cache, compute_dx=compute_dx)
            slow_grads = conv_backward(hd, slow_cache, compute_dx=compute_dx)
            for got, want in zip(fast_grads, slow_grads, strict=True):
                if want is None:  # dx with compute_dx=False
                    assert got is None
                    continue
                assert got.dtype == dtype
                assert_close(got, want, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_conv_inputs_untouched_and_defaults(backend: Backend, rng) -> None:
    hx, hw, hb = _draw(rng, (2, 3, 4, 5), (2, 3, 2, 2), (2,))
    x, w, b = backend.asarray(hx), backend.asarray(hw), backend.asarray(hb)
    out, cache = conv_forward(x, w, b, {})  # stride 1, pad 0
    assert tuple(out.shape) == (2, 2, 3, 4)
    conv_backward(backend.asarray(np.ones((2, 2, 3, 4))), cache)
    for arr, host in ((x, hx), (w, hw), (b, hb)):
        np.testing.assert_array_equal(backend.to_numpy(arr), host)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "b_shape", "conv_param", "match"),
    [
        ((2, 3, 4, 4), (2, 3, 5, 5), (2,), {"pad": 0},
         r"5x5 filter .* larger than the padded input 4x4 .*\(2, 3, 4, 4\)"),
        ((2, 3, 4, 4), (2, 4, 3, 3), (2,), {}, r"w has 4 input channels but x has 3"),
        ((2, 3, 4, 4), (2, 3, 3, 3), (2,), {"stride": 0}, r"conv_param\['stride'\] .* positive"),
        ((2, 3, 4, 4), (2, 3, 3, 3), (2,), {"pad": -1}, r"conv_param\['pad'\] .* non-negative"),
        ((2, 3, 4, 4), (2, 3, 3, 3), (2,), {"stride": 1.5}, r"conv_param\['stride'\] .* integer"),
        ((2, 3, 4, 4), (2, 3, 3, 3), (3,), {}, r"b has shape \(3,\), expected \(2,\)"),
        ((3, 4, 4), (2, 3, 3, 3), (2,), {}, r"x must have shape \(N, C, H, W\), got shape"),
        ((2, 3, 4, 4), (2, 3, 3), (2,), {}, r"w must have shape \(F, C, HH, WW\)"),
    ],
)
def test_conv_bad_geometry(backend: Backend, x_shape, w_shape, b_shape, conv_param, match) -> None:
    x, w, b = (backend.asarray(np.zeros(s)) for s in (x_shape, w_shape, b_shape))
    with pytest.raises(ValueError, match=match):
        conv_forward(x, w, b, conv_param)


def test_conv_backward_checks_dout(backend: Backend) -> None:
    x, w, b = (backend.asarray(np.zeros(s)) for s in ((1, 1, 4, 4), (1, 1, 3, 3), (1,)))
    _, cache = conv_forward(x, w, b, {"pad": 1})
    with pytest.raises(ValueError, match=r"dout has shape \(1, 1, 2, 2\), expected \(1, 1, 4, 4\)"):
        conv_backward(backend.asarray(np.zeros((1, 1, 2, 2))), cache)


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason=f"no usable GPU: {cuda_status()[1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_cupy_fast_path_matches_portable(rng, dtype, x_shape, w_shape, stride, pad) -> None:
    import cupy

    hx, hw, hb = (a.astype(dtype) for a in _draw(rng, x_shape, w_shape, (w_shape[0],)))
    x, w, b = (cupy.asarray(a) for a in (hx, hw, hb))
    conv_param = {"stride": stride, "pad": pad}
    fast, fast_cache = conv_module.conv_forward(x, w, b, conv_param)
    slow, slow_cache = run_portable(conv_module.conv_forward, x, w, b, conv_param)
    assert fast_cache.path == "cupy" and isinstance(fast, cupy.ndarray)
    assert fast.dtype == dtype
    assert_close(fast, slow)
    hd = cupy.asarray(rng.standard_normal(fast.shape).astype(dtype))
    fast_grads = conv_backward(hd, fast_cache)
    for got, want in zip(fast_grads, conv_backward(hd, slow_cache), strict=True):
        assert got.dtype == dtype
        assert_close(got, want, atol=1e-5 if dtype == np.float32 else 1e-12)
    assert conv_backward(hd, fast_cache, compute_dx=False)[0] is None


# --------------------------------------------------------------------------------------------
# Max pooling


@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_max_pool_gradients(backend: Backend, rng, x_shape, ph, pw, stride) -> None:
    x = backend.asarray(rng.standard_normal(x_shape))
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward(x, pool_param)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    dx = max_pool_backward(dout, cache)
    _grad_ok(dx, eval_numerical_gradient_array(
        lambda v: max_pool_forward(v, pool_param)[0], x, dout), "dx")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_max_pool_matches_torch(backend: Backend, rng, dtype, x_shape, ph, pw, stride) -> None:
    torch = pytest.importorskip("torch")
    # Few distinct values: many ties, which must go to the first maximum as in PyTorch.
    hx = rng.integers(0, 3, size=x_shape).astype(dtype)
    tx = torch.tensor(hx, requires_grad=True)
    tout = torch.nn.functional.max_pool2d(tx, (ph, pw), stride=stride)
    hd = rng.standard_normal(tuple(tout.shape)).astype(dtype)
    tout.backward(torch.tensor(hd))

    out, cache = max_pool_forward(backend.asarray(hx), {"pool_height": ph, "pool_width": pw,
                                                        "stride": stride})
    dx = max_pool_backward(backend.asarray(hd), cache)
    assert dtype_name(out) == dtype_name(dx) == np.dtype(dtype).name
    assert_close(out, tout.detach().numpy())
    assert_close(dx, tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_max_pool_numpy_fast_path_matches_portable(rng, dtype, x_shape, ph, pw, stride) -> None:
    hx = rng.integers(0, 4, size=x_shape).astype(dtype)  # ties included
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    fast, fast_cache = pooling_module.max_pool_forward(hx, pool_param)
    slow, slow_cache = run_portable(pooling_module.max_pool_forward, hx, pool_param)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast_cache.argmax, slow_cache.argmax)
    assert fast.dtype == dtype and not np.shares_memory(fast, hx)

    # Bit-exact routing, special values included.
    hd = rng.standard_normal(fast.shape).astype(dtype)
    hd.flat[:3] = [np.inf, -0.0, np.nan][: hd.size]
    dx_fast = pooling_module.max_pool_backward(hd, fast_cache)
    dx_slow = run_portable(pooling_module.max_pool_backward, hd, fast_cache)
    assert dx_fast.dtype == dtype
    np.testing.assert_array_equal(dx_fast, dx_slow)
    np.testing.assert_array_equal(np.signbit(dx_fast), np.signbit(dx_slow))


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason=f"no usable GPU: {cuda_status()[1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_max_pool_cupy_fast_path_matches_portable(rng, dtype, x_shape, ph, pw, stride) -> None:
    import cupy

    hx = rng.integers(0, 4, size=x_shape).astype(dtype)  # ties included
    hx.flat[1] = np.nan
    x = cupy.asarray(hx)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    fast, fast_cache = pooling_module.max_pool_forward(x, pool_param)
    slow, slow_cache = run_portable(pooling_module.max_pool_forward, x, pool_param)
    assert isinstance(fast, cupy.ndarray) and fast.dtype == dtype
    np.testing.assert_array_equal(cupy.asnumpy(fast), cupy.asnumpy(slow))
    np.testing.assert_array_equal(cupy.asnumpy(fast_cache.argmax), cupy.asnumpy(slow_cache.argmax))
    hd = cupy.asarray(rng.standard_normal(fast.shape).astype(dtype))
    dx_fast = pooling_module.max_pool_backward(hd, fast_cache)
    dx_slow = run_portable(pooling_module.max_pool_backward, hd, fast_cache)
    assert dx_fast.dtype == dtype
    assert_close(dx_fast, dx_slow)


@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_max_pool_numpy_follows_the_input_layout(rng, x_shape, ph, pw, stride) -> None:
    """A transposed input (as a conv's output is) gives the same results, and dx comes back
    laid out like it, so that every pass walks memory in order."""
    n, c, h, w = x_shape
    x = rng.standard_normal((c, n, h, w)).transpose(1, 0, 2, 3)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward(x, pool_param)
    ref, ref_cache = max_pool_forward(np.ascontiguousarray(x), pool_param)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    np.testing.assert_array_equal(dx, max_pool_backward(dout, ref_cache))
    if n > 1 and c > 1:  # (with one example or channel both orders are the same memory)
        assert dx.strides[1] > dx.strides[0]  # channels outermost in memory, like x


def test_max_pool_tie_goes_to_first(backend: Backend) -> None:
    x = backend.asarray(np.ones((1, 1, 2, 2)))
    _, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward(backend.asarray(np.full((1, 1, 1, 1), 5.0)), cache)
    np.testing.assert_array_equal(backend.to_numpy(dx)[0, 0], [[5.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("x_shape", "pool_param", "match"),
    [
        ((1, 1, 2, 3), {"pool_height": 3, "pool_width": 2, "stride": 1},
         r"3x2 pooling window is larger than the 2x3 input"),
        ((1, 1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 0},
         r"pool_param\['stride'\] must be a positive integer"),
        ((1, 1, 4, 4), {"pool_height": 2, "stride": 2}, r"pool_param\['pool_width'\] is required"),
        ((1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2}, r"x must have shape"),
    ],
)
def test_max_pool_bad_geometry(backend: Backend, x_shape, pool_param, match) -> None:
    with pytest.raises(ValueError, match=match):
        max_pool_forward(backend.asarray(np.zeros(x_shape)), pool_param)


# --------------------------------------------------------------------------------------------
# Spatial batch normalisation


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("param_shape", ["C", "1C11"])
def test_spatial_batchnorm_gradients(backend: Backend, rng, mode, param_shape) -> None:
    n, c, h, w = 3, 2, 3, 4
    shape = (c,) if param_shape == "C" else (1, c, 1, 1)
    hx = 2.0 + 3.0 * rng.standard_normal((n, c, h, w))
    x = backend.asarray(hx)
    gamma = backend.asarray(rng.standard_normal(shape))
    beta = backend.asarray(rng.standard_normal(shape))
    stats = {"running_mean": backend.asarray(rng.standard_normal(c)),
             "running_var": backend.asarray(rng.uniform(0.5, 2.0, c))}

    def fwd(x_, g_, b_):
        return spatial_batchnorm_forward(x_, g_, b_, {"mode": mode, **stats})

    _, cache = fwd(x, gamma, beta)
    dout = backend.asarray(rng.standard_normal((n, c, h, w)))
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert tuple(dgamma.shape) == tuple(dbeta.shape) == shape
    _grad_ok(dx, eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta)[0], x, dout), "dx")
    _grad_ok(dgamma, eval_numerical_gradient_array(
        lambda v: fwd(x, v, beta)[0], gamma, dout), "dgamma")
    _grad_ok(dbeta, eval_numerical_gradient_array(
        lambda v: fwd(x, gamma, v)[0], beta, dout), "dbeta")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spatial_batchnorm_matches_torch(backend: Backend, rng, dtype) -> None:
    torch = pytest.importorskip("torch")
    n, c, h, w = 4, 3, 5, 3
    hx = (1.0 + 2.0 * rng.standard_normal((n, c, h, w))).astype(dtype)
    hg, hb = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    hd = rng.standard_normal((n, c, h, w)).astype(dtype)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (hx, hg, hb))
    t_mean, t_var = torch.zeros(c, dtype=tx.dtype), torch.ones(c, dtype=tx.dtype)
    tout = torch.nn.functional.batch_norm(tx, t_mean, t_var, tg, tb, training=True,
                                          momentum=0.1, eps=1e-5)
    tout.backward(torch.tensor(hd))

    bn_param = {"mode": "train"}
    out, cache = spatial_batchnorm_forward(backend.asarray(hx), backend.asarray(hg),
                                           backend.asarray(hb), bn_param)
    dx, dgamma, dbeta = spatial_batchnorm_backward(backend.asarray(hd), cache)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    assert dtype_name(out) == dtype_name(dx) == np.dtype(dtype).name
    assert_close(out, tout.detach().numpy(), **tol)
    assert_close(dx, tx.grad.numpy(), **tol)
    assert_close(dgamma, tg.grad.numpy(), **tol)
    assert_close(dbeta, tb.grad.numpy(), **tol)
    # Running statistics: momentum 0.9 here is PyTorch's 0.1; the variance is the biased one.
    assert_close(bn_param["running_mean"], t_mean.numpy(), **tol)
    assert_close(bn_param["running_var"], 0.9 + 0.1 * hx.var(axis=(0, 2, 3)), **tol)
    assert dtype_name(bn_param["running_var"]) == np.dtype(dtype).name

    test_out, _ = spatial_batchnorm_forward(backend.asarray(hx), backend.asarray(hg),
                                            backend.asarray(hb), {**bn_param, "mode": "test"})
    t_test = torch.nn.functional.batch_norm(
        torch.tensor(hx), torch.tensor(backend.to_numpy(bn_param["running_mean"])),
        torch.tensor(backend.to_numpy(bn_param["running_var"])), torch.tensor(hg),
        torch.tensor(hb), training=False, eps=1e-5)
    assert_close(test_out, t_test.numpy(), **tol)


def test_spatial_batchnorm_running_stats(backend: Backend, rng) -> None:
    hx = rng.standard_normal((4, 2, 3, 3))
    ones, zeros = backend.asarray(np.ones(2)), backend.asarray(np.zeros(2))
    bn_param = {"mode": "train", "momentum": 0.5}
    for _ in range(2):
        spatial_batchnorm_forward(backend.asarray(hx), ones, zeros, bn_param)
    mean, var = hx.mean(axis=(0, 2, 3)), hx.var(axis=(0, 2, 3))
    assert_close(bn_param["running_mean"], 0.75 * mean)
    assert_close(bn_param["running_var"], 0.25 + 0.75 * var)

    # A failed call leaves bn_param alone.
    before = dict(bn_param)
    with pytest.raises(ValueError, match=r"gamma has shape \(3,\), expected \(1, 2, 1, 1\) or"):
        spatial_batchnorm_forward(backend.asarray(hx), backend.asarray(np.ones(3)), zeros,
                                  bn_param)
    assert bn_param == before
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] is required"):
        spatial_batchnorm_forward(backend.asarray(hx), ones, zeros, {})
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] must be 'train' or 'test'"):
        spatial_batchnorm_forward(backend.asarray(hx), ones, zeros, {"mode": "eval"})


# --------------------------------------------------------------------------------------------
# Spatial group normalisation


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_spatial_groupnorm_gradients(backend: Backend, rng, groups) -> None:
    n, c, h, w = 2, 4, 3, 2
    x = backend.asarray(1.0 + 2.0 * rng.standard_normal((n, c, h, w)))
    gamma = backend.asarray(rng.standard_normal((1, c, 1, 1)))
    beta = backend.asarray(rng.standard_normal((1, c, 1, 1)))

    def fwd(x_, g_, b_):
        return spatial_groupnorm_forward(x_, g_, b_, groups, {"eps": 1e-5})

    _, cache = fwd(x, gamma, beta)
    dout = backend.asarray(rng.standard_normal((n, c, h, w)))
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    assert tuple(dgamma.shape) == tuple(dbeta.shape) == (1, c, 1, 1)
    _grad_ok(dx, eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta)[0], x, dout), "dx")
    _grad_ok(dgamma, eval_numerical_gradient_array(
        lambda v: fwd(x, v, beta)[0], gamma, dout), "dgamma")
    _grad_ok(dbeta, eval_numerical_gradient_array(
        lambda v: fwd(x, gamma, v)[0], beta, dout), "dbeta")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups", [1, 3, 6])
def test_spatial_groupnorm_matches_torch(backend: Backend, rng, dtype, groups) -> None:
    torch = pytest.importorskip("torch")
    n, c, h, w = 2, 6, 4, 3
    hx = (0.5 + 2.0 * rng.standard_normal((n, c, h, w))).astype(dtype)
    hg, hb = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    hd = rng.standard_normal((n, c, h, w)).astype(dtype)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (hx, hg, hb))
    tout = torch.nn.functional.group_norm(tx, groups, tg, tb, eps=1e-5)
    tout.backward(torch.tensor(hd))

    out, cache = spatial_groupnorm_forward(
        backend.asarray(hx), backend.asarray(hg.reshape(1, c, 1, 1)),
        backend.asarray(hb.reshape(1, c, 1, 1)), groups, {})
    dx, dgamma, dbeta = spatial_groupnorm_backward(backend.asarray(hd), cache)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    assert dtype_name(out) == dtype_name(dx) == np.dtype(dtype).name
    assert_close(out, tout.detach().numpy(), **tol)
    assert_close(dx, tx.grad.numpy(), **tol)
    assert_close(dgamma, tg.grad.numpy().reshape(1, c, 1, 1), **tol)
    assert_close(dbeta, tb.grad.numpy().reshape(1, c, 1, 1), **tol)


@pytest.mark.parametrize(
    ("groups", "gamma_shape", "match"),
    [
        (3, (1, 4, 1, 1), r"G = 3 groups must be a positive divisor of the C = 4 channels"),
        (0, (1, 4, 1, 1), r"G = 0 groups must be a positive divisor"),
        (2, (1, 2, 1, 1), r"gamma has shape \(1, 2, 1, 1\), expected \(1, 4, 1, 1\)"),
        (2, (4, 1), r"gamma has shape \(4, 1\), expected \(1, 4, 1, 1\)"),
    ],
)
def test_spatial_groupnorm_bad_arguments(backend: Backend, groups, gamma_shape, match) -> None:
    x = backend.asarray(np.ones((2, 4, 3, 3)))
    gamma = backend.asarray(np.ones(gamma_shape))
    beta = backend.asarray(np.zeros(gamma_shape))
    with pytest.raises(ValueError, match=match):
        spatial_groupnorm_forward(x, gamma, beta, groups, {})


# --------------------------------------------------------------------------------------------
# Every layer against NumPy on identical inputs, both float dtypes (no PyTorch needed)


def _pool_pass(x, dout):
    out, cache = max_pool_forward(x, {"pool_height": 3, "pool_width": 2, "stride": 2})
    return out, max_pool_backward(dout, cache)


def _bn_pass(x, dout, gamma, beta):
    out, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return (out, *spatial_batchnorm_backward(dout, cache))


def _gn_pass(x, dout, gamma, beta):
    out, cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    return (out, *spatial_groupnorm_backward(dout, cache))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", ["pool", "batchnorm", "groupnorm"])
def test_layers_match_numpy(backend: Backend, rng, dtype, layer) -> None:
    x_shape, out_shape = (3, 4, 7, 6), {"pool": (3, 4, 3, 3)}.get(layer, (3, 4, 7, 6))
    host = [rng.standard_normal(x_shape).astype(dtype),
            rng.standard_normal(out_shape).astype(dtype)]
    if layer != "pool":
        shape = (4,) if layer == "batchnorm" else (1, 4, 1, 1)
        host += [rng.standard_normal(shape).astype(dtype) for _ in range(2)]
    run = {"pool": _pool_pass, "batchnorm": _bn_pass, "groupnorm": _gn_pass}[layer]
    want = run(*host)
    got = run(*(backend.asarray(h) for h in host))
    for g, w in zip(got, want, strict=True):
        assert dtype_name(g) == np.dtype(dtype).name
        scale = float(np.max(np.abs(w)))
        assert_close(g, w, rtol=1e-5 if dtype == np.float32 else 1e-10,
                     atol=(1e-6 if dtype == np.float32 else 1e-13) * scale)


def test_spatial_batchnorm_checks_bn_param_like_batchnorm(backend, rng):
    from xplayers.layers import spatial_batchnorm_forward

    x = backend.asarray(rng.standard_normal((2, 3, 4, 4)), np.float32)
    gamma = backend.asarray(np.ones(3), np.float32)
    beta = backend.asarray(np.zeros(3), np.float32)
    with pytest.raises(ValueError, match=r"bn_param\['momentum'\] must lie in \[0.0, 1.0\]"):
        spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "momentum": 7})
    stats64 = {"mode": "test", "running_mean": backend.asarray(np.zeros(3)),
               "running_var": backend.asarray(np.ones(3))}
    out64, _ = spatial_batchnorm_forward(x, gamma, beta, stats64)  # promoted, as NumPy does
    assert dtype_name(out64) == "float64"
    test_param = {"mode": "test"}
    spatial_batchnorm_forward(x, gamma, beta, test_param)
    assert test_param == {"mode": "test"}  # test mode writes nothing back
