"""Max pooling over ``pool_height x pool_width`` windows moved by ``stride`` (overlap allowed).

The forward pass visits the window offsets ``(i, j)`` one at a time (a loop over the
``pool_height * pool_width`` offsets only): each offset's strided slice of ``x`` holds that
offset's element of every window at once. A running maximum and the offset it came from are
kept; a later offset takes over only when strictly larger, so a tie keeps the first maximum
in row-major window order, as PyTorch does (a NaN in a window makes its output NaN). The
backward pass sends each window's gradient to that one offset, adding slice by slice so that
overlapping windows accumulate correctly. Fast paths (:mod:`xplayers._fast_paths`): NumPy
arrays the same loops by bit masks, without per-element branches; with numba (switched on),
2x2 windows with stride 2 one pass per window
(:mod:`._pool_numba`); CuPy arrays one fused CUDA
kernel per pass (:mod:`._pool_cupy`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..backend.checks import as_dtype, check_floating, check_shape
from ..backend.fast_paths import FastPaths, numba_enabled
from ..backend.namespace import get_array_module
from . import _bits
from ._geometry import PoolGeometry, pool_geometry

__all__ = ["PoolCache", "max_pool_backward", "max_pool_forward"]


class PoolCache(NamedTuple):
    """What :func:`max_pool_backward` needs: which window offset won, per output element."""

    argmax: Any
    geometry: PoolGeometry
    dtype: Any = None
    """The forward input's dtype (the backward's ``dx`` dtype)."""


def max_pool_forward(x: Any, pool_param: dict[str, Any]) -> tuple[Any, PoolCache]:
    """Forward pass of a max-pooling layer.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride`` (positive ints, all required).
        Windows may overlap (``stride`` smaller than the window) and need not tile the input:
        rows and columns the last window does not reach are ignored, as in PyTorch.

    Returns
    -------
    out : array, shape (N, C, Ho, Wo)
        ``Ho = 1 + (H - pool_height) // stride``, ``Wo = 1 + (W - pool_width) // stride``.
    cache : PoolCache
        For :func:`max_pool_backward`: the winning offset of each window (a small integer
        array the size of ``out``).

    Raises
    ------
    ValueError
        If ``x`` is not 4-d, a parameter is missing or not a positive integer, or the window is
        larger than the input.
    """
    func = "max_pool_forward"
    xp = get_array_module(x=x)
    check_floating(func, "x", x, xp)
    g = pool_geometry(func, x, pool_param)
    out, argmax = _max_pool_forward(xp, x, g)
    return out, PoolCache(argmax, g, x.dtype)


def max_pool_backward(dout: Any, cache: PoolCache) -> Any:
    """Backward pass of a max-pooling layer.

    Parameters
    ----------
    dout : array, shape (N, C, Ho, Wo)
        Upstream gradient; cast to the forward input's dtype when it differs.
    cache : PoolCache
        From :func:`max_pool_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W)
        Each window's gradient lands on its (first) maximum; an input in several windows
        collects the gradients of every window it wins.
    """
    argmax, g, dtype = cache
    xp = get_array_module(dout=dout, argmax=argmax)
    check_shape("max_pool_backward", "dout", dout, g.out_shape, "(N, C, Ho, Wo) as in the forward")
    if dtype is not None:
        dout = as_dtype(xp, dout, dtype)
    return _max_pool_backward(xp, dout, argmax, g)


def _index_dtype(xp: ModuleType, g: PoolGeometry) -> Any:
    return xp.uint8 if g.ph * g.pw <= 256 else xp.int32


# --------------------------------------------------------------------------------------------
# Portable body.


def max_pool_forward_portable(xp: ModuleType, x: Any, g: PoolGeometry) -> tuple[Any, Any]:
    dtype = _index_dtype(xp, g)
    argmax = xp.zeros(g.out_shape, dtype=dtype, device=x.device)
    best = None
    for k, i, j in g.offsets():
        candidate = x[:, :, g.rows(i), g.cols(j)]
        if best is None:
            best = candidate
            continue
        better = _better(xp, candidate, best)
        argmax = xp.where(better, xp.asarray(k, dtype=dtype, device=x.device), argmax)
        best = xp.where(better, candidate, best)
    if g.ph * g.pw == 1:  # a 1x1 window: out must not be a view of x
        best = xp.asarray(best, copy=True)
    return best, argmax


def _better(xp: ModuleType, candidate: Any, best: Any) -> Any:
    """Where ``candidate`` takes over: strictly greater, or the first NaN (``best`` not NaN).

    Selecting (not ``maximum``) keeps the first maximum's exact value, the sign of a zero too.
    """
    return xp.logical_and(xp.logical_not(candidate <= best), best == best)


def max_pool_backward_portable(xp: ModuleType, dout: Any, argmax: Any, g: PoolGeometry) -> Any:
    dx = xp.zeros(g.x_shape, dtype=dout.dtype, device=dout.device)
    zero = xp.zeros((), dtype=dout.dtype, device=dout.device)
    for k, i, j in g.offsets():
        rows, cols = g.rows(i), g.cols(j)
        routed = xp.where(argmax == k, dout, zero)
        if g.overlapping:
            dx[:, :, rows, cols] = dx[:, :, rows, cols] + routed
        else:  # disjoint windows: each input is written by one offset at most
            dx[:, :, rows, cols] = routed
    return dx


# --------------------------------------------------------------------------------------------
# NumPy fast path: the same loops without a branch per element (:mod:`._bits`).


def _max_pool_forward_numpy(xp: ModuleType, x: Any, g: PoolGeometry) -> Any:
    if x.dtype.itemsize > 8:  # bit masks need a float of at most 8 bytes
        return NotImplemented
    # Work arrays laid out like the input (often a conv's transposed output): order='K'
    # copies keep its axis order, so every pass walks all operands in memory order.
    best = np.array(x[:, :, g.rows(0), g.cols(0)], order="K")
    argmax = np.zeros_like(best, dtype=_index_dtype(np, g))
    better, is_number = np.empty_like(argmax, dtype=bool), np.empty_like(argmax, dtype=bool)
    mask, scratch = np.empty_like(argmax), np.empty_like(argmax)
    best_bits = _bits.uint_view(best)
    value_mask, value_scratch = np.empty_like(best_bits), np.empty_like(best_bits)
    for k, i, j in g.offsets():
        if k == 0:
            continue
        candidate = x[:, :, g.rows(i), g.cols(j)]
        # better = not (candidate <= best) and best is not NaN (see _better), as bool a > b.
        np.less_equal(candidate, best, out=better)
        np.equal(best, best, out=is_number)
        np.greater(is_number, better, out=better)
        # best = candidate where better (bits and all: -0.0 vs +0.0, NaN payloads)
        _bits.blend(best_bits, _bits.uint_view(candidate),
                    _bits.all_ones_where(better, value_mask), value_scratch)
        _bits.blend(argmax, k, _bits.all_ones_where(better, mask), scratch)
    return best, argmax


def _max_pool_backward_numpy(xp: ModuleType, dout: Any, argmax: Any, g: PoolGeometry) -> Any:
    if dout.dtype.itemsize > 8:
        return NotImplemented
    # dx in the forward input's layout (argmax has it), for this pass and the layer below.
    dx = np.zeros_like(argmax, shape=g.x_shape, dtype=dout.dtype)
    won = np.empty_like(argmax, dtype=bool)
    mask = np.empty_like(argmax, dtype=_bits.uint_view(dout).dtype)
    for k, i, j in g.offsets():
        np.equal(argmax, k, out=won)
        target = dx[:, :, g.rows(i), g.cols(j)]
        if g.overlapping:
            target += _bits.select(won, dout, scratch=mask)
        else:  # disjoint windows: write the selected bits straight into dx
            _bits.select(won, dout, scratch=mask, out=target)
    return dx


# --------------------------------------------------------------------------------------------
# numba fast path (switched on): 2x2 windows with stride 2, one pass per window.


def _numba_takes(g: PoolGeometry, a: Any) -> bool:
    return (g.ph == g.pw == g.stride == 2 and type(a) is np.ndarray
            and a.dtype in (np.float32, np.float64) and numba_enabled())


def _max_pool_forward_numba(xp: ModuleType, x: Any, g: PoolGeometry) -> Any:
    if not _numba_takes(g, x):
        return NotImplemented
    from . import _pool_numba

    # Laid out like x (often a conv's transposed output), as the NumPy path does.
    out = np.empty_like(x[:, :, : g.ho, : g.wo], order="K")
    argmax = np.empty_like(out, dtype=_index_dtype(np, g))
    _pool_numba.max_pool_forward_2x2(x, out, argmax)
    return out, argmax


def _max_pool_backward_numba(xp: ModuleType, dout: Any, argmax: Any, g: PoolGeometry) -> Any:
    if not _numba_takes(g, dout):
        return NotImplemented
    from . import _pool_numba

    dx = np.empty_like(argmax, shape=g.x_shape, dtype=dout.dtype)
    dx[:, :, g.ho * g.ph:, :] = 0  # rows and columns no window reaches
    dx[:, :, :, g.wo * g.pw:] = 0
    _pool_numba.max_pool_backward_2x2(dout, argmax, dx)
    return dx


# --------------------------------------------------------------------------------------------
# CuPy fast path: one fused CUDA kernel per pass.


def _max_pool_forward_cupy(xp: ModuleType, x: Any, g: PoolGeometry) -> Any:
    from ..kernels import pool_cupy as _pool_cupy

    return _pool_cupy.max_pool_forward(x, g, _index_dtype(xp, g))


def _max_pool_backward_cupy(xp: ModuleType, dout: Any, argmax: Any, g: PoolGeometry) -> Any:
    from ..kernels import pool_cupy as _pool_cupy

    return _pool_cupy.max_pool_backward(dout, argmax, g)


_max_pool_forward = FastPaths(max_pool_forward_portable,
                              numpy=_max_pool_forward_numpy, numba=_max_pool_forward_numba,
                              cupy=_max_pool_forward_cupy)
"""``(out, argmax)`` of max pooling ``x`` (N, C, H, W) with geometry ``g``."""
_max_pool_backward = FastPaths(max_pool_backward_portable,
                               numpy=_max_pool_backward_numpy, numba=_max_pool_backward_numba,
                               cupy=_max_pool_backward_cupy)
"""``dx`` (N, C, H, W) from ``dout`` (N, C, Ho, Wo) and the forward's ``argmax``."""
