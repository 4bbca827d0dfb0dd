"""Which array library an array belongs to, its device and namespace: array-api-compat, plus
errors that name each argument and say how to fix a mix-up.

Layers call :func:`get_array_module` once, at the top, with their array arguments named, and
pass the namespace ``xp`` down; their portable bodies are written against the Python Array API
standard through it, and NumPy and CuPy arrays may take per-library fast paths. For CuPy
arrays the lookup also makes the arrays' GPU CuPy's current device, so that new arrays land
beside them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj, is_cupy_array, is_torch_array

__all__ = [
    "array_library",
    "device_of",
    "get_array_module",
    "is_array",
    "is_cupy_array",
    "is_numpy_array",
    "is_torch_array",
]


def is_numpy_array(x: Any) -> bool:
    """True for a ``numpy.ndarray`` (not for NumPy scalars)."""
    return isinstance(x, np.ndarray)


def is_array(x: Any) -> bool:
    """True for an array of any supported library (NumPy, CuPy, PyTorch or Array API)."""
    return isinstance(x, np.ndarray) or (
        not isinstance(x, np.generic) and is_array_api_obj(x)
    )


def array_library(x: Any) -> str:
    """Name of the library that owns array ``x``: ``'numpy'``, ``'cupy'``, ``'torch'``, ...

    Raises
    ------
    TypeError
        If ``x`` is not an array.
    """
    if is_numpy_array(x):
        return "numpy"
    if is_cupy_array(x):
        return "cupy"
    if is_torch_array(x):
        return "torch"
    if is_array(x):
        return type(x).__module__.split(".")[0]
    raise TypeError(f"expected an array, got {type(x).__name__}")


_SCALARS = (bool, int, float, complex, np.generic)


def device_of(x: Any) -> str:
    """The device an array lives on, as a string.

    ``'cpu'`` for NumPy arrays, ``'cuda:N'`` for CuPy arrays, ``str(x.device)`` otherwise
    (PyTorch: ``'cpu'``, ``'cuda:0'``). Python and NumPy scalars and ``None`` live on ``'cpu'``.
    """
    if x is None or isinstance(x, _SCALARS):
        return "cpu"
    library = array_library(x)
    if library == "numpy":
        return "cpu"
    if library == "cupy":
        return f"cuda:{x.device.id}"
    return str(x.device)


def _use_device_of(x: Any) -> None:
    """Make CuPy array ``x``'s GPU the current device (as Chainer's ``using_device``).

    CuPy allocates new arrays on the current device whatever the inputs' device, and
    array-api-compat's CuPy namespace ignores ``device=``; entering the inputs' device here
    makes every array a layer, loss or optimizer creates land beside its inputs.
    """
    import cupy

    index = x.device.id
    if cupy.cuda.runtime.getDevice() != index:
        cupy.cuda.runtime.setDevice(index)


def _describe(name: str, x: Any) -> str:  # "x is a numpy array on device cpu"
    library = array_library(x)
    article = "an" if library[:1].lower() in "aeiou" else "a"
    return f"{name} is {article} {library} array on device {device_of(x)}"


def _move_hint(device: str) -> str:
    if device.startswith(("cpu", "cuda")) and "(" not in device:
        return f"xplayers.to_device(array, {device!r})"
    return "the library's own transfer call"


def get_array_module(*arrays: Any, **named_arrays: Any) -> ModuleType:
    """Return the Array API namespace shared by the given arrays.

    Arguments that are ``None`` or Python/NumPy scalars are ignored. Name arrays with keyword
    arguments (``get_array_module(x=x, w=w)``) so that errors can say which argument is where.
    For CuPy arrays, their GPU becomes CuPy's current device (it stays current afterwards), so
    that the arrays the caller creates next land on it; NumPy arrays cost one type check.

    Returns
    -------
    module
        ``numpy`` for NumPy arrays (NumPy 2 implements the standard), the
        ``array_api_compat`` wrapper for CuPy and PyTorch, ``x.__array_namespace__()``
        otherwise, and ``numpy`` when no array is given.

    Raises
    ------
    TypeError
        If the arrays come from different libraries, or an argument is not an array.
    ValueError
        If the arrays share a library but live on different devices.
    """
    if _all_numpy(arrays) and _all_numpy(named_arrays.values()):
        return np  # the common CPU case, decided without building any description
    named = [(f"argument {i}", a) for i, a in enumerate(arrays)] + list(named_arrays.items())
    present = []
    for name, value in named:
        if value is None or isinstance(value, _SCALARS):
            continue
        if not is_array(value):
            raise TypeError(f"{name} must be an array, got {type(value).__name__}")
        present.append((name, value))
    if not present:
        return np

    first_name, first = present[0]
    first_library, first_device = array_library(first), device_of(first)
    for name, value in present[1:]:
        library, device = array_library(value), device_of(value)
        if library != first_library:
            raise TypeError(
                "arrays from different libraries cannot be mixed: "
                f"{_describe(first_name, first)}, {_describe(name, value)}; "
                f"move them to one device first, e.g. {_move_hint(first_device)}"
            )
        if device != first_device:
            raise ValueError(
                "arrays on different devices cannot be mixed: "
                f"{_describe(first_name, first)}, {_describe(name, value)}; "
                f"move them to one device first, e.g. {_move_hint(first_device)}"
            )
    if first_library == "numpy":
        return np  # ndarray subclasses
    if first_library == "cupy":
        _use_device_of(first)
    return array_namespace(first)


def _all_numpy(values: Any) -> bool:
    """True when every value is a plain ``numpy.ndarray`` or None (and there may be none)."""
    for value in values:
        if value is not None and type(value) is not np.ndarray:
            return False
    return True
