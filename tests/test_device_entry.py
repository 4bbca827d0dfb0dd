"""Looking up the namespace of CuPy arrays makes their GPU current (a fake CuPy records it), so
new arrays land beside the inputs on any GPU; NumPy lookups never touch CUDA."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from xplayers.backend import namespace as backend


class FakeGpuArray:
    """Taken for a ``cupy.ndarray`` on GPU ``index`` once the fake CuPy is installed."""

    def __init__(self, index: int) -> None:
        self.device = SimpleNamespace(id=index)


@pytest.fixture
def fake_cupy(monkeypatch):
    calls = []
    state = {"current": 0}

    def get_device():
        calls.append(("get",))
        return state["current"]

    def set_device(index):
        calls.append(("set", index))
        state["current"] = index

    runtime = SimpleNamespace(getDevice=get_device, setDevice=set_device)
    module = SimpleNamespace(ndarray=FakeGpuArray, cuda=SimpleNamespace(runtime=runtime))
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(backend, "array_namespace", lambda x: "compat-cupy-namespace")
    return calls


def test_the_inputs_gpu_becomes_current_once(fake_cupy):
    x, w = FakeGpuArray(1), FakeGpuArray(1)
    assert backend.get_array_module(x=x, w=w) == "compat-cupy-namespace"
    assert fake_cupy == [("get",), ("set", 1)]
    backend.get_array_module(x=x, w=w)  # already current: a query, no switch
    assert fake_cupy == [("get",), ("set", 1), ("get",)]
    backend.get_array_module(x=FakeGpuArray(0))
    assert fake_cupy[-1] == ("set", 0)


def test_inputs_on_two_gpus_are_refused_before_any_switch(fake_cupy):
    with pytest.raises(ValueError, match=r"x is a cupy array on device cuda:1.*"
                                         r"w is a cupy array on device cuda:2"):
        backend.get_array_module(x=FakeGpuArray(1), w=FakeGpuArray(2))
    assert fake_cupy == []


def test_numpy_lookups_never_touch_cuda(fake_cupy):
    x = np.ones((2, 3))
    assert backend.get_array_module(x=x, w=x, b=None) is np
    assert backend.get_array_module(x=x, s=np.float32(1)) is np
    assert fake_cupy == []


@pytest.mark.parametrize(("name", "index"), [("cuda", 0), ("cuda:0", 0), ("cuda:3", 3),
                                             (" CUDA:12 ", 12)])
def test_cuda_index_parses_device_names(name, index):
    from xplayers.devices import cuda_index

    assert cuda_index(name) == index


@pytest.mark.parametrize("name", ["cpu", "auto", "cuda:", "cuda:x", "gpu:1", "cuda:-1"])
def test_cuda_index_refuses_other_names(name):
    from xplayers.devices import cuda_index

    with pytest.raises(ValueError, match=repr(name).replace("(", r"\(")):
        cuda_index(name)
