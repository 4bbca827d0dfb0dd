"""Rectified linear unit, ``out = max(x, 0)``."""

from __future__ import annotations

from typing import Any

from .._checks import check_shape
from ..backend import get_array_module

__all__ = ["relu_backward", "relu_forward"]


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
    out = xp.maximum(x, xp.zeros((), dtype=x.dtype, device=x.device))
    return out, out


def relu_backward(dout: Any, cache: Any) -> Any:
    """Backward pass of a ReLU layer.

    Parameters
    ----------
    dout : array, any shape
        Upstream gradient.
    cache : array, shape of dout
        From :func:`relu_forward` (its output, or its input ``x``).

    Returns
    -------
    dx : array, shape of dout
    """
    xp = get_array_module(dout=dout, cache=cache)
    check_shape("relu_backward", "dout", dout, tuple(cache.shape), "the shape of the forward x")
    return xp.where(cache > 0, dout, xp.zeros((), dtype=dout.dtype, device=dout.device))
