"""CuPy fast path of max pooling: one fused CUDA kernel per pass instead of ~3 per offset.

Imported lazily by :mod:`.pooling`, and only for CuPy arrays. Same results as the portable
body: the value of the first maximal element of each window (in row-major window order) or
of its first NaN, and the backward pass is a *gather* (each input pixel sums the gradients of
the windows it won), so overlapping windows need no atomic adds. The kernels are
``xplayers/kernels/conv_pool.cu``.
"""

from __future__ import annotations

from typing import Any

import cupy

from ..layers._geometry import PoolGeometry
from . import BLOCK, cuda_kernel, index_type, instantiation, launch_grid, pool_scalars

__all__ = ["max_pool_backward", "max_pool_forward"]


def max_pool_forward(x: Any, g: PoolGeometry, index_dtype: Any) -> tuple[Any, Any]:
    """Output (N, C, Ho, Wo) and the winning offset of each window (``index_dtype``)."""
    with x.device:
        img = cupy.ascontiguousarray(x)
        out = cupy.empty(g.out_shape, dtype=x.dtype)
        argmax = cupy.empty(g.out_shape, dtype=index_dtype)
        index = index_type(img.size, out.size)
        kernel = instantiation("xplayers_max_pool_forward", x.dtype, index, argmax.dtype)
        cuda_kernel(kernel)(
            launch_grid(out.size), (BLOCK,),
            (img, out, argmax, *pool_scalars(g, out.size, index, backward=False)),
        )
    return out, argmax


def max_pool_backward(dout: Any, argmax: Any, g: PoolGeometry) -> Any:
    """``dx`` (N, C, H, W): each window's gradient on its winner, summed where windows overlap."""
    with dout.device:
        grad = cupy.ascontiguousarray(dout)
        winners = cupy.ascontiguousarray(argmax)
        dx = cupy.empty(g.x_shape, dtype=dout.dtype)
        index = index_type(dx.size, grad.size)
        kernel = instantiation("xplayers_max_pool_backward", dx.dtype, index, winners.dtype)
        cuda_kernel(kernel)(
            launch_grid(dx.size), (BLOCK,),
            (grad, winners, dx, *pool_scalars(g, dx.size, index, backward=True)),
        )
    return dx
