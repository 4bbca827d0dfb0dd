"""Argument checks whose errors name the argument, what was given and what was expected."""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, Literal, overload

import numpy as np

from .trusted_labels import range_already_checked


def as_integer(value: Any) -> int | None:
    """``value`` as an ``int`` when it is an integer (Python, NumPy, anything with
    ``__index__``) and not a bool; else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def as_real(value: Any) -> float | None:
    """``value`` as a ``float`` when it is a real number (int or float, Python or NumPy) and
    not a bool; else None."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


@overload
def check_positive_int(name: str, value: Any, *, optional: Literal[False] = ...) -> int: ...
@overload
def check_positive_int(name: str, value: Any, *, optional: bool) -> int | None: ...
def check_positive_int(name: str, value: Any, *, optional: bool = False) -> int | None:
    """``value`` as an int, or ``ValueError`` naming ``name`` unless it is an integer >= 1.

    ``optional=True`` lets None through (returned as None).
    """
    if optional and value is None:
        return None
    number = as_integer(value)
    if number is None or number < 1:
        kind = "None or a positive integer" if optional else "a positive integer"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return number


def check_positive_number(name: str, value: Any) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless it is finite and > 0."""
    number = as_real(value)
    if number is None or not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


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


_MIXED = object()


def _single_dtype(arrays: Any) -> Any:
    """The one dtype of the non-None ``arrays``, None if all are None, else ``_MIXED``."""
    first = None
    for a in arrays:
        if a is None:
            continue
        if first is None:
            first = a.dtype
        elif a.dtype != first:
            return _MIXED
    return first


def check_same_dtype(func: str, xp: ModuleType, **arrays: Any) -> None:
    """Raise ``TypeError`` unless the given (non-None) arrays share one dtype.

    For the optimizers, whose state must keep the parameter's dtype; layers promote instead
    (:func:`promote`).
    """
    if _single_dtype(arrays.values()) is not _MIXED:
        return
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(map(str, dtypes.values()))) > 1:
        listing = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(
            f"{func}: arrays must share one floating dtype, got {listing}; "
            "cast them with astype first"
        )


def _kind(dtype: Any, xp: ModuleType) -> str:
    """``'f'`` (real floating), ``'i'`` (integer or bool) or ``'?'`` (anything else)."""
    if isinstance(dtype, np.dtype):
        return "f" if dtype.kind == "f" else "i" if dtype.kind in "iub" else "?"
    if xp.isdtype(dtype, "real floating"):
        return "f"
    return "i" if xp.isdtype(dtype, ("integral", "bool")) else "?"


def promote(func: str, xp: ModuleType, **arrays: Any) -> tuple[Any, list[Any]]:
    """The layers' dtype policy: compute in the promoted floating dtype of the inputs.

    The dtype is ``result_type`` of the floating arrays among ``arrays`` (float32 with
    float64 gives float64, as in NumPy and the Array API); integer (and bool) arrays take
    that floating dtype, as a float32 next to a NumPy integer array would not: an integer
    bias never upcasts a float32 layer. Arrays already in the dtype are returned as they
    are (no copy); None stays None.

    Returns
    -------
    dtype, list
        The compute dtype, and the arrays in the order given, cast to it.

    Raises
    ------
    TypeError
        For a complex or other non-real dtype, or when no array is floating.
    """
    values = list(arrays.values())
    first = _single_dtype(values)
    # the common case, one floating dtype: nothing to promote
    if first is not _MIXED and first is not None and _kind(first, xp) == "f":
        return first, values
    given = [(name, a) for name, a in arrays.items() if a is not None]
    floats = []
    for name, a in given:
        kind = _kind(a.dtype, xp)
        if kind == "?":
            raise TypeError(f"{func}: {name} must hold real numbers (floating or integer), "
                            f"got dtype {a.dtype}")
        if kind == "f":
            floats.append(a.dtype)
    if not floats:
        listing = ", ".join(f"{name} is {a.dtype}" for name, a in given)
        raise TypeError(f"{func}: at least one array must be floating-point, got {listing}")
    dtype = xp.result_type(*floats)
    return dtype, [as_dtype(xp, a, dtype) for a in values]


def as_dtype(xp: ModuleType, a: Any, dtype: Any) -> Any:
    """``a`` in ``dtype`` (``a`` itself when it already is, or is None)."""
    if a is None or a.dtype == dtype:
        return a
    return xp.astype(a, dtype)


def input_dtypes(compute_dtype: Any, *arrays: Any) -> tuple[Any, ...] | None:
    """The forward inputs' dtypes for the backward to return gradients in, or None.

    None (the common case) when every array is None or already in ``compute_dtype``.
    """
    for a in arrays:
        if a is not None and a.dtype != compute_dtype:
            return tuple(None if a is None else a.dtype for a in arrays)
    return None


def grads_as_inputs(xp: ModuleType, grads: Sequence[Any], dtypes: Sequence[Any] | None) -> tuple:
    """Gradients cast back to the floating dtypes of their forward inputs.

    The backward half of the dtype policy: a gradient comes back in the dtype of the input
    it belongs to when that input was floating; an integer input's gradient stays in the
    compute dtype (truncating it to integers would make it meaningless).
    """
    if dtypes is None:
        return tuple(grads)
    return tuple(
        g if g is None or d is None or _kind(d, xp) != "f" else as_dtype(xp, g, d)
        for g, d in zip(grads, dtypes, strict=True)
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
