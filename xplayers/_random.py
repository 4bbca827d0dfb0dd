"""Uniform random numbers on an array's own device, without touching global random state."""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from .backend import is_cupy_array, is_torch_array

_host_rng = np.random.default_rng()


@functools.cache
def _cupy_rng(device_id: int) -> Any:
    """One unseeded CuPy generator per GPU: creating one sets up many cuRAND states."""
    import cupy

    with cupy.cuda.Device(device_id):
        return cupy.random.default_rng()


def uniform_like(x: Any, xp: ModuleType, seed: int | None = None) -> Any:
    """Draw ``U[0, 1)`` samples shaped like ``x``, in ``x``'s dtype and on ``x``'s device.

    With ``seed`` the draw is reproducible and leaves every other generator untouched.
    NumPy, PyTorch CPU tensors and other host Array API arrays share one host stream, so the
    same seed gives the same samples on all of them; CuPy and PyTorch CUDA tensors draw on
    their GPU (no host round trip) from their own, equally reproducible, streams.
    """
    shape = tuple(x.shape)
    if is_cupy_array(x):
        import cupy

        with cupy.cuda.Device(x.device.id):
            rng = _cupy_rng(x.device.id) if seed is None else cupy.random.default_rng(seed)
            return rng.random(shape, dtype=x.dtype)
    if is_torch_array(x) and x.device.type != "cpu":
        import torch

        gen = torch.Generator(device=x.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        return torch.rand(shape, generator=gen, device=x.device, dtype=x.dtype)
    rng = _host_rng if seed is None else np.random.default_rng(seed)
    host_dtype = np.float32 if x.dtype == xp.float32 else np.float64
    samples = rng.random(shape, dtype=host_dtype)
    if isinstance(x, np.ndarray):
        return samples
    return xp.asarray(samples, device=x.device)
