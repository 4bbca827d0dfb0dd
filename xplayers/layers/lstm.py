"""Long short-term memory layer, one step or a sequence.

The gates come from one affine map ``a = x @ Wx + prev_h @ Wh + b`` of width 4H, split in
the course's order: input ``i``, forget ``f``, output ``o`` (sigmoids) and the candidate
``g`` (tanh); ``next_c = f * prev_c + i * g`` and ``next_h = o * tanh(next_c)``.
"""

from __future__ import annotations

from types import ModuleType
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
    "LSTMCache",
    "LSTMStepCache",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "sigmoid",
]


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_backward` needs (arrays in the compute dtype)."""

    x: Any
    prev_h: Any
    prev_c: Any
    Wx: Any
    Wh: Any
    gates: Any
    """(N, 4H): i, f, o after their sigmoid and g after its tanh."""
    tanh_c: Any
    in_dtypes: tuple[Any, ...] | None = None


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs (arrays in the compute dtype)."""

    x: Any
    h0: Any
    Wx: Any
    Wh: Any
    h: Any
    """(N, T, H) hidden states."""
    c: Any
    """(N, T, H) cell states."""
    gates: Any
    """(N, T, 4H) activated gates of every step."""
    in_dtypes: tuple[Any, ...] | None = None


def sigmoid(xp: ModuleType, a: Any) -> Any:
    """``1 / (1 + exp(-a))`` as ``(1 + tanh(a / 2)) / 2``: no overflow for any ``a``."""
    return (xp.tanh(a * 0.5) + 1) * 0.5


def _activate(xp: ModuleType, a: Any, hidden: int) -> Any:
    """Sigmoid on the first 3H columns (i, f, o), tanh on the last H (g)."""
    return xp.concat([sigmoid(xp, a[..., : 3 * hidden]), xp.tanh(a[..., 3 * hidden :])],
                     axis=-1)


def _cell(xp: ModuleType, gates: Any, prev_c: Any, hidden: int) -> tuple[Any, Any, Any]:
    """next_h, next_c and tanh(next_c) from the activated gates."""
    i, f = gates[..., :hidden], gates[..., hidden : 2 * hidden]
    o, g = gates[..., 2 * hidden : 3 * hidden], gates[..., 3 * hidden :]
    next_c = f * prev_c + i * g
    tanh_c = xp.tanh(next_c)
    return o * tanh_c, next_c, tanh_c


def _gate_grads(
    xp: ModuleType, dnext_h: Any, dnext_c: Any, gates: Any, prev_c: Any, tanh_c: Any,
    hidden: int,
) -> tuple[Any, Any]:
    """The pre-activation gradient da (N, 4H) and dprev_c (N, H) of one step."""
    i, f = gates[..., :hidden], gates[..., hidden : 2 * hidden]
    o, g = gates[..., 2 * hidden : 3 * hidden], gates[..., 3 * hidden :]
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    da = xp.concat([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                    dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g * g)], axis=-1)
    return da, dc * f


def lstm_step_forward(
    x: Any, prev_h: Any, prev_c: Any, Wx: Any, Wh: Any, b: Any
) -> tuple[Any, Any, LSTMStepCache]:
    """One time step of an LSTM.

    Parameters
    ----------
    x : array, shape (N, D)
    prev_h, prev_c : arrays, shape (N, H)
    Wx : array, shape (D, 4H)
    Wh : array, shape (H, 4H)
    b : array, shape (4H,)
        Columns ordered i, f, o, g in blocks of H.

    Returns
    -------
    next_h, next_c : arrays, shape (N, H), in the promoted dtype of the inputs
    cache : LSTMStepCache

    Raises
    ------
    ValueError
        For shapes that do not fit together (the message names the argument).
    TypeError
        For non-real dtypes, no floating input, or arrays of different libraries.
    """
    xp = get_array_module(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    func = "lstm_step_forward"
    dtype, cast = promote(func, xp, x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    in_dtypes = input_dtypes(dtype, x, prev_h, prev_c, Wx, Wh, b)
    x, prev_h, prev_c, Wx, Wh, b = cast
    check_ndim(func, "x", x, 2, "(N, D)")
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    check_shape(func, "prev_h", prev_h, (x.shape[0], prev_h.shape[1]), "N = x.shape[0]")
    check_shape(func, "prev_c", prev_c, tuple(prev_h.shape), "(N, H) as prev_h")
    check_weights(func, x, prev_h, Wx, Wh, b, 4)
    hidden = prev_h.shape[1]
    a = x @ Wx
    a += prev_h @ Wh
    a += b
    gates = _activate(xp, a, hidden)
    next_h, next_c, tanh_c = _cell(xp, gates, prev_c, hidden)
    return next_h, next_c, LSTMStepCache(x, prev_h, prev_c, Wx, Wh, gates, tanh_c, in_dtypes)


def lstm_step_backward(
    dnext_h: Any, dnext_c: Any, cache: LSTMStepCache
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Backward pass of :func:`lstm_step_forward`.

    Parameters
    ----------
    dnext_h, dnext_c : arrays, shape (N, H)
    cache : LSTMStepCache

    Returns
    -------
    dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
        Each in the dtype of the forward input it belongs to (when that was floating).
    """
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c, in_dtypes = cache
    xp = get_array_module(dnext_h=dnext_h, dnext_c=dnext_c, x=x)
    func = "lstm_step_backward"
    check_shape(func, "dnext_h", dnext_h, tuple(prev_h.shape), "(N, H) as the forward's next_h")
    check_shape(func, "dnext_c", dnext_c, tuple(prev_h.shape), "(N, H) as the forward's next_c")
    dnext_h, dnext_c = as_dtype(xp, dnext_h, x.dtype), as_dtype(xp, dnext_c, x.dtype)
    da, dprev_c = _gate_grads(xp, dnext_h, dnext_c, gates, prev_c, tanh_c, prev_h.shape[1])
    dx = da @ xp.matrix_transpose(Wx)
    dprev_h = da @ xp.matrix_transpose(Wh)
    dWx = xp.matrix_transpose(x) @ da
    dWh = xp.matrix_transpose(prev_h) @ da
    db = xp.sum(da, axis=0)
    return grads_as_inputs(xp, (dx, dprev_h, dprev_c, dWx, dWh, db), in_dtypes)


def lstm_forward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, LSTMCache]:
    """An LSTM over whole sequences of T steps, from hidden state ``h0`` and cell state 0.

    Parameters
    ----------
    x : array, shape (N, T, D)
    h0 : array, shape (N, H)
    Wx : array, shape (D, 4H)
    Wh : array, shape (H, 4H)
    b : array, shape (4H,)
        Columns ordered i, f, o, g in blocks of H.

    Returns
    -------
    h : array, shape (N, T, H)
        The hidden state after every step, in the promoted dtype of the inputs.
    cache : LSTMCache

    Raises
    ------
    ValueError
        For shapes that do not fit together (the message names the argument).
    TypeError
        For non-real dtypes, no floating input, or arrays of different libraries.
    """
    xp = get_array_module(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    func = "lstm_forward"
    dtype, cast = promote(func, xp, x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    in_dtypes = input_dtypes(dtype, x, h0, Wx, Wh, b)
    x, h0, Wx, Wh, b = cast
    check_sequence(func, x, h0)
    check_weights(func, x, h0, Wx, Wh, b, 4)
    hidden = h0.shape[1]
    a_all = input_projection(xp, x, Wx, b)
    hs, cs, gs = [], [], []
    h, c = h0, xp.zeros_like(h0)
    for t in range(x.shape[1]):
        gates = _activate(xp, a_all[:, t, :] + h @ Wh, hidden)
        h, c, _ = _cell(xp, gates, c, hidden)
        hs.append(h)
        cs.append(c)
        gs.append(gates)
    h_all = xp.stack(hs, axis=1)
    cache = LSTMCache(x, h0, Wx, Wh, h_all, xp.stack(cs, axis=1), xp.stack(gs, axis=1),
                      in_dtypes)
    return h_all, cache


def lstm_backward(dh: Any, cache: LSTMCache) -> tuple[Any, Any, Any, Any, Any]:
    """Backward pass of :func:`lstm_forward`.

    Parameters
    ----------
    dh : array, shape (N, T, H)
        Upstream gradient of every hidden state (the cell states get none from outside).
    cache : LSTMCache

    Returns
    -------
    dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
        Each in the dtype of the forward input it belongs to (when that was floating).
    """
    x, h0, Wx, Wh, h, c, gates, in_dtypes = cache
    xp = get_array_module(dh=dh, x=x)
    check_shape("lstm_backward", "dh", dh, tuple(h.shape), "(N, T, H) as the forward's h")
    dh = as_dtype(xp, dh, h.dtype)
    hidden = h0.shape[1]
    dprev_h, dprev_c = xp.zeros_like(h0), xp.zeros_like(h0)
    wh_t = xp.matrix_transpose(Wh)
    da_steps = []
    for t in reversed(range(h.shape[1])):
        prev_c = c[:, t - 1, :] if t else xp.zeros_like(h0)
        da, dprev_c = _gate_grads(xp, dh[:, t, :] + dprev_h, dprev_c, gates[:, t, :], prev_c,
                                  xp.tanh(c[:, t, :]), hidden)
        dprev_h = da @ wh_t
        da_steps.append(da)
    da_all = xp.stack(da_steps[::-1], axis=1)
    dx, dWx, dWh, db = sequence_weight_grads(xp, x, previous_states(xp, h0, h), da_all, Wx)
    return grads_as_inputs(xp, (dx, dprev_h, dWx, dWh, db), in_dtypes)
