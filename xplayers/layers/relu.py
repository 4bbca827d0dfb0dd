"""Rectified linear unit, ``out = max(x, 0)``."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .._checks import as_dtype, check_shape
from ..backend import get_array_module

__all__ = ["relu_backward", "relu_forward"]


def _zero(xp: ModuleType, like: Any) -> Any:
    """A 0-d zero in ``like``'s dtype on ``like``'s device (a NumPy scalar for NumPy)."""
    if isinstance(like, np.ndarray):
        return like.dtype.type(0)
    return xp.zeros((), dtype=like.dtype, device=like.device)


def relu_forward(x: Any) -> tuple[Any, Any]:
    """Forward pass of a ReLU layer.

    Parameters
    ----------
    x : array, any shape

    Returns
    -------
    out : array, shape of x
    cache : array
        ``out`` itself: ``out > 0`` exactly where ``x > 0``, and the next layer keeps ``out``
        alive anyway, so the cache costs no memory. Passing ``x`` as the cache works too.
    """
    xp = get_array_module(x=x)
    out = xp.maximum(x, _zero(xp, x))
    return out, out


def _select_numpy(active: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """``np.where(active, dout, 0)`` for floating ``dout``, without a branch per element.

    ``np.where`` branches on every element and mispredicts on a ReLU's irregular pattern
    (several times slower than a multiply); AND-ing ``dout``'s bits with all-ones or all-zeros
    picks the same values, NaN, infinities and signed zeros included.
    """
    bits = np.dtype(f"u{dout.dtype.itemsize}")
    keep = active.astype(bits)
    np.negative(keep, out=keep)  # 1 -> all ones, 0 -> 0
    np.bitwise_and(keep, dout.view(bits), out=keep)
    return keep.view(dout.dtype)


def relu_backward(dout: Any, cache: Any) -> Any:
    """Backward pass of a ReLU layer.

    Parameters
    ----------
    dout : array, any shape
        Upstream gradient; cast to the forward's dtype when it differs.
    cache : array, shape of dout
        From :func:`relu_forward` (its output, or its input ``x``).

    Returns
    -------
    dx : array, shape of dout, in the forward input's dtype
    """
    xp = get_array_module(dout=dout, cache=cache)
    check_shape("relu_backward", "dout", dout, tuple(cache.shape), "the shape of the forward x")
    dout = as_dtype(xp, dout, cache.dtype)
    if (type(dout) is np.ndarray and dout.ndim and dout.dtype.kind == "f"
            and dout.dtype.isnative and dout.dtype.itemsize <= 8):
        return _select_numpy(cache > 0, dout)
    return xp.where(cache > 0, dout, _zero(xp, dout))
