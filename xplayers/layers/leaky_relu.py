"""Leaky rectified linear unit, ``out = x`` where ``x > 0`` and ``alpha * x`` elsewhere."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..backend.checks import as_dtype, as_real, check_floating, check_shape
from ..backend.namespace import get_array_module

__all__ = ["LeakyReluCache", "leaky_relu_backward", "leaky_relu_forward"]


class LeakyReluCache(NamedTuple):
    """What :func:`leaky_relu_backward` needs: the forward input and its slope."""

    x: Any
    alpha: float


def leaky_relu_forward(x: Any, alpha: float = 0.01) -> tuple[Any, LeakyReluCache]:
    """Forward pass of a leaky ReLU layer (PyTorch's ``leaky_relu``, ``negative_slope=alpha``).

    Parameters
    ----------
    x : array, any shape, floating
    alpha : float
        Slope for ``x <= 0`` (default 0.01; 0 gives a plain ReLU).

    Returns
    -------
    out : array, shape and dtype of x
    cache : LeakyReluCache
        For :func:`leaky_relu_backward`.

    Raises
    ------
    TypeError
        For a non-floating ``x``.
    ValueError
        For an ``alpha`` that is not a finite real number.
    """
    func = "leaky_relu_forward"
    xp = get_array_module(x=x)
    check_floating(func, "x", x, xp)
    slope = as_real(alpha)
    if slope is None or not math.isfinite(slope):
        raise ValueError(f"{func}: alpha must be a finite real number (the slope for x <= 0), "
                         f"got {alpha!r}")
    return xp.where(x > 0, x, slope * x), LeakyReluCache(x, slope)


def leaky_relu_backward(dout: Any, cache: LeakyReluCache) -> Any:
    """Backward pass of a leaky ReLU layer.

    Parameters
    ----------
    dout : array, shape of the forward's x
        Upstream gradient; cast to the forward's dtype when it differs.
    cache : LeakyReluCache
        From :func:`leaky_relu_forward`.

    Returns
    -------
    dx : array, shape of dout, in the forward input's dtype
        ``dout`` where ``x > 0``, ``alpha * dout`` elsewhere (at 0 too, as PyTorch).

    Raises
    ------
    ValueError
        If ``dout`` does not have the forward input's shape.
    """
    x, alpha = cache
    xp = get_array_module(dout=dout, x=x)
    check_shape("leaky_relu_backward", "dout", dout, tuple(x.shape),
                "the shape of the forward x")
    dout = as_dtype(xp, dout, x.dtype)
    return xp.where(x > 0, dout, alpha * dout)
