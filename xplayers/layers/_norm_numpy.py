"""NumPy fast paths of the normalisation core in :mod:`._norm`: fewer passes, no big temporaries.

``x`` is viewed as ``(P, Q, R)``: the statistics' axes are a leading block (P elements) and a
trailing block (R elements) around the kept axes (Q statistics), which covers spatial batch
norm (N | C | H*W), group norm (- | N*G | C/G*H*W) and layer norm (- | N | D). Sums then run
along contiguous rows and products are summed by ``np.vecdot`` without a temporary. Each
function returns ``NotImplemented`` (see :mod:`xplayers._fast_paths`) for inputs it does not
handle; results equal the portable body's up to rounding.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

# Below this many elements per row, row-wise reductions cost more in loop overhead than the
# portable body's reductions.
_MIN_ROW = 16

Layout = tuple[int, int, int]


def layout(x: Any, axes: tuple[int, ...]) -> Layout | None:
    """``(P, Q, R)`` for a NumPy float array ``x`` normalised over ``axes``, or None.

    None when ``x`` is not a NumPy float array of at most 8 bytes per element, when the kept
    axes are not one contiguous run, or when rows would be shorter than ``_MIN_ROW``.
    """
    if type(x) is not np.ndarray or x.dtype.kind != "f" or x.dtype.itemsize > 8:
        return None
    kept = [i for i in range(x.ndim) if i not in axes]
    if not kept or kept != list(range(kept[0], kept[-1] + 1)):
        return None
    p = math.prod(x.shape[: kept[0]])
    q = math.prod(x.shape[kept[0] : kept[-1] + 1])
    r = math.prod(x.shape[kept[-1] + 1 :])
    if r < _MIN_ROW or p * r == 0:
        return None
    return p, q, r


def sums(x: np.ndarray, pqr: Layout) -> np.ndarray:
    """Sum of ``x`` over the statistics' axes: shape (Q,)."""
    return np.reshape(x, pqr).sum(axis=2).sum(axis=0)


def dots(a: np.ndarray, b: np.ndarray, pqr: Layout) -> np.ndarray:
    """Sum of ``a * b`` over the statistics' axes, without a temporary: shape (Q,)."""
    return np.vecdot(np.reshape(a, pqr), np.reshape(b, pqr)).sum(axis=0)


def _column(values: np.ndarray) -> np.ndarray:
    return values[None, :, None]


def normalize(xp: ModuleType, x: Any, axes: tuple[int, ...], eps: float) -> Any:
    """:func:`._norm.normalize` for NumPy arrays with a layout (see :func:`layout`)."""
    pqr = layout(x, axes)
    if pqr is None:
        return NotImplemented
    count = pqr[0] * pqr[2]
    kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    mean = sums(x, pqr) / count
    xhat = np.subtract(np.reshape(x, pqr), _column(mean))
    with np.errstate(over="ignore"):  # an overflow is caught just below
        var = dots(xhat, xhat, pqr) / count
    if not np.isfinite(var).all():
        # Squares overflowed (or NaN): the portable body scales them (bit for bit this
        # path's numbers where nothing overflows).
        return NotImplemented
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= _column(inv_std)
    return (np.reshape(xhat, x.shape), np.reshape(inv_std, kept_shape),
            np.reshape(mean, kept_shape), np.reshape(var, kept_shape))


def normalize_backward(xp: ModuleType, dxhat: Any, xhat: Any, inv_std: Any,
                       axes: tuple[int, ...]) -> Any:
    """:func:`._norm.normalize_backward` for NumPy arrays with a layout, in three passes."""
    pqr = layout(dxhat, axes)
    if pqr is None or type(xhat) is not np.ndarray:
        return NotImplemented
    count = pqr[0] * pqr[2]
    mean_dxhat = _column(sums(dxhat, pqr) / count)
    mean_dxhat_xhat = _column(dots(dxhat, xhat, pqr) / count)
    dx = np.multiply(np.reshape(xhat, pqr), mean_dxhat_xhat)
    dx += mean_dxhat
    np.subtract(np.reshape(dxhat, pqr), dx, out=dx)
    dx *= _column(np.reshape(inv_std, -1))
    return np.reshape(dx, dxhat.shape)


def scale_shift_backward(
    xp: ModuleType, dout: Any, xhat: Any, inv_std: Any, gamma: Any, axes: tuple[int, ...],
    param_axes: tuple[int, ...], batch_stats: bool,
) -> Any:
    """:func:`._norm.scale_shift_backward` of spatial batch norm and group norm.

    From two sums per (example, channel) over H and W, s1 = sum(dout) and
    s2 = sum(dout * xhat), the closed form of :func:`._norm.normalize_backward` with
    ``dxhat = gamma * dout`` has ``mean(dxhat) = sum(gamma * s1) / m`` and
    ``mean(dxhat * xhat) = sum(gamma * s2) / m`` (sums over the statistic's channels, and
    examples for batch norm), so ``dx = a * dout + b * xhat + shift`` per (example, channel).
    """
    batch_norm = dout.ndim == 4 and axes == param_axes == (0, 2, 3)
    group_norm = dout.ndim == 5 and axes == (2, 3, 4) and param_axes == (0, 3, 4)
    if (not (batch_norm or group_norm) or type(xhat) is not np.ndarray
            or layout(dout, param_axes) is None):
        return NotImplemented
    n, hw = dout.shape[0], math.prod(dout.shape[-2:])
    c = math.prod(dout.shape[1:-2])
    d3 = np.reshape(dout, (n, c, hw))
    x3 = np.reshape(xhat, (n, c, hw))
    s1, s2 = d3.sum(axis=2), np.vecdot(d3, x3)  # (N, C)
    dbeta, dgamma = s1.sum(axis=0), s2.sum(axis=0)
    g = np.reshape(gamma, (1, c))
    if batch_norm:  # one statistic per channel, over N, H and W
        a = g * np.reshape(inv_std, (1, c))
        if batch_stats:
            m = n * hw
            b, shift = -a * dgamma / m, -a * dbeta / m
        else:  # test mode: the running statistics are constants
            b = shift = np.zeros_like(a)
    else:  # group norm: one statistic per example and group of C // G channels
        groups, size = dout.shape[1], dout.shape[2]
        m = size * hw
        mean_dxhat = np.reshape(g * s1, (n, groups, size)).sum(axis=2) / m
        mean_dxhat_xhat = np.reshape(g * s2, (n, groups, size)).sum(axis=2) / m
        inv = np.reshape(inv_std, (n, groups))
        # Per group (N, G) -> per channel (N, C): each group's value for its C // G channels.
        a = np.repeat(inv, size, axis=1) * g
        b = -np.repeat(inv * mean_dxhat_xhat, size, axis=1)
        shift = -np.repeat(inv * mean_dxhat, size, axis=1)
    dx = _combine(d3, x3, a[..., None], b[..., None], shift[..., None])
    kept = tuple(1 if i in param_axes else s for i, s in enumerate(dout.shape))
    return (np.reshape(dx, dout.shape), np.reshape(dgamma, kept), np.reshape(dbeta, kept))


def _combine(dout: np.ndarray, xhat: np.ndarray, a: np.ndarray, b: np.ndarray,
            c: np.ndarray) -> np.ndarray:
    """``a * dout + b * xhat + c`` for (N, C, R) arrays and coefficients of shape (1, C, 1) or
    (N, C, 1): every normalisation's backward in that form, without a full-size temporary
    (the products go a block of examples at a time through a small buffer)."""
    n, ch, r = dout.shape
    dx = np.empty_like(dout)
    block = max(1, (1 << 18) // max(1, ch * r * dout.itemsize))
    scratch = np.empty((min(block, n), ch, r), dtype=dout.dtype)

    def rows(coef: np.ndarray, start: int, stop: int) -> np.ndarray:
        return coef if coef.shape[0] == 1 else coef[start:stop]

    for start in range(0, n, block):
        stop = min(start + block, n)
        part, out = scratch[: stop - start], dx[start:stop]
        np.multiply(xhat[start:stop], rows(b, start, stop), out=out)
        out += rows(c, start, stop)
        np.multiply(dout[start:stop], rows(a, start, stop), out=part)
        out += part
    return dx
