"""Vanilla recurrent layer: ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)``, one step or a sequence."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backend import get_array_module
from ..backend.checks import (
    as_dtype,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ._recurrent import (
    check_sequence,
    check_weights,
    input_projection,
    previous_states,
    sequence_weight_grads,
)

__all__ = [
    "RNNCache",
    "RNNStepCache",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]


class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_backward` needs (arrays in the compute dtype)."""

    x: Any
    prev_h: Any
    Wx: Any
    Wh: Any
    next_h: Any
    in_dtypes: tuple[Any, ...] | None = None


class RNNCache(NamedTuple):
    """What :func:`rnn_backward` needs (arrays in the compute dtype)."""

    x: Any
    h0: Any
    Wx: Any
    Wh: Any
    h: Any
    in_dtypes: tuple[Any, ...] | None = None


def rnn_step_forward(x: Any, prev_h: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, RNNStepCache]:
    """One time step of a vanilla RNN with a tanh nonlinearity.

    Parameters
    ----------
    x : array, shape (N, D)
    prev_h : array, shape (N, H)
    Wx : array, shape (D, H)
    Wh : array, shape (H, H)
    b : array, shape (H,)

    Returns
    -------
    next_h : array, shape (N, H), in the promoted dtype of the inputs
    cache : RNNStepCache

    Raises
    ------
    ValueError
        For shapes that do not fit together (the message names the argument).
    TypeError
        For non-real dtypes, no floating input, or arrays of different libraries.
    """
    xp = get_array_module(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    func = "rnn_step_forward"
    dtype, cast = promote(func, xp, x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    in_dtypes = input_dtypes(dtype, x, prev_h, Wx, Wh, b)
    x, prev_h, Wx, Wh, b = cast
    check_ndim(func, "x", x, 2, "(N, D)")
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    check_shape(func, "prev_h", prev_h, (x.shape[0], prev_h.shape[1]), "N = x.shape[0]")
    check_weights(func, x, prev_h, Wx, Wh, b, 1)
    a = x @ Wx
    a += prev_h @ Wh
    a += b
    next_h = xp.tanh(a)
    return next_h, RNNStepCache(x, prev_h, Wx, Wh, next_h, in_dtypes)


def rnn_step_backward(dnext_h: Any, cache: RNNStepCache) -> tuple[Any, Any, Any, Any, Any]:
    """Backward pass of :func:`rnn_step_forward`.

    Parameters
    ----------
    dnext_h : array, shape (N, H)
    cache : RNNStepCache

    Returns
    -------
    dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,)
        Each in the dtype of the forward input it belongs to (when that was floating).
    """
    x, prev_h, Wx, Wh, next_h, in_dtypes = cache
    xp = get_array_module(dnext_h=dnext_h, x=x)
    check_shape("rnn_step_backward", "dnext_h", dnext_h, tuple(next_h.shape),
                "(N, H) as the forward's next_h")
    da = as_dtype(xp, dnext_h, next_h.dtype) * (1 - next_h * next_h)
    dx = da @ xp.matrix_transpose(Wx)
    dprev_h = da @ xp.matrix_transpose(Wh)
    dWx = xp.matrix_transpose(x) @ da
    dWh = xp.matrix_transpose(prev_h) @ da
    db = xp.sum(da, axis=0)
    return grads_as_inputs(xp, (dx, dprev_h, dWx, dWh, db), in_dtypes)


def rnn_forward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, RNNCache]:
    """A vanilla RNN over whole sequences of T steps, starting from the hidden state ``h0``.

    Parameters
    ----------
    x : array, shape (N, T, D)
    h0 : array, shape (N, H)
    Wx : array, shape (D, H)
    Wh : array, shape (H, H)
    b : array, shape (H,)

    Returns
    -------
    h : array, shape (N, T, H)
        The hidden state after every step, in the promoted dtype of the inputs.
    cache : RNNCache

    Raises
    ------
    ValueError
        For shapes that do not fit together (the message names the argument).
    TypeError
        For non-real dtypes, no floating input, or arrays of different libraries.
    """
    xp = get_array_module(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    func = "rnn_forward"
    dtype, cast = promote(func, xp, x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    in_dtypes = input_dtypes(dtype, x, h0, Wx, Wh, b)
    x, h0, Wx, Wh, b = cast
    check_sequence(func, x, h0)
    check_weights(func, x, h0, Wx, Wh, b, 1)
    a = input_projection(xp, x, Wx, b)
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = xp.tanh(a[:, t, :] + h @ Wh)
        hs.append(h)
    h_all = xp.stack(hs, axis=1)
    return h_all, RNNCache(x, h0, Wx, Wh, h_all, in_dtypes)


def rnn_backward(dh: Any, cache: RNNCache) -> tuple[Any, Any, Any, Any, Any]:
    """Backward pass of :func:`rnn_forward`.

    Parameters
    ----------
    dh : array, shape (N, T, H)
        Upstream gradient of every hidden state.
    cache : RNNCache

    Returns
    -------
    dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)
        Each in the dtype of the forward input it belongs to (when that was floating).
    """
    x, h0, Wx, Wh, h, in_dtypes = cache
    xp = get_array_module(dh=dh, x=x)
    check_shape("rnn_backward", "dh", dh, tuple(h.shape), "(N, T, H) as the forward's h")
    dh = as_dtype(xp, dh, h.dtype)
    da_steps = []
    dprev = xp.zeros_like(h0)
    wh_t = xp.matrix_transpose(Wh)
    for t in reversed(range(h.shape[1])):
        h_t = h[:, t, :]
        da = (dh[:, t, :] + dprev) * (1 - h_t * h_t)
        dprev = da @ wh_t
        da_steps.append(da)
    da_all = xp.stack(da_steps[::-1], axis=1)
    dx, dWx, dWh, db = sequence_weight_grads(xp, x, previous_states(xp, h0, h), da_all, Wx)
    return grads_as_inputs(xp, (dx, dprev, dWx, dWh, db), in_dtypes)
