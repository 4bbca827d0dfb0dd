"""What the recurrent layers share: argument checks and the products hoisted out of the loop.

The input-to-hidden products of every time step are one ``(N*T, D) @ (D, G)`` matrix
product, and so are the weight gradients: only the hidden-to-hidden product stays inside
the Python loop over time.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..backend.checks import check_ndim, check_shape

__all__ = [
    "check_sequence",
    "check_weights",
    "flat",
    "input_projection",
    "previous_states",
    "sequence_weight_grads",
]


def check_weights(func: str, x: Any, h: Any, Wx: Any, Wh: Any, b: Any, gates: int) -> None:
    """Check ``Wx`` (D, G*H), ``Wh`` (H, G*H), ``b`` (G*H,) against x (..., D), h (N, H)."""
    d, hidden = x.shape[-1], h.shape[-1]
    spelled = "H" if gates == 1 else f"{gates}H"
    check_ndim(func, "Wx", Wx, 2, f"(D, {spelled})")
    check_shape(func, "Wx", Wx, (d, gates * hidden),
                f"(D, {spelled}) with D = {d} from x and H = {hidden} from the hidden state")
    check_shape(func, "Wh", Wh, (hidden, gates * hidden), f"(H, {spelled}) with H = {hidden}")
    check_shape(func, "b", b, (gates * hidden,), f"({spelled},) with H = {hidden}")


def flat(xp: ModuleType, a: Any) -> Any:
    """(N, T, K) as (N*T, K)."""
    return xp.reshape(a, (a.shape[0] * a.shape[1], a.shape[2]))


def input_projection(xp: ModuleType, x: Any, Wx: Any, b: Any) -> Any:
    """``x @ Wx + b`` for every time step at once: (N, T, D) -> (N, T, G)."""
    n, t, _ = x.shape
    out = flat(xp, x) @ Wx
    out += b
    return xp.reshape(out, (n, t, Wx.shape[1]))


def sequence_weight_grads(
    xp: ModuleType, x: Any, h_prev: Any, da: Any, Wx: Any
) -> tuple[Any, Any, Any, Any]:
    """dx, dWx, dWh, db from the pre-activation gradients ``da`` (N, T, G) of every step.

    ``h_prev`` (N, T, H) holds the hidden state each step started from.
    """
    da_flat = flat(xp, da)
    dx = xp.reshape(da_flat @ xp.matrix_transpose(Wx), x.shape)
    dWx = xp.matrix_transpose(flat(xp, x)) @ da_flat
    dWh = xp.matrix_transpose(flat(xp, h_prev)) @ da_flat
    db = xp.sum(da_flat, axis=0)
    return dx, dWx, dWh, db


def check_sequence(func: str, x: Any, h0: Any) -> None:
    """Check x (N, T, D) with T >= 1 and h0 (N, H)."""
    check_ndim(func, "x", x, 3, "(N, T, D)")
    if x.shape[1] == 0:
        raise ValueError(f"{func}: x must hold at least one time step, got shape "
                         f"{tuple(x.shape)}")
    check_ndim(func, "h0", h0, 2, "(N, H)")
    check_shape(func, "h0", h0, (x.shape[0], h0.shape[1]), "N = x.shape[0]")


def previous_states(xp: ModuleType, h0: Any, h: Any) -> Any:
    """The state each step started from: h0, h_1, ..., h_{T-1}, as (N, T, H)."""
    return xp.concat([h0[:, None, :], h[:, :-1, :]], axis=1)
