"""The CUDA kernels of xplayers/kernels/*.cu, compiled for the CPU, against the NumPy path.

The same source CuPy compiles on a GPU is built with the system C++ compiler and
tests/cuda_emulation.h (a sequential launch over the grid), called through ctypes on NumPy
buffers, and compared BIT FOR BIT with the NumPy path: values, signs of zeros, NaN payloads,
winner indices. Each case runs with the package's launch shape and with a tiny grid that makes
every thread loop (grid-stride), in the 32- and the 64-bit index instantiation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backends import run_portable

from xplayers.kernels import conv_scalars, instantiation, name_expressions, pool_scalars
from xplayers.layers import conv as conv_module
from xplayers.layers import pooling as pooling_module
from xplayers.layers._geometry import conv_geometry, pool_geometry

DTYPES = [np.float16, np.float32, np.float64]
INDEX_TYPES = [np.int32, np.int64]
# (grid, block): None = the package's launch shape; (2, 3) = 6 threads looping over everything.
LAUNCHES = [None, (2, 3)]

# (N, C, H, W, F, KH, KW, stride, pad): pads 0-3, strides 1-4, stride > kernel, windows that
# do not tile, 1x1 images, big windows.
CONV_CASES = [
    (2, 3, 7, 7, 2, 3, 3, 1, 1),
    (2, 3, 8, 8, 2, 3, 3, 2, 1),
    (1, 2, 9, 9, 1, 3, 3, 3, 0),
    (2, 2, 9, 7, 1, 2, 3, 4, 3),
    (1, 1, 1, 1, 1, 1, 1, 1, 0),
    (1, 2, 1, 1, 1, 3, 3, 1, 1),
    (2, 1, 5, 5, 1, 5, 5, 1, 2),
    (1, 2, 8, 8, 1, 3, 3, 2, 0),
    (2, 2, 10, 9, 1, 4, 2, 3, 2),
    (1, 1, 12, 12, 1, 7, 7, 1, 3),
    (1, 2, 4, 4, 1, 1, 1, 4, 0),
    (1, 1, 6, 11, 1, 2, 5, 2, 3),
]
# (N, C, H, W, PH, PW, stride)
POOL_CASES = [
    (2, 3, 8, 8, 2, 2, 2),
    (2, 2, 7, 7, 3, 3, 2),
    (1, 2, 9, 9, 3, 3, 1),
    (2, 2, 9, 8, 2, 3, 3),
    (1, 1, 1, 1, 1, 1, 1),
    (1, 2, 10, 10, 2, 2, 4),
    (1, 1, 7, 6, 3, 2, 4),
    (1, 2, 18, 18, 17, 17, 1),  # 289 offsets: int32 winners
    (1, 1, 5, 5, 5, 5, 1),
    (2, 2, 11, 11, 3, 3, 3),
    (1, 1, 6, 9, 1, 1, 2),
]

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_PAYLOAD_NAN = {2: 0x7E01, 4: 0x7FC00123, 8: 0x7FF8000000000123}


def special_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Few distinct values (many ties), signed zeros, +-inf and NaNs (one with a payload)."""
    values = rng.integers(-2, 3, size=shape).astype(dtype)
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, -0.0, 0.0], dtype=dtype)
    flat = values.reshape(-1)
    picks = rng.random(flat.size) < 0.15
    flat[picks] = rng.choice(specials, size=int(picks.sum()))
    if flat.size > 3:
        flat.view(_BITS[flat.itemsize])[rng.integers(flat.size)] = _PAYLOAD_NAN[flat.itemsize]
    zeros = flat == 0
    flat[zeros] = np.where(rng.random(int(zeros.sum())) < 0.5, -0.0, 0.0).astype(dtype)
    return values


def assert_bits_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    expected = np.ascontiguousarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    bits = _BITS[actual.itemsize] if actual.dtype.kind == "f" else actual.dtype
    np.testing.assert_array_equal(actual.view(bits), expected.view(bits))


def _run(emulated, name, arrays, scalars, launch) -> None:
    grid, block = launch or (None, 256)
    emulated(name, arrays, scalars, grid=grid, block=block)


def test_every_instantiation_is_built(emulated) -> None:
    names = name_expressions()
    assert len(names) == len(set(names)) == 36
    assert "xplayers_max_pool_backward<__half, long long, unsigned char>" in names


@pytest.mark.parametrize("launch", LAUNCHES, ids=["package-grid", "tiny-grid"])
@pytest.mark.parametrize("index", INDEX_TYPES, ids=["int32", "int64"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_im2col_col2im_match_numpy(emulated, case, dtype, index, launch) -> None:
    n, c, h, w, f, kh, kw, stride, pad = case
    rng = np.random.default_rng(sum(case))
    x = special_values(rng, (n, c, h, w), dtype)
    weights = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    bias = np.zeros(f, dtype=dtype)
    g = conv_geometry("test", x, weights, bias, {"stride": stride, "pad": pad})

    _, expected_cols = conv_module.conv_forward_portable(np, x, weights, bias, g)
    cols = np.empty((c * kh * kw, n * g.ho * g.wo), dtype=dtype)
    _run(emulated, instantiation("xplayers_im2col", dtype, index), [x, cols],
         conv_scalars(g, cols.size, index), launch)
    assert_bits_equal(cols, expected_cols)

    dcols = special_values(rng, cols.shape, dtype)
    dx = np.empty(g.x_shape, dtype=dtype)
    _run(emulated, instantiation("xplayers_col2im", dtype, index), [dcols, dx],
         conv_scalars(g, dx.size, index), launch)
    assert_bits_equal(dx, _portable_col2im(dcols, g))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_col2im_gives_the_portable_backward_dx(emulated, case, dtype) -> None:
    """End to end: the portable conv backward's dx from the kernel's col2im of its dcols."""
    n, c, h, w, f, kh, kw, stride, pad = case
    rng = np.random.default_rng(1 + sum(case))
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weights = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    params = {"stride": stride, "pad": pad}
    out, cache = run_portable(conv_module.conv_forward, x, weights, bias, params)
    dout = rng.standard_normal(out.shape).astype(dtype)
    g = cache.geometry
    expected_dx, _, _ = conv_module.conv_backward_portable(np, dout, cache.saved, weights, g, True)

    dout2 = np.reshape(np.permute_dims(dout, (1, 0, 2, 3)), (g.f, g.n * g.ho * g.wo))
    dcols = np.matrix_transpose(np.reshape(weights, (g.f, -1))) @ dout2  # as the portable body
    dx = np.empty(g.x_shape, dtype=dtype)
    index = np.int32
    emulated(instantiation("xplayers_col2im", dtype, index), [np.ascontiguousarray(dcols), dx],
             conv_scalars(g, dx.size, index))
    assert_bits_equal(dx, expected_dx)


def _portable_col2im(dcols: np.ndarray, g: Any) -> np.ndarray:
    """The portable conv backward's col2im loop (layers/conv.py), on a given column gradient."""
    dcols = dcols.reshape(g.c, g.hh * g.ww, g.n, g.ho, g.wo)
    dpadded = np.zeros((g.c, g.n, g.hp, g.wp), dtype=dcols.dtype)
    for k, i, j in g.offsets():
        rows, cols_ = g.rows(i), g.cols(j)
        dpadded[:, :, rows, cols_] = dpadded[:, :, rows, cols_] + dcols[:, k, ...]
    dx = dpadded[:, :, g.pad : g.pad + g.h, g.pad : g.pad + g.w]
    return np.permute_dims(dx, (1, 0, 2, 3))


@pytest.mark.parametrize("launch", LAUNCHES, ids=["package-grid", "tiny-grid"])
@pytest.mark.parametrize("index", INDEX_TYPES, ids=["int32", "int64"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_kernels_match_numpy(emulated, case, dtype, index, launch) -> None:
    n, c, h, w, ph, pw, stride = case
    rng = np.random.default_rng(sum(case))
    x = special_values(rng, (n, c, h, w), dtype)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    g = pool_geometry("test", x, pool_param)
    expected, cache = pooling_module.max_pool_forward(x, pool_param)
    portable, portable_cache = run_portable(pooling_module.max_pool_forward, x, pool_param)
    assert_bits_equal(np.ascontiguousarray(portable), expected)
    assert_bits_equal(np.ascontiguousarray(portable_cache.argmax), cache.argmax)

    out = np.empty(g.out_shape, dtype=dtype)
    argmax = np.empty(g.out_shape, dtype=cache.argmax.dtype)
    forward = instantiation("xplayers_max_pool_forward", dtype, index, argmax.dtype)
    _run(emulated, forward, [x, out, argmax],
         pool_scalars(g, out.size, index, backward=False), launch)
    assert_bits_equal(out, expected)
    assert_bits_equal(argmax, cache.argmax)

    dout = special_values(rng, g.out_shape, dtype)
    expected_dx = pooling_module.max_pool_backward(dout, cache)
    dx = np.empty(g.x_shape, dtype=dtype)
    backward = instantiation("xplayers_max_pool_backward", dtype, index, argmax.dtype)
    _run(emulated, backward, [dout, argmax, dx],
         pool_scalars(g, dx.size, index, backward=True), launch)
    assert_bits_equal(dx, expected_dx)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_max_pool_keeps_the_first_of_tied_signed_zeros(emulated, dtype) -> None:
    """-0.0 then +0.0 gives -0.0, +0.0 then -0.0 gives +0.0, on the kernel and NumPy alike."""
    x = np.array([[-0.0, 0.0, 0.0, -0.0]], dtype=dtype).reshape(1, 1, 1, 4)
    pool_param = {"pool_height": 1, "pool_width": 2, "stride": 2}
    g = pool_geometry("test", x, pool_param)
    out = np.empty(g.out_shape, dtype=dtype)
    argmax = np.empty(g.out_shape, dtype=np.uint8)
    _run(emulated, instantiation("xplayers_max_pool_forward", dtype, np.int32, np.uint8),
         [x, out, argmax], pool_scalars(g, out.size, np.int32, backward=False), None)
    expected, _ = pooling_module.max_pool_forward(x, pool_param)
    assert np.signbit(out).ravel().tolist() == [True, False]
    assert np.signbit(expected).ravel().tolist() == [True, False]
    assert argmax.ravel().tolist() == [0, 0]


def test_index_type_switches_to_64_bits_before_int32_overflows() -> None:
    from xplayers.kernels import BLOCK, index_type, launch_grid

    assert index_type(10, 1000) is np.int32
    assert index_type(2**31 - 1) is np.int64  # a grid-stride step past the end would wrap
    assert index_type(10, 2**40) is np.int64
    limit = max(s for s in (2**31 - 1 - BLOCK * 2**16, 2**30) if index_type(s) is np.int32)
    (blocks,) = launch_grid(limit)
    assert limit + blocks * BLOCK <= 2**31 - 1
    assert launch_grid(1) == (1,) and launch_grid(0) == (1,) and launch_grid(BLOCK + 1) == (2,)
    assert launch_grid(2**40) == (2**16,)
