"""Rectified linear unit, ``out = max(x, 0)``."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..backend.checks import as_dtype, check_floating, check_shape
from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module, is_cupy_array
from . import _bits

__all__ = ["relu_backward", "relu_forward"]


def zero_like(xp: ModuleType, like: Any) -> Any:
    """A 0-d zero in ``like``'s dtype on ``like``'s device (a NumPy scalar for NumPy and
    CuPy: CuPy passes it to the kernel by value, where a 0-d array would cost a launch)."""
    if isinstance(like, np.ndarray) or is_cupy_array(like):
        return like.dtype.type(0)
    return xp.zeros((), dtype=like.dtype, device=like.device)


def relu_forward(x: Any) -> tuple[Any, Any]:
    """Forward pass of a ReLU layer.

    Parameters
    ----------
    x : array, any shape, floating

    Returns
    -------
    out : array, shape and dtype of x
    cache : array
        ``out`` itself: ``out > 0`` exactly where ``x > 0``, and the next layer keeps ``out``
        alive anyway, so the cache costs no memory. Passing ``x`` as the cache works too.

    Raises
    ------
    TypeError
        For a non-floating ``x`` (its gradient would be truncated to integers).
    """
    xp = get_array_module(x=x)
    check_floating("relu_forward", "x", x, xp)
    out = xp.maximum(x, zero_like(xp, x))
    return out, out


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

    Raises
    ------
    ValueError
        If ``dout`` and ``cache`` differ in shape.
    TypeError
        For a non-floating ``cache``.
    """
    xp = get_array_module(dout=dout, cache=cache)
    check_floating("relu_backward", "cache", cache, xp)
    check_shape("relu_backward", "dout", dout, tuple(cache.shape), "the shape of the forward x")
    return _relu_backward(xp, as_dtype(xp, dout, cache.dtype), cache)


def relu_backward_portable(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """The portable body of :func:`relu_backward` (checked arguments, ``dout`` in the
    cache's dtype)."""
    return select_where(xp, cache > 0, dout)


def _relu_backward_cupy(xp: ModuleType, dout: Any, cache: Any) -> Any:
    if not is_cupy_array(dout):
        return NotImplemented
    from ..kernels import fused_cupy

    return fused_cupy.relu_backward(dout, cache)


_relu_backward = FastPaths(relu_backward_portable, cupy=_relu_backward_cupy)


def select_where_portable(xp: ModuleType, active: Any, values: Any) -> Any:
    return xp.where(active, values, zero_like(xp, values))


def _select_where_numpy(xp: ModuleType, active: Any, values: Any) -> Any:
    if not (type(values) is np.ndarray and values.ndim and values.dtype.kind == "f"
            and values.dtype.isnative and values.dtype.itemsize <= 8):
        return NotImplemented
    return _bits.select(active, values)


select_where = FastPaths(select_where_portable, numpy=_select_where_numpy)
"""``values`` where ``active``, else ``+0``: ``select_where(xp, active, values)``, shapes equal.

NumPy: by bit masks (:mod:`._bits`), the same values without a branch per element."""
