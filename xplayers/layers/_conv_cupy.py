"""CuPy fast path of the convolutional layer: fused im2col and col2im CUDA kernels, cuBLAS.

Imported lazily by :mod:`.conv`, and only for CuPy arrays, so importing xplayers never imports
CuPy. The maths is the portable body's: the column matrix has rows ``(c, i, j)`` and columns
``(n, ho, wo)``, and one cuBLAS product computes every output. Instead of one slice per kernel
offset, a single kernel launch writes the whole column matrix (zero padding included, without
a padded copy of x), and col2im is a *gather*: each input pixel sums the column entries that
saw it, so overlapping windows need no atomic adds and the result is deterministic.

The kernels are compiled on first use (CuPy caches the binaries on disk) and memoized here.
"""

from __future__ import annotations

import functools
from typing import Any

import cupy

from ._geometry import ConvGeometry

__all__ = ["conv_backward", "conv_forward"]

_PARAMS = (
    "int32 batch, int32 channels, int32 h, int32 w, int32 out_h, int32 out_w, "
    "int32 kh, int32 kw, int32 stride, int32 pad"
)


@functools.cache
def _im2col_kernel() -> cupy.ElementwiseKernel:
    # One thread per entry of cols, laid out (C, KH, KW, N, Ho, Wo); `i` is its flat index.
    return cupy.ElementwiseKernel(
        f"raw T img, {_PARAMS}",
        "T col",
        """
        ptrdiff_t rest = i;
        const int ox = rest % out_w; rest /= out_w;
        const int oy = rest % out_h; rest /= out_h;
        const int nb = rest % batch; rest /= batch;
        const int kx = rest % kw; rest /= kw;
        const int ky = rest % kh; rest /= kh;
        const int c = (int)rest;
        const int y = oy * stride + ky - pad;
        const int x = ox * stride + kx - pad;
        if (0 <= y && y < h && 0 <= x && x < w) {
            col = img[(((ptrdiff_t)nb * channels + c) * h + y) * w + x];
        } else {
            col = (T)0;
        }
        """,
        "xplayers_conv_im2col",
    )


@functools.cache
def _col2im_kernel() -> cupy.ElementwiseKernel:
    # One thread per input pixel (N, C, H, W): sum over the output positions whose window
    # covers it, i.e. 0 <= y - oy * stride < kh (and likewise for x), y in padded coordinates.
    return cupy.ElementwiseKernel(
        f"raw T col, {_PARAMS}",
        "T img",
        """
        ptrdiff_t rest = i;
        const int x = (int)(rest % w) + pad; rest /= w;
        const int y = (int)(rest % h) + pad; rest /= h;
        const int c = (int)(rest % channels); rest /= channels;
        const int nb = (int)rest;
        const int oy0 = max(0, (y - kh + stride) / stride);
        const int oy1 = min(out_h, y / stride + 1);
        const int ox0 = max(0, (x - kw + stride) / stride);
        const int ox1 = min(out_w, x / stride + 1);
        T val = (T)0;
        for (int oy = oy0; oy < oy1; ++oy) {
            const int ky = y - oy * stride;
            for (int ox = ox0; ox < ox1; ++ox) {
                const int kx = x - ox * stride;
                val += col[(((((ptrdiff_t)c * kh + ky) * kw + kx) * batch + nb) * out_h + oy)
                           * out_w + ox];
            }
        }
        img = val;
        """,
        "xplayers_conv_col2im",
    )


def _sizes(g: ConvGeometry) -> tuple[int, ...]:
    return (g.n, g.c, g.h, g.w, g.ho, g.wo, g.hh, g.ww, g.stride, g.pad)


def conv_forward(x: Any, w: Any, b: Any, g: ConvGeometry) -> tuple[Any, Any]:
    """Output (N, F, Ho, Wo) and the column matrix (C*HH*WW, N*Ho*Wo) kept for the backward."""
    with x.device:
        img = cupy.ascontiguousarray(x).reshape(-1)
        cols = cupy.empty((g.c * g.hh * g.ww, g.n * g.ho * g.wo), dtype=x.dtype)
        _im2col_kernel()(img, *_sizes(g), cols)
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
        dcols = cupy.ascontiguousarray(w.reshape(g.f, -1).T @ dout2).reshape(-1)
        dx = cupy.empty(g.x_shape, dtype=dout.dtype)
        _col2im_kernel()(dcols, *_sizes(g), dx)
    return dx, dw, db
