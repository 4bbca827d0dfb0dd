"""Device names, the default device, and moving (nested) arrays between devices."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import config
from ..config import parse_device
from .cuda import cuda_device_count, cuda_status, log_cpu_fallback, require_cupy
from .namespace import array_library, device_of, is_array

__all__ = [
    "available_devices",
    "cuda_index",
    "default_device",
    "device_context",
    "resolve_device",
    "to_device",
    "to_numpy",
]

DEVICE_ENV = "XPLAYERS_DEVICE"


def cuda_index(device: str) -> int:
    """The GPU number of a CUDA device name: ``'cuda'`` is 0, ``'cuda:N'`` is N.

    Raises
    ------
    ValueError
        If ``device`` is not ``cuda`` or ``cuda:N``.
    """
    name = parse_device(device, origin="device")
    if not name.startswith("cuda"):
        raise ValueError(f"device must be 'cuda' or 'cuda:N' here, got {device!r}")
    return int(name[len("cuda:"):]) if ":" in name else 0


def _check_cuda(name: str, *, origin: str) -> str:
    usable, reason = cuda_status()
    if not usable:
        raise RuntimeError(f"{origin} asks for {name!r} but the GPU is not usable: {reason}")
    index = cuda_index(name)
    count = cuda_device_count()
    if index >= count:
        raise ValueError(f"{origin} asks for {name!r} but only {count} CUDA device(s) exist")
    return name


def default_device() -> str:
    """The device new work goes to: ``'cuda'`` when a GPU is usable, else ``'cpu'``.

    The device switch (``xplayers.config.using(device=...)``, else the environment variable
    ``XPLAYERS_DEVICE`` read at import: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``) overrides
    the choice. Asking for CUDA when no GPU is usable raises ``RuntimeError`` that says
    why; ``auto`` falls back to the CPU and logs the reason once.
    """
    requested = parse_device(config.get("device") or "auto", origin=config.origin("device"))
    if requested == "auto":
        if cuda_status()[0]:
            return "cuda"
        log_cpu_fallback()
        return "cpu"
    if requested.startswith("cuda"):
        return _check_cuda(requested, origin=DEVICE_ENV)
    return requested


def resolve_device(device: str | None = None) -> str:
    """Validate a device name; ``None`` and ``'auto'`` mean :func:`default_device`.

    Raises
    ------
    ValueError
        For a name that is not ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    RuntimeError
        For a CUDA device when no GPU is usable.
    """
    if device is None:
        return default_device()
    name = parse_device(device, origin="device")
    if name == "auto":
        return default_device()
    if name.startswith("cuda"):
        return _check_cuda(name, origin="device")
    return name


def available_devices() -> list[str]:
    """Devices this process can use: ``['cpu']`` plus ``'cuda:N'`` for each usable GPU."""
    return ["cpu"] + [f"cuda:{i}" for i in range(cuda_device_count())]


def _array_to_cpu(x: Any) -> np.ndarray:
    library = array_library(x)
    if library == "numpy":
        return x
    if library == "cupy":
        return x.get()
    if library == "torch":
        return x.detach().cpu().numpy()
    return np.from_dlpack(x)


def _array_to_cuda(x: Any, device: str) -> Any:
    cupy = require_cupy()
    index = cuda_index(device)
    library = array_library(x)
    if library == "cupy" and x.device.id == index:
        return x
    with cupy.cuda.Device(index):
        if library == "cupy":
            return x.copy()
        if library == "torch" and x.device.type == "cuda":
            if x.device.index == index:
                return cupy.from_dlpack(x.detach())
            return cupy.asarray(x.detach().cpu().numpy())
        return cupy.asarray(_array_to_cpu(x))


def to_device(obj: Any, device: str | None = None) -> Any:
    """Move arrays to ``device`` (``'cpu'`` gives NumPy arrays, ``'cuda[:N]'`` CuPy arrays).

    ``obj`` may be an array, a Python or NumPy scalar, ``None``, or a nested ``dict``, ``list``
    or ``tuple`` of these (a whole ``params`` dict, say); containers keep their type and
    non-array leaves are returned unchanged. Arrays already on ``device`` are not copied;
    PyTorch CUDA tensors reach CuPy through DLPack without a copy.
    """
    target = resolve_device(device)
    if isinstance(obj, dict):
        moved_dict = copy.copy(obj)  # keeps the dict's type (a defaultdict's factory, say)
        for key, value in obj.items():
            moved_dict[key] = to_device(value, target)
        return moved_dict
    if isinstance(obj, (list, tuple)):
        moved = [to_device(value, target) for value in obj]
        return type(obj)(*moved) if hasattr(obj, "_fields") else type(obj)(moved)
    if not is_array(obj):
        return obj
    if target == "cpu":
        return _array_to_cpu(obj)
    return _array_to_cuda(obj, target)


@contextlib.contextmanager
def device_context(device: str) -> Iterator[None]:
    """Make ``device`` CuPy's current device inside the block (nothing for the CPU).

    CuPy allocates new arrays on its *current* device, whatever device the inputs live on.
    xplayers' layers, losses and optimizers switch to their inputs' GPU by themselves (see
    :func:`xplayers.get_array_module`); this block is for the caller's own CuPy calls.
    """
    name = resolve_device(device)
    if not name.startswith("cuda"):
        yield
        return
    cupy = require_cupy()
    with cupy.cuda.Device(cuda_index(name)):
        yield


def to_numpy(obj: Any) -> Any:
    """Like ``to_device(obj, 'cpu')``: every array becomes a NumPy array on the host."""
    return to_device(obj, "cpu")


def device_name(x: Any) -> str:
    """The xplayers device name an array belongs to: ``'cpu'`` or ``'cuda:N'``."""
    name = device_of(x)
    return name if name.startswith("cuda") else "cpu"
