"""Why the GPU is unusable, told apart with fake CuPy modules (no GPU is needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from xplayers.backend import cuda as _cuda


class CUDARuntimeError(RuntimeError):
    """Named like CuPy's error, whose message starts with the CUDA error code's name."""


def fake_cupy(device_count=1, count_error=None, kernel_error=None, random_error=None,
              driver_version=11040, runtime_version=12080, compute_capability=None):
    def get_device_count():
        if count_error is not None:
            raise count_error
        return device_count

    class Probe:
        def __mul__(self, other):
            if kernel_error is not None:
                raise kernel_error
            return self

        def sum(self):
            return 12.0

    def default_rng(seed):
        if random_error is not None:
            raise random_error
        return SimpleNamespace(random=lambda n: [0.5] * n)

    runtime = SimpleNamespace(getDeviceCount=get_device_count,
                              driverGetVersion=lambda: driver_version,
                              runtimeGetVersion=lambda: runtime_version)
    cuda = SimpleNamespace(runtime=runtime)
    if compute_capability is not None:  # CuPy's Device(i).compute_capability, e.g. "75"
        cuda.Device = lambda i: SimpleNamespace(compute_capability=compute_capability)
    return SimpleNamespace(
        __version__="14.0.0", float32="float32", cuda=cuda,
        arange=lambda n, dtype: Probe(), random=SimpleNamespace(default_rng=default_rng),
    )


def test_a_working_fake_is_usable():
    usable, reason = _cuda.probe_cupy(fake_cupy(device_count=2), driver_found=lambda: True)
    assert usable and reason == "CuPy 14.0.0 with 2 CUDA device(s)"


def test_no_driver_library():
    usable, reason = _cuda.probe_cupy(fake_cupy(), driver_found=lambda: False)
    assert not usable and "no NVIDIA driver" in reason and "libcuda" in reason


def test_driver_too_old_names_both_cuda_versions():
    error = CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient "
                             "for CUDA runtime version")
    usable, reason = _cuda.probe_cupy(fake_cupy(count_error=error), driver_found=lambda: True)
    assert not usable
    assert "driver is too old" in reason and "CUDA 11.4" in reason and "CUDA 12.8" in reason


@pytest.mark.parametrize("kind", ["zero devices", "error"])
def test_no_gpu(kind):
    cupy = (fake_cupy(device_count=0) if kind == "zero devices" else
            fake_cupy(count_error=CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device "
                                                   "is detected")))
    usable, reason = _cuda.probe_cupy(cupy, driver_found=lambda: True)
    assert not usable and "reports no GPU" in reason


@pytest.mark.parametrize(("where", "error", "library"), [
    ("kernel", RuntimeError("CuPy failed to load libnvrtc.so.12: OSError: libnvrtc.so.12: "
                            "cannot open shared object file: No such file or directory"),
     "libnvrtc.so.12"),
    ("random", OSError("libcurand.so.10: cannot open shared object file: No such file or "
                       "directory"), "libcurand.so.10"),
    ("kernel", RuntimeError("CuPy failed to load nvrtc64_120_0.dll: FileNotFoundError"),
     "nvrtc64_120_0.dll"),
])
def test_missing_cuda_library_is_named(where, error, library):
    cupy = fake_cupy(kernel_error=error) if where == "kernel" else fake_cupy(random_error=error)
    usable, reason = _cuda.probe_cupy(cupy, driver_found=lambda: True)
    assert not usable
    assert reason.startswith(f"a CUDA library is missing: {library} ")
    assert "xplayers[cuda12]" in reason and "[ctk]" in reason


def test_an_unknown_failure_is_quoted():
    usable, reason = _cuda.probe_cupy(
        fake_cupy(kernel_error=CUDARuntimeError("cudaErrorLaunchFailure: unspecified")),
        driver_found=lambda: True)
    assert not usable and "no CUDA device answered" in reason and "LaunchFailure" in reason


def test_cupy_import_failing_on_a_missing_library(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def broken_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("libcudart.so.12: cannot open shared object file: No such file "
                              "or directory", name="cupy_backends.cuda.api.runtime")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken_cupy)
    usable, reason = _cuda.cuda_status.__wrapped__()
    assert not usable
    assert "CuPy failed to import: a CUDA library is missing: libcudart.so.12" in reason


@pytest.mark.parametrize(("runtime", "arch", "usable"), [
    (13000, "70", False), (13000, "61", False), (13000, "75", True), (13020, "120", True),
    (12080, "70", True), (12080, "50", True),
])
def test_gpus_below_cuda_13s_oldest_architecture_are_diagnosed(runtime, arch, usable):
    cupy = fake_cupy(runtime_version=runtime, compute_capability=arch)
    got, reason = _cuda.probe_cupy(cupy, driver_found=lambda: True)
    assert got is usable
    if not usable:
        assert f"sm_{arch}" in reason and "sm_75" in reason and "xplayers[cuda12]" in reason


def test_nvrtc_rejecting_the_architecture_is_explained():
    error = RuntimeError("nvrtc: error: invalid value for --gpu-architecture (-arch)")
    usable, reason = _cuda.probe_cupy(fake_cupy(kernel_error=error), driver_found=lambda: True)
    assert not usable and "sm_75" in reason and "xplayers[cuda12]" in reason


@pytest.mark.parametrize(("runtime", "driver"), [(13000, "580.65.06"), (12080, "525.60.13")])
def test_driver_too_old_names_the_minimum_driver(runtime, driver):
    error = CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient "
                             "for CUDA runtime version")
    cupy = fake_cupy(count_error=error, driver_version=12040, runtime_version=runtime)
    usable, reason = _cuda.probe_cupy(cupy, driver_found=lambda: True)
    assert not usable and f"needs NVIDIA driver {driver} or newer" in reason
    assert "CUDA 12.4" in reason
