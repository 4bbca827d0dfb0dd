"""Layers applied at every time step of (N, T, ...) sequences: an affine map and a masked
softmax loss over a vocabulary."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backend import get_array_module
from ..backend.checks import (
    as_dtype,
    check_floating,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ._recurrent import flat
from .word_embedding import check_indices

__all__ = [
    "TemporalAffineCache",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
]


class TemporalAffineCache(NamedTuple):
    """What :func:`temporal_affine_backward` needs (arrays in the compute dtype)."""

    x: Any
    w: Any
    in_dtypes: tuple[Any, ...] | None = None


def temporal_affine_forward(x: Any, w: Any, b: Any) -> tuple[Any, TemporalAffineCache]:
    """The affine map ``x[:, t] @ w + b`` at every time step.

    Parameters
    ----------
    x : array, shape (N, T, D)
    w : array, shape (D, M)
    b : array, shape (M,)

    Returns
    -------
    out : array, shape (N, T, M), in the promoted dtype of the inputs
    cache : TemporalAffineCache

    Raises
    ------
    ValueError
        For shapes that do not fit together (the message names the argument).
    TypeError
        For non-real dtypes, no floating input, or arrays of different libraries.
    """
    xp = get_array_module(x=x, w=w, b=b)
    func = "temporal_affine_forward"
    dtype, cast = promote(func, xp, x=x, w=w, b=b)
    in_dtypes = input_dtypes(dtype, x, w, b)
    x, w, b = cast
    check_ndim(func, "x", x, 3, "(N, T, D)")
    check_ndim(func, "w", w, 2, "(D, M)")
    check_shape(func, "w", w, (x.shape[2], w.shape[1]), f"D = x.shape[2] = {x.shape[2]}")
    check_shape(func, "b", b, (w.shape[1],), "M = w.shape[1]")
    out = flat(xp, x) @ w
    out += b
    return xp.reshape(out, (x.shape[0], x.shape[1], w.shape[1])), TemporalAffineCache(
        x, w, in_dtypes)


def temporal_affine_backward(dout: Any, cache: TemporalAffineCache) -> tuple[Any, Any, Any]:
    """Backward pass of :func:`temporal_affine_forward`.

    Parameters
    ----------
    dout : array, shape (N, T, M)
    cache : TemporalAffineCache

    Returns
    -------
    dx (N, T, D), dw (D, M), db (M,)
        Each in the dtype of the forward input it belongs to (when that was floating).
    """
    x, w, in_dtypes = cache
    xp = get_array_module(dout=dout, x=x)
    n, t, _ = x.shape
    check_shape("temporal_affine_backward", "dout", dout, (n, t, w.shape[1]),
                "(N, T, M) as the forward's out")
    dout_flat = flat(xp, as_dtype(xp, dout, x.dtype))
    dx = xp.reshape(dout_flat @ xp.matrix_transpose(w), x.shape)
    dw = xp.matrix_transpose(flat(xp, x)) @ dout_flat
    db = xp.sum(dout_flat, axis=0)
    return grads_as_inputs(xp, (dx, dw, db), in_dtypes)


def temporal_softmax_loss(x: Any, y: Any, mask: Any, verbose: bool = False) -> tuple[Any, Any]:
    """Softmax cross-entropy at every time step where ``mask`` is set, as in the course.

    ``loss = -sum_{n, t} mask[n, t] * log softmax(x[n, t])[y[n, t]] / N``: summed over time,
    averaged over the minibatch. Computed with log-sum-exp, finite for logits of any size.

    Parameters
    ----------
    x : array, shape (N, T, V)
        Scores over a vocabulary of V words.
    y : integer array, shape (N, T)
        Target words in [0, V) (also where ``mask`` is off).
    mask : array, shape (N, T), boolean (or 0/1 numbers)
        Which steps count.
    verbose : bool
        Print the shape of the flattened gradient, as the course's version does.

    Returns
    -------
    loss : 0-d array, x's dtype
    dx : array, shape (N, T, V)

    Raises
    ------
    TypeError
        For a non-floating ``x``, a non-integer ``y``, a mask that is neither boolean nor
        real, or arrays of different libraries.
    ValueError
        For shapes that do not fit together or targets outside [0, V).
    """
    xp = get_array_module(x=x, y=y, mask=mask)
    func = "temporal_softmax_loss"
    check_floating(func, "x", x, xp)
    check_ndim(func, "x", x, 3, "(N, T, V)")
    n, t, v = x.shape
    if n == 0:
        raise ValueError(f"{func}: x must hold at least one sequence, got shape {tuple(x.shape)}")
    check_shape(func, "y", y, (n, t), "(N, T) as x's first two axes")
    check_shape(func, "mask", mask, (n, t), "(N, T) as x's first two axes")
    y = check_indices(func, "y", y, v, xp)
    mask = _mask_as(func, xp, mask, x.dtype)
    onehot = y[:, :, None] == xp.arange(v, dtype=xp.int64, device=x.device)
    shifted = x - xp.max(x, axis=2, keepdims=True)
    log_probs = shifted - xp.log(xp.sum(xp.exp(shifted), axis=2, keepdims=True))
    zero = xp.zeros((), dtype=x.dtype, device=x.device)
    picked = xp.sum(xp.where(onehot, log_probs, zero), axis=2)
    loss = xp.asarray(-xp.sum(picked * mask) / n, device=x.device)
    dx = (xp.exp(log_probs) - xp.astype(onehot, x.dtype)) * (mask[:, :, None] / n)
    if verbose:
        print("dx_flat: ", (n * t, v))
    return loss, dx


def _mask_as(func: str, xp: Any, mask: Any, dtype: Any) -> Any:
    if not xp.isdtype(mask.dtype, ("bool", "integral", "real floating")):
        raise TypeError(f"{func}: mask must be boolean (or 0/1 numbers), got dtype {mask.dtype}")
    return xp.astype(mask, dtype)
