"""NumPy fast path of the normalisation maths in :mod:`._norm`: fewer passes, no big temporaries.

The portable body takes means with ``xp.mean(..., axis=axes)`` over interleaved axes (slow in
NumPy), and builds a temporary the size of ``x`` for every product. Here ``x`` is viewed as
``(P, Q, R)``: the statistics' axes are a leading block (P elements) and a trailing block (R
elements) around the kept axes (Q statistics), which covers spatial batch norm (N | C | H*W),
group norm (- | N*G | C/G*H*W) and layer norm (- | N | D). Sums then run along contiguous
rows, products are summed by ``np.vecdot`` without a temporary, and the elementwise updates
work in place. Results equal the portable body's up to rounding.
"""

from __future__ import annotations

import math
import os
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


def normalize(x: np.ndarray, axes: tuple[int, ...], eps: float,
              pqr: Layout) -> tuple[Any, Any, Any, Any]:
    """:func:`._norm.normalize` for NumPy arrays with a layout (see :func:`layout`)."""
    count = pqr[0] * pqr[2]
    kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    mean = sums(x, pqr) / count
    xhat = np.subtract(np.reshape(x, pqr), _column(mean))
    var = dots(xhat, xhat, pqr) / count
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= _column(inv_std)
    return (np.reshape(xhat, x.shape), np.reshape(inv_std, kept_shape),
            np.reshape(mean, kept_shape), np.reshape(var, kept_shape))


def normalize_backward(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray,
                       pqr: Layout) -> np.ndarray:
    """:func:`._norm.normalize_backward` for NumPy arrays with a layout, in three passes."""
    count = pqr[0] * pqr[2]
    mean_dxhat = _column(sums(dxhat, pqr) / count)
    mean_dxhat_xhat = _column(dots(dxhat, xhat, pqr) / count)
    dx = np.multiply(np.reshape(xhat, pqr), mean_dxhat_xhat)
    dx += mean_dxhat
    np.subtract(np.reshape(dxhat, pqr), dx, out=dx)
    dx *= _column(np.reshape(inv_std, -1))
    return np.reshape(dx, dxhat.shape)


def combine(dout: np.ndarray, xhat: np.ndarray, a: np.ndarray, b: np.ndarray,
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


# -- group norm as numba kernels (opt-in: XPLAYERS_NUMBA=1) --------------------------------
def group_norm_kernels() -> Any:
    """:mod:`._norm_numba` when ``XPLAYERS_NUMBA=1`` and numba imports, else None."""
    if os.environ.get("XPLAYERS_NUMBA") != "1":
        return None
    try:
        from . import _norm_numba
    except ImportError:
        return None
    return _norm_numba


def numba_group_norm_forward(kernels: Any, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                             groups: int, eps: float) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Group norm forward by the numba kernel.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    gamma, beta : ndarrays, C elements each
    groups : int, dividing C
    eps : float

    Returns
    -------
    out : ndarray (N, C, H, W); xhat : ndarray (N, G, C // G, H, W);
    inv_std : ndarray (N, G, 1, 1, 1)
    """
    n, c, h, w = x.shape
    shape = (n, groups, c // groups, h * w)
    x4 = np.ascontiguousarray(x).reshape(shape)
    xhat = np.empty(shape, dtype=x.dtype)
    out = np.empty(shape, dtype=x.dtype)
    inv_std = np.empty((n, groups), dtype=x.dtype)
    kernels.group_norm_forward(x4, _per_group(gamma, groups, x.dtype),
                               _per_group(beta, groups, x.dtype), float(eps), xhat, out,
                               inv_std)
    return (out.reshape(x.shape), xhat.reshape(n, groups, c // groups, h, w),
            inv_std.reshape(n, groups, 1, 1, 1))


def numba_group_norm_backward(kernels: Any, dout: np.ndarray, xhat: np.ndarray,
                              inv_std: np.ndarray, gamma: np.ndarray,
                              groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group norm backward by the numba kernel: ``dx`` (N, C, H, W), ``dgamma`` and
    ``dbeta`` (C,), from ``dout`` (N, C, H, W) and the forward's ``xhat`` and ``inv_std``."""
    n, c, h, w = dout.shape
    shape = (n, groups, c // groups, h * w)
    d4 = np.ascontiguousarray(dout).reshape(shape)
    x4 = np.ascontiguousarray(xhat).reshape(shape)
    inv = np.ascontiguousarray(inv_std).reshape(n, groups)
    dx = np.empty(shape, dtype=dout.dtype)
    dgamma = np.empty((groups, c // groups), dtype=dout.dtype)
    dbeta = np.empty_like(dgamma)
    kernels.group_norm_backward(d4, x4, inv, _per_group(gamma, groups, dout.dtype), dx,
                                dgamma, dbeta)
    return dx.reshape(dout.shape), dgamma.reshape(c), dbeta.reshape(c)


def _per_group(values: np.ndarray, groups: int, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(np.reshape(values, (groups, -1)), dtype=dtype)
