"""Affine (fully-connected) layer: ``out = x.reshape(N, D) @ w + b``."""

from __future__ import annotations

import math
from typing import Any

from .._checks import check_floating, check_ndim, check_same_dtype, check_shape
from ..backend import get_array_module

__all__ = ["affine_backward", "affine_forward"]


def affine_forward(x: Any, w: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    """Forward pass of an affine layer.

    Parameters
    ----------
    x : array, shape (N, d_1, ..., d_k)
        A minibatch of N examples; each is flattened to D = d_1 * ... * d_k values.
    w : array, shape (D, M)
    b : array, shape (M,)

    Returns
    -------
    out : array, shape (N, M)
    cache : tuple
        ``(x, w)``, what :func:`affine_backward` needs.
    """
    xp = get_array_module(x=x, w=w, b=b)
    func = "affine_forward"
    check_floating(func, "x", x, xp)
    check_same_dtype(func, xp, x=x, w=w, b=b)
    check_ndim(func, "w", w, 2, "(D, M)")
    if x.ndim < 1:
        raise ValueError(f"{func}: x must have shape (N, d_1, ..., d_k), got a 0-d array")
    n, d = x.shape[0], math.prod(x.shape[1:])
    check_shape(func, "w", w, (d, w.shape[1]), f"D = prod(x.shape[1:]) = {d} for x of shape "
                f"{tuple(x.shape)}")
    check_shape(func, "b", b, (w.shape[1],), "M = w.shape[1]")
    out = xp.reshape(x, (n, d)) @ w
    out += b  # in place on the fresh product: no second (N, M) array
    return out, (x, w)


def affine_backward(
    dout: Any, cache: tuple[Any, Any], *, compute_dx: bool = True
) -> tuple[Any, Any, Any]:
    """Backward pass of an affine layer.

    Parameters
    ----------
    dout : array, shape (N, M)
        Upstream gradient.
    cache : tuple
        From :func:`affine_forward`.
    compute_dx : bool, keyword-only
        Set to False for a network's first layer, whose input gradient nobody uses;
        ``dx`` is then ``None`` and the (N, D) x (D, M) product is skipped.

    Returns
    -------
    dx : array, shape (N, d_1, ..., d_k), or None
    dw : array, shape (D, M)
    db : array, shape (M,)
    """
    x, w = cache
    xp = get_array_module(dout=dout, x=x, w=w)
    n = x.shape[0]
    check_shape("affine_backward", "dout", dout, (n, w.shape[1]), "(N, M) as in the forward")
    x_flat = xp.reshape(x, (n, w.shape[0]))
    dw = xp.matrix_transpose(x_flat) @ dout
    db = xp.sum(dout, axis=0)
    dx = xp.reshape(dout @ xp.matrix_transpose(w), x.shape) if compute_dx else None
    return dx, dw, db
