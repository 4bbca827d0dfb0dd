"""Argument checks whose errors name the argument, what was given and what was expected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from ._trusted_labels import range_already_checked


def check_ndim(func: str, name: str, x: Any, ndim: int | Sequence[int], expected: str) -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is ``ndim`` (or one of them).

    ``expected`` is the shape spelled out for the message, e.g. ``'(N, D)'``.
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        raise ValueError(
            f"{func}: {name} must have shape {expected}, got shape {tuple(x.shape)}"
        )


def check_shape(func: str, name: str, x: Any, shape: tuple[int, ...], how: str = "") -> None:
    """Raise ``ValueError`` unless ``tuple(x.shape) == shape``; ``how`` explains the shape."""
    if tuple(x.shape) != tuple(shape):
        why = f" ({how})" if how else ""
        raise ValueError(
            f"{func}: {name} has shape {tuple(x.shape)}, expected {tuple(shape)}{why}"
        )


def check_floating(func: str, name: str, x: Any, xp: ModuleType) -> None:
    """Raise ``TypeError`` unless ``x`` has a real floating dtype."""
    dtype = x.dtype
    if isinstance(dtype, np.dtype):  # NumPy and CuPy: skip isdtype's generic machinery
        if dtype.kind == "f":
            return
    elif xp.isdtype(dtype, "real floating"):
        return
    raise TypeError(f"{func}: {name} must be a floating-point array, got dtype {x.dtype}")


def check_same_dtype(func: str, xp: ModuleType, **arrays: Any) -> None:
    """Raise ``TypeError`` unless the given (non-None) arrays share one dtype."""
    first = None
    for a in arrays.values():
        if a is None:
            continue
        if first is None:
            first = a.dtype
        elif a.dtype != first:
            break
    else:
        return
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(map(str, dtypes.values()))) > 1:
        listing = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(
            f"{func}: arrays must share one floating dtype, got {listing}; "
            "cast them with astype first"
        )


def check_labels(func: str, y: Any, num_rows: int, num_classes: int, xp: ModuleType) -> None:
    """Check class labels ``y``: integer dtype, shape ``(N,)``, values in ``[0, C)``.

    The value range (a host read) is skipped inside
    :func:`xplayers._trusted_labels.labels_checked`, where the Solver has checked it once.
    """
    dtype = y.dtype
    integral = dtype.kind in "iu" if isinstance(dtype, np.dtype) else xp.isdtype(dtype, "integral")
    if not integral:
        raise TypeError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    check_shape(func, "y", y, (num_rows,), "one label per row of x")
    if not num_rows or range_already_checked(num_classes):
        return
    outside = y < 0
    if num_classes <= xp.iinfo(y.dtype).max:  # else no value of y's dtype reaches C
        outside = outside | (y >= num_classes)
    if bool(xp.any(outside)):
        low, high = int(xp.min(y)), int(xp.max(y))
        raise ValueError(
            f"{func}: labels in y must lie in [0, {num_classes}) for {num_classes} classes, "
            f"got values from {low} to {high}"
        )


def check_mode(func: str, param_name: str, params: Mapping[str, Any]) -> str:
    """Return ``params['mode']``, raising ``ValueError`` unless it is 'train' or 'test'."""
    if "mode" not in params:
        raise ValueError(f"{func}: {param_name}['mode'] is required ('train' or 'test')")
    mode = params["mode"]
    if mode not in ("train", "test"):
        raise ValueError(
            f"{func}: {param_name}['mode'] must be 'train' or 'test', got {mode!r}"
        )
    return mode
