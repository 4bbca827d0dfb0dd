"""CuPy fast path of the convolutional layer: fused im2col and col2im CUDA kernels, cuBLAS.

Imported lazily by :mod:`.conv`, and only for CuPy arrays, so importing xplayers never imports
CuPy. The maths is the portable body's: the column matrix has rows ``(c, i, j)`` and columns
``(n, ho, wo)``, and one cuBLAS product computes every output. Instead of one slice per kernel
offset, a single kernel launch writes the whole column matrix (zero padding included, without
a padded copy of x), and col2im is a *gather*: each input pixel sums the column entries that
saw it, so overlapping windows need no atomic adds and the result is deterministic. The
kernels are ``xplayers/kernels/conv_pool.cu``.
"""

from __future__ import annotations

from typing import Any

import cupy

from ..layers._geometry import ConvGeometry
from . import BLOCK, conv_scalars, cuda_kernel, index_type, instantiation, launch_grid

__all__ = ["conv_backward", "conv_forward"]


def _launch(kernel: str, src: Any, dst: Any, g: ConvGeometry) -> None:
    """Run ``kernel`` (im2col or col2im) writing every element of ``dst``, one thread each."""
    index = index_type(src.size, dst.size)
    cuda_kernel(instantiation(kernel, dst.dtype, index))(
        launch_grid(dst.size), (BLOCK,), (src, dst, *conv_scalars(g, dst.size, index))
    )


def conv_forward(x: Any, w: Any, b: Any, g: ConvGeometry) -> tuple[Any, Any]:
    """Output (N, F, Ho, Wo) and the column matrix (C*HH*WW, N*Ho*Wo) kept for the backward."""
    with x.device:
        img = cupy.ascontiguousarray(x)
        cols = cupy.empty((g.c * g.hh * g.ww, g.n * g.ho * g.wo), dtype=x.dtype)
        _launch("xplayers_im2col", img, cols, g)
        out = w.reshape(g.f, -1) @ cols
        out += b.reshape(g.f, 1)
        out = cupy.ascontiguousarray(out.reshape(g.f, g.n, g.ho, g.wo).transpose(1, 0, 2, 3))
    return out, cols


def conv_backward(
    dout: Any, cols: Any, w: Any, g: ConvGeometry, compute_dx: bool
) -> tuple[Any, Any, Any]:
    """``(dx or None, dw, db)`` from the upstream gradient and the forward's column matrix."""
    with dout.device:
        dout2 = cupy.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(g.f, -1)
        dw = (dout2 @ cols.T).reshape(g.f, g.c, g.hh, g.ww)
        db = dout2.sum(axis=1)
        if not compute_dx:
            return None, dw, db
        dcols = cupy.ascontiguousarray(w.reshape(g.f, -1).T @ dout2)
        dx = cupy.empty(g.x_shape, dtype=dout.dtype)
        _launch("xplayers_col2im", dcols, dx, g)
    return dx, dw, db
