"""CuPy fast path of max pooling: one fused CUDA kernel per pass instead of ~3 per offset.

Imported lazily by :mod:`.pooling`, and only for CuPy arrays. Same results as the portable
body: the first maximum of each window (in row-major window order) wins, a NaN makes its
window's output NaN, and the backward pass is a *gather* (each input pixel sums the gradients
of the windows it won), so overlapping windows need no atomic adds.
"""

from __future__ import annotations

import functools
from typing import Any

import cupy

from ._geometry import PoolGeometry

__all__ = ["max_pool_backward", "max_pool_forward"]

_PARAMS = "int32 h, int32 w, int32 out_h, int32 out_w, int32 ph, int32 pw, int32 stride"


@functools.cache
def _forward_kernel() -> cupy.ElementwiseKernel:
    # One thread per output element (N, C, Ho, Wo); `i` is its flat index.
    return cupy.ElementwiseKernel(
        f"raw T x, {_PARAMS}",
        "T out, I argmax",
        """
        ptrdiff_t rest = i;
        const int ox = (int)(rest % out_w); rest /= out_w;
        const int oy = (int)(rest % out_h); rest /= out_h;
        const ptrdiff_t corner = (rest * h + (ptrdiff_t)oy * stride) * w + (ptrdiff_t)ox * stride;
        T best = x[corner];
        int arg = 0;
        for (int ky = 0; ky < ph; ++ky) {
            for (int kx = 0; kx < pw; ++kx) {
                const T v = x[corner + (ptrdiff_t)ky * w + kx];
                if (v > best) {
                    best = v;
                    arg = ky * pw + kx;
                } else if (v != v) {
                    best = v;  // NaN propagates to the output, as with maximum()
                }
            }
        }
        out = best;
        argmax = (I)arg;
        """,
        "xplayers_max_pool_forward",
    )


@functools.cache
def _backward_kernel() -> cupy.ElementwiseKernel:
    # One thread per input pixel (N, C, H, W): sum dout over the windows that cover it,
    # 0 <= y - oy * stride < ph (likewise for x), and whose winner it is.
    return cupy.ElementwiseKernel(
        f"raw T dout, raw I argmax, {_PARAMS}",
        "T dx",
        """
        ptrdiff_t rest = i;
        const int px = (int)(rest % w); rest /= w;
        const int py = (int)(rest % h); rest /= h;
        const ptrdiff_t plane = rest;
        const int oy0 = max(0, (py - ph + stride) / stride);
        const int oy1 = min(out_h, py / stride + 1);
        const int ox0 = max(0, (px - pw + stride) / stride);
        const int ox1 = min(out_w, px / stride + 1);
        T val = (T)0;
        for (int oy = oy0; oy < oy1; ++oy) {
            const int ky = py - oy * stride;
            for (int ox = ox0; ox < ox1; ++ox) {
                const int kx = px - ox * stride;
                const ptrdiff_t o = (plane * out_h + oy) * out_w + ox;
                if ((int)argmax[o] == ky * pw + kx) {
                    val += dout[o];
                }
            }
        }
        dx = val;
        """,
        "xplayers_max_pool_backward",
    )


def _sizes(g: PoolGeometry) -> tuple[int, ...]:
    return (g.h, g.w, g.ho, g.wo, g.ph, g.pw, g.stride)


def max_pool_forward(x: Any, g: PoolGeometry, index_dtype: Any) -> tuple[Any, Any]:
    """Output (N, C, Ho, Wo) and the winning offset of each window (``index_dtype``)."""
    with x.device:
        img = cupy.ascontiguousarray(x).reshape(-1)
        out = cupy.empty(g.out_shape, dtype=x.dtype)
        argmax = cupy.empty(g.out_shape, dtype=index_dtype)
        _forward_kernel()(img, *_sizes(g), out, argmax)
    return out, argmax


def max_pool_backward(dout: Any, argmax: Any, g: PoolGeometry) -> Any:
    """``dx`` (N, C, H, W): each window's gradient on its winner, summed where windows overlap."""
    with dout.device:
        grad = cupy.ascontiguousarray(dout).reshape(-1)
        winners = cupy.ascontiguousarray(argmax).reshape(-1)
        dx = cupy.empty(g.x_shape, dtype=dout.dtype)
        _backward_kernel()(grad, winners, *_sizes(g), dx)
    return dx
