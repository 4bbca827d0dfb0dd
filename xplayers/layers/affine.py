"""Affine (fully-connected) layer: ``out = x.reshape(N, D) @ w + b``."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..backend.blas_threads import matmul
from ..backend.checks import (
    as_dtype,
    check_floating,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ..backend.namespace import get_array_module

__all__ = ["AffineCache", "affine_backward", "affine_forward"]


class AffineCache(NamedTuple):
    """What :func:`affine_backward` needs."""

    x: Any
    """The input, in the compute dtype."""
    w: Any
    """The weights, in the compute dtype."""
    in_dtypes: tuple[Any, ...] | None = None
    """Dtypes of x, w, b as given, when one differed from the compute dtype."""
    has_bias: bool = True


def affine_forward(x: Any, w: Any, b: Any | None) -> tuple[Any, AffineCache]:
    """Forward pass of an affine layer.

    Mixed dtypes are promoted (float32 with float64 computes in float64; an integer ``w`` or
    ``b`` takes x's floating dtype), see :func:`xplayers._checks.promote`.

    Parameters
    ----------
    x : array, shape (N, d_1, ..., d_k)
        A minibatch of N examples; each is flattened to D = d_1 * ... * d_k values.
    w : array, shape (D, M)
    b : array, shape (M,), or None
        None: no bias (the backward then returns ``db = None``).

    Returns
    -------
    out : array, shape (N, M), in the promoted dtype
    cache : AffineCache
        What :func:`affine_backward` needs.

    Raises
    ------
    ValueError
        For a 0-d ``x``, ``w`` not of shape (D, M), or ``b`` not of shape (M,).
    TypeError
        For a non-floating ``x``, a complex dtype, or arrays of different libraries.
    """
    xp = get_array_module(x=x, w=w, b=b)
    func = "affine_forward"
    check_floating(func, "x", x, xp)
    dtype, (x_c, w_c, b_c) = promote(func, xp, x=x, w=w, b=b)
    in_dtypes = input_dtypes(dtype, x, w, b)
    x, w, b = x_c, w_c, b_c
    check_ndim(func, "w", w, 2, "(D, M)")
    if x.ndim < 1:
        raise ValueError(f"{func}: x must have shape (N, d_1, ..., d_k), got a 0-d array")
    n, d = x.shape[0], math.prod(x.shape[1:])
    check_shape(func, "w", w, (d, w.shape[1]), f"D = prod(x.shape[1:]) = {d} for x of shape "
                f"{tuple(x.shape)}")
    if b is not None:
        check_shape(func, "b", b, (w.shape[1],), "M = w.shape[1]")
    out = matmul(xp, xp.reshape(x, (n, d)), w)
    if b is not None:
        out += b  # in place on the fresh product: no second (N, M) array
    return out, AffineCache(x, w, in_dtypes, b is not None)


def affine_backward(
    dout: Any, cache: AffineCache, *, compute_dx: bool = True
) -> tuple[Any, Any, Any]:
    """Backward pass of an affine layer.

    Parameters
    ----------
    dout : array, shape (N, M)
        Upstream gradient; cast to the forward's compute dtype (its output's dtype) when it
        differs.
    cache : AffineCache
        From :func:`affine_forward`.
    compute_dx : bool, keyword-only
        Set to False for a network's first layer, whose input gradient nobody uses;
        ``dx`` is then ``None`` and the (N, D) x (D, M) product is skipped.

    Returns
    -------
    dx : array, shape (N, d_1, ..., d_k), or None
    dw : array, shape (D, M)
    db : array, shape (M,), or None when the forward had no bias
        Each in the dtype of the forward's input it belongs to (x, w, b) when that was
        floating, else in the compute dtype.
    """
    x, w, in_dtypes, has_bias = cache
    xp = get_array_module(dout=dout, x=x, w=w)
    n = x.shape[0]
    check_shape("affine_backward", "dout", dout, (n, w.shape[1]), "(N, M) as in the forward")
    dout = as_dtype(xp, dout, x.dtype)
    x_flat = xp.reshape(x, (n, w.shape[0]))
    dw = matmul(xp, xp.matrix_transpose(x_flat), dout)
    db = xp.sum(dout, axis=0) if has_bias else None
    dx = xp.reshape(matmul(xp, dout, xp.matrix_transpose(w)), x.shape) if compute_dx else None
    return grads_as_inputs(xp, (dx, dw, db), in_dtypes)
