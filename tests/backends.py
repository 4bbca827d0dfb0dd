"""The backends the test-suite runs every test body on, and helpers to compare across them.

Inputs are always drawn on the host from a seeded NumPy generator and moved to the backend
under test, so every backend sees identical numbers; results come back to the host for
comparison with a tolerance chosen by dtype.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from xplayers import cuda_available, fast_paths, to_numpy
from xplayers.backend.cuda import cuda_status


@dataclass(frozen=True)
class Backend:
    """One array library on one device, as seen by a test."""

    name: str
    xp: ModuleType
    device: Any

    def asarray(self, host: Any, dtype: Any = None) -> Any:
        """Move a host array (or nested list) to this backend, keeping or setting its dtype."""
        host = np.asarray(host)
        if dtype is not None:
            host = host.astype(dtype)
        if self.name == "numpy":
            return host.copy()
        if self.name == "cupy":
            return self.xp.asarray(host)
        return self.xp.asarray(host, device=self.device, copy=True)

    def dtype(self, host_dtype: Any) -> Any:
        """This backend's dtype for a NumPy dtype such as ``np.float32``."""
        return getattr(self.xp, np.dtype(host_dtype).name)

    def to_numpy(self, x: Any) -> Any:
        return to_numpy(x)


def _numpy() -> Backend:
    return Backend("numpy", np, "cpu")


def _strict() -> Backend:
    import array_api_strict

    # A non-default device: any array created without device=x.device lands on the CPU
    # device and the next operation mixing the two raises.
    return Backend("array_api_strict", array_api_strict, array_api_strict.Device("device1"))


def _torch() -> Backend:
    import array_api_compat.torch as xp_torch

    return Backend("torch", xp_torch, "cpu")


def _cupy() -> Backend:
    import array_api_compat.cupy as xp_cupy

    return Backend("cupy", xp_cupy, "cuda:0")


def _torch_cuda() -> Backend:
    import array_api_compat.torch as xp_torch
    import torch

    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA GPU")
    return Backend("torch_cuda", xp_torch, "cuda:0")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def backend_params() -> list[Any]:
    """``pytest.param`` objects for every backend, skipped with a reason where unavailable."""
    return [
        pytest.param(_numpy, id="numpy"),
        pytest.param(
            _strict,
            id="array_api_strict",
            marks=pytest.mark.skipif(
                not _has("array_api_strict"),
                reason="array-api-strict is not installed (pip install -e '.[test]')",
            ),
        ),
        pytest.param(
            _torch,
            id="torch",
            marks=pytest.mark.skipif(not _has("torch"), reason="PyTorch is not installed"),
        ),
        pytest.param(
            _torch_cuda,
            id="torch_cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not _has("torch"), reason="PyTorch is not installed"),
            ],
        ),
        pytest.param(
            _cupy,
            id="cupy",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(
                    not cuda_available(), reason=f"no usable GPU: {cuda_status()[1]}"
                ),
            ],
        ),
    ]


def tolerance(dtype: Any) -> dict[str, float]:
    """``rtol``/``atol`` for comparing results computed in ``dtype`` (a NumPy dtype or name)."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 2e-5, "atol": 2e-6}
    return {"rtol": 1e-10, "atol": 1e-12}


def assert_close(actual: Any, expected: Any, **tol: float) -> None:
    """Compare two arrays of any backends on the host."""
    a, e = np.asarray(to_numpy(actual)), np.asarray(to_numpy(expected))
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, **(tol or tolerance(a.dtype)))


def dtype_name(x: Any) -> str:
    """``'float32'``/``'float64'``/... for an array of any backend."""
    return np.asarray(to_numpy(x)).dtype.name


def run_portable(func: Any, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` with every fast path off: the portable bodies' result."""
    with fast_paths(False):
        return func(*args, **kwargs)
