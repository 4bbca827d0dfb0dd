"""The backend layer: namespaces, devices, transfers and the errors for mixing them."""

from __future__ import annotations

import logging
from collections import namedtuple

import numpy as np
import pytest

import xplayers
import xplayers.backend.devices
import xplayers.config
from xplayers.backend import array_library, device_of, get_array_module
from xplayers.backend import cuda as _cuda


def test_namespace_of_backend_arrays(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3)))
    xp = get_array_module(x)
    assert hasattr(xp, "matmul")
    assert array_library(xp.zeros((1,), device=x.device)) == array_library(x)


def test_namespace_ignores_scalars_and_none(backend, rng):
    x = backend.asarray(rng.standard_normal(3))
    xp = get_array_module(None, 1.5, np.float32(2.0), x=x)
    assert array_library(xp.ones(2, device=x.device)) == array_library(x)
    assert get_array_module() is np


def test_non_array_argument_is_named():
    with pytest.raises(TypeError, match=r"w must be an array, got list"):
        get_array_module(x=np.ones(2), w=[1.0, 2.0])


def test_mixing_libraries_names_each_argument():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError) as info:
        get_array_module(x=np.ones(2), w=torch.ones(2))
    message = str(info.value)
    assert "x is a numpy array on device cpu" in message
    assert "w is a torch array on device cpu" in message
    assert "xplayers.to_device" in message


def test_mixing_devices_names_each_argument():
    strict = pytest.importorskip("array_api_strict")
    a = strict.ones(2)
    b = strict.ones(2, device=strict.Device("device1"))
    with pytest.raises(ValueError, match=r"a is an array_api_strict array on device .*CPU_DEVICE.*"
                       r"b is an array_api_strict array on device .*device1"):
        get_array_module(a=a, b=b)


def test_layer_reports_mixed_devices():
    strict = pytest.importorskip("array_api_strict")
    from xplayers.layers import affine_forward

    x = strict.ones((2, 3), device=strict.Device("device1"))
    with pytest.raises(ValueError, match="w is an array_api_strict array on device"):
        affine_forward(x, strict.ones((3, 4)), strict.ones(4, device=x.device))


def test_device_of():
    assert device_of(np.ones(2)) == "cpu"
    assert device_of(3.0) == "cpu"
    assert device_of(None) == "cpu"


def test_default_device_cpu_without_gpu(monkeypatch):
    monkeypatch.setattr(_cuda, "cuda_status", lambda: (False, "CuPy is not installed (test)"))
    monkeypatch.setattr(xplayers.backend.devices, "cuda_status", _cuda.cuda_status)
    monkeypatch.delenv("XPLAYERS_DEVICE", raising=False)
    xplayers.config.reload()
    assert xplayers.default_device() == "cpu"
    monkeypatch.setenv("XPLAYERS_DEVICE", "cpu")
    xplayers.config.reload()
    assert xplayers.default_device() == "cpu"


def test_explicit_cuda_without_gpu_is_an_error(monkeypatch):
    reason = "CuPy is installed but no CUDA device answered (test)"
    monkeypatch.setattr(xplayers.backend.devices, "cuda_status", lambda: (False, reason))
    monkeypatch.setenv("XPLAYERS_DEVICE", "cuda")
    xplayers.config.reload()
    with pytest.raises(RuntimeError, match=r"XPLAYERS_DEVICE asks for 'cuda'.*no CUDA device"):
        xplayers.default_device()
    with pytest.raises(RuntimeError, match=r"device asks for 'cuda:1'"):
        xplayers.resolve_device("cuda:1")
    with pytest.raises(RuntimeError, match="not usable"):
        xplayers.to_device(np.ones(2), "cuda")


def test_bad_device_names(monkeypatch):
    monkeypatch.setenv("XPLAYERS_DEVICE", "tpu")
    xplayers.config.reload()
    with pytest.raises(ValueError, match=r"XPLAYERS_DEVICE must be one of auto, cpu, cuda.*'tpu'"):
        xplayers.default_device()
    with pytest.raises(ValueError, match=r"device must be one of .*'gpu0'"):
        xplayers.resolve_device("gpu0")
    with pytest.raises(TypeError, match="device must be a string"):
        xplayers.resolve_device(0)


def test_auto_falls_back_with_one_log_line(monkeypatch, caplog):
    reason = "CuPy is installed but no CUDA device answered (test)"
    monkeypatch.setattr(_cuda, "cuda_status", lambda: (False, reason))
    monkeypatch.setattr(xplayers.backend.devices, "cuda_status", _cuda.cuda_status)
    _cuda.log_cpu_fallback.cache_clear()
    monkeypatch.delenv("XPLAYERS_DEVICE", raising=False)
    xplayers.config.reload()
    with caplog.at_level(logging.INFO, logger="xplayers"):
        assert xplayers.default_device() == "cpu"
        assert xplayers.default_device() == "cpu"
    lines = [r for r in caplog.records if "falling back to the CPU" in r.getMessage()]
    assert len(lines) == 1 and reason in lines[0].getMessage()
    _cuda.log_cpu_fallback.cache_clear()


def test_cuda_status_without_cupy(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    usable, reason = _cuda.cuda_status.__wrapped__()
    assert not usable and "CuPy is not installed" in reason and "xplayers[cuda12]" in reason


def test_available_devices_lists_cpu_first():
    devices = xplayers.available_devices()
    assert devices[0] == "cpu"
    assert all(d.startswith("cuda:") for d in devices[1:])


def test_to_numpy_nested(backend, rng):
    host = rng.standard_normal((2, 2)).astype(np.float32)
    Pair = namedtuple("Pair", "a b")
    obj = {"W1": backend.asarray(host), "extra": [None, 3, (backend.asarray(host),)],
           "pair": Pair(backend.asarray(host), 1.5)}
    moved = xplayers.to_numpy(obj)
    assert isinstance(moved["W1"], np.ndarray) and moved["W1"].dtype == np.float32
    np.testing.assert_array_equal(moved["W1"], host)
    assert moved["extra"][0] is None and moved["extra"][1] == 3
    assert isinstance(moved["extra"][2], tuple)
    np.testing.assert_array_equal(moved["extra"][2][0], host)
    assert isinstance(moved["pair"], Pair) and moved["pair"].b == 1.5


def test_to_device_cpu_keeps_numpy_arrays_uncopied():
    x = np.ones(3)
    assert xplayers.to_device(x, "cpu") is x


@pytest.mark.gpu
@pytest.mark.skipif(not xplayers.cuda_available(), reason="no usable GPU")
def test_round_trip_through_gpu(rng):
    import cupy

    host = {"W": rng.standard_normal((3, 4)).astype(np.float32), "n": 2}
    on_gpu = xplayers.to_device(host, "cuda")
    assert isinstance(on_gpu["W"], cupy.ndarray) and on_gpu["W"].dtype == cupy.float32
    assert xplayers.device_of(on_gpu["W"]) == "cuda:0"
    assert xplayers.to_device(on_gpu["W"], "cuda:0") is on_gpu["W"]
    back = xplayers.to_numpy(on_gpu)
    np.testing.assert_array_equal(back["W"], host["W"])
    assert back["n"] == 2
    assert xplayers.default_device() == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(not xplayers.cuda_available(), reason="no usable GPU")
def test_torch_cuda_tensor_moves_by_dlpack():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA here")
    t = torch.arange(4, dtype=torch.float32, device="cuda")
    c = xplayers.to_device(t, "cuda:0")
    c[0] = 42.0
    assert float(t[0]) == 42.0  # shared memory: no copy was made


def test_to_device_keeps_dict_subclasses():
    from collections import defaultdict

    params = defaultdict(list, {"W": np.ones(2)})
    moved = xplayers.to_device(params, "cpu")
    assert isinstance(moved, defaultdict) and moved.default_factory is list
    assert moved["W"] is params["W"]


def test_device_context_on_cpu_is_a_no_op():
    with xplayers.device_context("cpu"):
        assert xplayers.to_device(np.ones(1), "cpu").shape == (1,)
