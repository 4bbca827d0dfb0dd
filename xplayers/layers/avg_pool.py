"""Average pooling over ``pool_height x pool_width`` windows moved by ``stride`` (overlap allowed).

The forward sums each window offset's strided slice of ``x`` (a loop over the
``pool_height * pool_width`` offsets only) and divides by the window size; the backward
spreads each output's gradient evenly over its window, adding slice by slice so that
overlapping windows accumulate.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backend.checks import as_dtype, check_floating, check_shape
from ..backend.namespace import get_array_module
from ._geometry import PoolGeometry, pool_geometry

__all__ = ["AvgPoolCache", "avg_pool_backward", "avg_pool_forward"]


class AvgPoolCache(NamedTuple):
    """What :func:`avg_pool_backward` needs: the window geometry and the input's dtype."""

    geometry: PoolGeometry
    dtype: Any


def avg_pool_forward(x: Any, pool_param: dict[str, Any]) -> tuple[Any, AvgPoolCache]:
    """Forward pass of an average-pooling layer (PyTorch's ``avg_pool2d`` without padding).

    Parameters
    ----------
    x : array, shape (N, C, H, W), floating
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride`` (positive ints, all required); rows
        and columns the last window does not reach are ignored.

    Returns
    -------
    out : array, shape (N, C, Ho, Wo), x's dtype
        ``Ho = 1 + (H - pool_height) // stride``, ``Wo = 1 + (W - pool_width) // stride``.
    cache : AvgPoolCache
        For :func:`avg_pool_backward`.

    Raises
    ------
    ValueError
        If ``x`` is not 4-d, a parameter is missing or not a positive integer, or the window
        is larger than the input.
    TypeError
        For a non-floating ``x``.
    """
    func = "avg_pool_forward"
    xp = get_array_module(x=x)
    check_floating(func, "x", x, xp)
    g = pool_geometry(func, x, pool_param)
    total = xp.zeros(g.out_shape, dtype=x.dtype, device=x.device)
    for _, i, j in g.offsets():
        total = total + x[:, :, g.rows(i), g.cols(j)]
    return total / (g.ph * g.pw), AvgPoolCache(g, x.dtype)


def avg_pool_backward(dout: Any, cache: AvgPoolCache) -> Any:
    """Backward pass of an average-pooling layer.

    Parameters
    ----------
    dout : array, shape (N, C, Ho, Wo)
        Upstream gradient; cast to the forward input's dtype when it differs.
    cache : AvgPoolCache
        From :func:`avg_pool_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W)
        Each input collects ``dout / (pool_height * pool_width)`` of every window it is in.

    Raises
    ------
    ValueError
        If ``dout`` does not have the forward output's shape.
    """
    g, dtype = cache
    xp = get_array_module(dout=dout)
    check_shape("avg_pool_backward", "dout", dout, g.out_shape, "(N, C, Ho, Wo) as in the forward")
    share = as_dtype(xp, dout, dtype) / (g.ph * g.pw)
    dx = xp.zeros(g.x_shape, dtype=dtype, device=dout.device)
    for _, i, j in g.offsets():
        rows, cols = g.rows(i), g.cols(j)
        dx[:, :, rows, cols] = dx[:, :, rows, cols] + share
    return dx
