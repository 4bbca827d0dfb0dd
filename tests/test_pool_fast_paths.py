"""Max pool's NumPy and numba fast paths on windows that tile the input, against the portable
body bit for bit: first maximum in row-major window order, signed zeros, first NaN and its
payload, and the gradient on that element."""

from __future__ import annotations

import numpy as np
import pytest
from backends import run_portable
from test_kernels_emulated import special_values

import xplayers
from xplayers import gradcheck
from xplayers.layers import pooling
from xplayers.layers._geometry import pool_geometry

# (x shape, window = stride): exact tilings, leftover rows/columns, 1x1, a 17x17 window
# (more than 256 offsets: int32 winners).
TILED = [
    ((3, 4, 8, 8), 2),
    ((2, 3, 7, 9), 2),
    ((2, 2, 9, 10), 3),
    ((1, 2, 5, 5), 1),
    ((1, 1, 34, 35), 17),
    ((4, 2, 6, 6), 6),
]
DTYPES = [np.float16, np.float32, np.float64]


def engines():
    params = [pytest.param(False, id="numpy")]
    try:
        import numba  # noqa: F401
    except ImportError:
        params.append(pytest.param(True, id="numba", marks=pytest.mark.skip("numba missing")))
    else:
        params.append(pytest.param(True, id="numba"))
    return params


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.itemsize}")


def layouts(x):
    """x as given and laid out channels-first in memory (as a conv's output is)."""
    yield x
    yield np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


@pytest.mark.parametrize("numba", engines())
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape, size", TILED, ids=str)
def test_tiled_paths_equal_the_portable_body_bit_for_bit(rng, numba, dtype, shape, size):
    pool_param = {"pool_height": size, "pool_width": size, "stride": size}
    for x in layouts(special_values(rng, shape, dtype)):
        g = pool_geometry("test", x, pool_param)
        with xplayers.fast_paths(numba=numba):
            name, (out, argmax) = pooling._max_pool_forward.run(np, x, g)
            out_via_api, cache = pooling.max_pool_forward(x, pool_param)
            dout = special_values(rng, g.out_shape, dtype)
            dx = pooling.max_pool_backward(dout, cache)
            backward_name, _ = pooling._max_pool_backward.run(np, dout, cache.argmax, g)
        expected_engine = "numba" if numba and dtype != np.float16 and size == 2 else "numpy"
        assert (name, backward_name) == (expected_engine, expected_engine)
        ref, ref_cache = run_portable(pooling.max_pool_forward, x, pool_param)
        ref_dx = run_portable(pooling.max_pool_backward, dout, ref_cache)
        assert out.dtype == dx.dtype == dtype
        np.testing.assert_array_equal(bits(out), bits(ref))
        np.testing.assert_array_equal(bits(out_via_api), bits(ref))
        np.testing.assert_array_equal(argmax, ref_cache.argmax)
        assert argmax.dtype == ref_cache.argmax.dtype
        np.testing.assert_array_equal(bits(dx), bits(ref_dx))
        assert not np.shares_memory(out, x)


@pytest.mark.parametrize("numba", engines())
def test_zero_and_nan_windows_keep_the_first_elements_bits(numba):
    # Windows (2x2): [-0, +0, +0, -0] -> -0 at 0; [+0, -0, ...] -> +0 at 0;
    # [1, nan(payload), -nan, 2] -> the payload NaN at 1; [-1, -0, +0, -2] -> -0 at 1.
    payload = np.array([0x7FC00123], np.uint32).view(np.float32)[0]
    windows = np.array([[-0.0, 0.0, 0.0, -0.0], [0.0, -0.0, -0.0, 0.0],
                        [1.0, payload, -np.nan, 2.0], [-1.0, -0.0, 0.0, -2.0]], np.float32)
    x = windows.reshape(1, 4, 2, 2)
    with xplayers.fast_paths(numba=numba):
        out, cache = pooling.max_pool_forward(x, {"pool_height": 2, "pool_width": 2,
                                                  "stride": 2})
    assert cache.argmax.ravel().tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(bits(out.ravel()), bits(windows[[0, 1, 2, 3], [0, 0, 1, 1]]))


@pytest.mark.parametrize("numba", engines())
def test_tiled_gradients(rng, numba):
    x = rng.standard_normal((2, 3, 6, 7))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    with xplayers.fast_paths(numba=numba):
        out, cache = pooling.max_pool_forward(x, pool_param)
        dout = rng.standard_normal(out.shape)
        dx = pooling.max_pool_backward(dout, cache)
        numeric = gradcheck.eval_numerical_gradient_array(
            lambda v: pooling.max_pool_forward(v, pool_param)[0], x, dout)
    np.testing.assert_allclose(dx, numeric, rtol=1e-7, atol=1e-9)
