"""Max pooling over ``pool_height x pool_width`` windows moved by ``stride`` (overlap allowed).

The forward pass visits the window offsets ``(i, j)`` one at a time (a loop over the
``pool_height * pool_width`` offsets only): each offset's strided slice of ``x`` holds that
offset's element of every window at once. A running maximum and the offset it came from are
kept; a later offset replaces them only when strictly larger, so a tie keeps the first maximum
in row-major window order, as PyTorch does. The backward pass sends each window's gradient to
that one offset, adding slice by slice so that overlapping windows accumulate correctly.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_floating, check_shape
from ..backend import get_array_module, is_numpy_array
from ._geometry import PoolGeometry, pool_geometry

__all__ = ["PoolCache", "max_pool_backward", "max_pool_forward"]

_PATHS = ("auto", "portable", "numpy")


class PoolCache(NamedTuple):
    """What :func:`max_pool_backward` needs: which window offset won, per output element."""

    argmax: Any
    geometry: PoolGeometry


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
    return _max_pool_forward(x, pool_param)


def max_pool_backward(dout: Any, cache: PoolCache) -> Any:
    """Backward pass of a max-pooling layer.

    Parameters
    ----------
    dout : array, shape (N, C, Ho, Wo)
        Upstream gradient.
    cache : PoolCache
        From :func:`max_pool_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W)
        Each window's gradient lands on its (first) maximum; an input in several windows
        collects the gradients of every window it wins.
    """
    argmax, g = cache
    xp = get_array_module(dout=dout, argmax=argmax)
    check_shape("max_pool_backward", "dout", dout, g.out_shape, "(N, C, Ho, Wo) as in the forward")
    return _portable_backward(xp, dout, argmax, g)


def _max_pool_forward(
    x: Any, pool_param: dict[str, Any], *, path: str = "auto"
) -> tuple[Any, PoolCache]:
    """:func:`max_pool_forward` with the implementation chosen by ``path``.

    ``'auto'`` uses the NumPy fast path for NumPy arrays; ``'portable'`` forces the Array API
    body (the tests' reference). The backward pass is the portable body for every array.
    """
    if path not in _PATHS:
        raise ValueError(f"max_pool_forward: path must be one of {_PATHS}, got {path!r}")
    func = "max_pool_forward"
    xp = get_array_module(x=x)
    check_floating(func, "x", x, xp)
    g = pool_geometry(func, x, pool_param)
    if path == "auto":
        path = "numpy" if is_numpy_array(x) else "portable"
    if path == "numpy":
        out, argmax = _numpy_forward(x, g)
    else:
        out, argmax = _portable_forward(xp, x, g)
    return out, PoolCache(argmax, g)


def _index_dtype(xp: ModuleType, g: PoolGeometry) -> Any:
    return xp.uint8 if g.ph * g.pw <= 256 else xp.int32


# --------------------------------------------------------------------------------------------
# Portable body.


def _portable_forward(xp: ModuleType, x: Any, g: PoolGeometry) -> tuple[Any, Any]:
    dtype = _index_dtype(xp, g)
    argmax = xp.zeros(g.out_shape, dtype=dtype, device=x.device)
    best = None
    for k, i, j in g.offsets():
        candidate = x[:, :, g.rows(i), g.cols(j)]
        if best is None:
            best = candidate
            continue
        better = candidate > best
        best = xp.where(better, candidate, best)
        argmax = xp.where(better, xp.asarray(k, dtype=dtype, device=x.device), argmax)
    if g.ph * g.pw == 1:  # a 1x1 window: out must not be a view of x
        best = xp.asarray(best, copy=True)
    return best, argmax


def _portable_backward(xp: ModuleType, dout: Any, argmax: Any, g: PoolGeometry) -> Any:
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
# NumPy fast path: the same loop, updating the running maximum and its offset in place.


def _numpy_forward(x: np.ndarray, g: PoolGeometry) -> tuple[Any, Any]:
    best = np.array(x[:, :, g.rows(0), g.cols(0)])
    argmax = np.zeros(g.out_shape, dtype=_index_dtype(np, g))
    better = np.empty(g.out_shape, dtype=bool)
    for k, i, j in g.offsets():
        if k == 0:
            continue
        candidate = x[:, :, g.rows(i), g.cols(j)]
        np.greater(candidate, best, out=better)
        np.copyto(best, candidate, where=better)
        np.copyto(argmax, k, where=better)
    return best, argmax
