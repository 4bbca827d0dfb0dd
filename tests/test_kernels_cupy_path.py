"""The CuPy fast-path modules (kernels/conv_cupy.py, kernels/pool_cupy.py) run for real, with a
fake ``cupy`` whose arrays are NumPy's and whose kernels are the CPU build of the .cu source:
their launch shapes, argument order and integer types are checked against the NumPy path."""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from xplayers.layers import conv as conv_module
from xplayers.layers import pooling as pooling_module
from xplayers.layers._geometry import conv_geometry, pool_geometry


class FakeDevice:
    id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeCupyArray(np.ndarray):
    @property
    def device(self):
        return FakeDevice()


def _on_fake_gpu(a):
    return np.ascontiguousarray(a).view(FakeCupyArray)


@pytest.fixture
def cupy_path(monkeypatch, emulated):
    """``(conv_cupy, pool_cupy)`` imported against the fake CuPy, launching emulated kernels."""
    fake = SimpleNamespace(ndarray=FakeCupyArray, ascontiguousarray=np.ascontiguousarray,
                           empty=np.empty)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    launches = []

    def cuda_kernel(name):
        def launch(grid, block, args):
            assert len(grid) == len(block) == 1
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            scalars = tuple(a for a in args if not isinstance(a, np.ndarray))
            assert all(type(s) in (np.int32, np.int64) for s in scalars), scalars
            assert args == (*arrays, *scalars), "arrays come first, then scalars"
            launches.append(name)
            emulated(name, arrays, scalars, grid=grid[0], block=block[0])
        return launch

    import xplayers.kernels as package

    names = ("conv_cupy", "pool_cupy")
    modules = []
    for name in names:  # import afresh against the fake; the real ones come back afterwards
        monkeypatch.delitem(sys.modules, f"xplayers.kernels.{name}", raising=False)
        monkeypatch.delattr(package, name, raising=False)
        module = importlib.import_module(f"xplayers.kernels.{name}")
        monkeypatch.setattr(module, "cuda_kernel", cuda_kernel)
        modules.append(module)
    yield (*modules, launches)
    for name in names:
        sys.modules.pop(f"xplayers.kernels.{name}", None)
        if hasattr(package, name):
            delattr(package, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("stride", "pad"), [(1, 1), (2, 0), (3, 2)])
def test_conv_cupy_module_matches_the_portable_body(cupy_path, dtype, stride, pad):
    conv_cupy, _, launches = cupy_path
    rng = np.random.default_rng(stride + pad)
    x = rng.standard_normal((2, 3, 8, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    g = conv_geometry("test", x, w, b, {"stride": stride, "pad": pad})
    out, cols = conv_cupy.conv_forward(_on_fake_gpu(x), w, b, g)
    expected, expected_cols = conv_module.conv_forward_portable(np, x, w, b, g)
    np.testing.assert_array_equal(cols, expected_cols)
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = conv_cupy.conv_backward(_on_fake_gpu(dout), cols, w, g, True)
    edx, edw, edb = conv_module.conv_backward_portable(np, dout, expected_cols, w, g, True)
    for actual, wanted in ((dx, edx), (dw, edw), (db, edb)):
        np.testing.assert_allclose(actual, wanted, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert launches == [f"xplayers_im2col<{_c(dtype)}, int>", f"xplayers_col2im<{_c(dtype)}, int>"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(("window", "stride"), [(2, 2), (3, 2), (17, 1)])
def test_pool_cupy_module_matches_the_numpy_path_bit_for_bit(cupy_path, dtype, window, stride):
    _, pool_cupy, launches = cupy_path
    rng = np.random.default_rng(window)
    x = rng.integers(-2, 3, size=(2, 3, 18, 18)).astype(dtype)
    x.flat[::7] = -0.0
    x.flat[5] = np.nan
    pool_param = {"pool_height": window, "pool_width": window, "stride": stride}
    g = pool_geometry("test", x, pool_param)
    index_dtype = pooling_module._index_dtype(np, g)
    out, argmax = pool_cupy.max_pool_forward(_on_fake_gpu(x), g, index_dtype)
    expected, cache = pooling_module.max_pool_forward(x, pool_param)
    np.testing.assert_array_equal(out.view(f"u{x.itemsize}"), expected.view(f"u{x.itemsize}"))
    np.testing.assert_array_equal(argmax, cache.argmax)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = pool_cupy.max_pool_backward(_on_fake_gpu(dout), argmax, g)
    expected_dx = pooling_module.max_pool_backward(dout, cache)
    np.testing.assert_array_equal(dx.view(f"u{x.itemsize}"),
                                  np.ascontiguousarray(expected_dx).view(f"u{x.itemsize}"))
    argmax_c = "unsigned char" if index_dtype == np.uint8 else "int"
    assert launches == [f"xplayers_max_pool_forward<{_c(dtype)}, int, {argmax_c}>",
                        f"xplayers_max_pool_backward<{_c(dtype)}, int, {argmax_c}>"]


def _c(dtype) -> str:
    return {"float16": "__half", "float32": "float", "float64": "double"}[np.dtype(dtype).name]


def test_layers_cupy_table_entries_call_the_cupy_modules(cupy_path):
    """The ``cupy`` entries of conv's and max pool's fast-path tables reach the modules with
    the arguments they expect, and give the NumPy path's results."""
    _, _, launches = cupy_path
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 6))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = conv_geometry("test", x, w, b, {"stride": 1, "pad": 1})
    out, saved = conv_module._conv_forward.implementation("cupy")(np, _on_fake_gpu(x), w, b, g)
    expected, cache = conv_module.conv_forward(x, w, b, {"stride": 1, "pad": 1})
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    grads = conv_module._conv_backward.implementation("cupy")(np, _on_fake_gpu(dout), saved, w, g,
                                                         True)
    for got, want in zip(grads, conv_module.conv_backward(dout, cache), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)

    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pg = pool_geometry("test", x, pool_param)
    forward = pooling_module._max_pool_forward.implementation("cupy")
    pooled, argmax = forward(np, _on_fake_gpu(x), pg)
    expected, pool_cache = pooling_module.max_pool_forward(x, pool_param)
    np.testing.assert_array_equal(pooled, expected)
    np.testing.assert_array_equal(argmax, pool_cache.argmax)
    dpool = rng.standard_normal(pooled.shape)
    backward = pooling_module._max_pool_backward.implementation("cupy")
    dx = backward(np, _on_fake_gpu(dpool), argmax, pg)
    np.testing.assert_array_equal(dx, pooling_module.max_pool_backward(dpool, pool_cache))
    assert len(launches) == 4
