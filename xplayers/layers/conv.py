"""Convolutional layer: ``out[n, f] = sum_c x[n, c] (cross-correlated with) w[f, c] + b[f]``.

One portable body (any Array API namespace) lowers the convolution to a single matrix product
by *im2col*: the padded input is sliced once per kernel offset ``(i, j)`` (a Python loop over
the HH*WW offsets only, never over examples or pixels), the slices are stacked into a
``(C*HH*WW, N*Ho*Wo)`` column matrix, and ``w.reshape(F, C*HH*WW) @ cols`` is the output.
The backward pass runs the same products transposed, and *col2im* adds each offset's slice of
the column gradient back into the padded input gradient (overlapping windows accumulate by
slice addition, never by a scatter with repeated indices).

Fast paths (:mod:`xplayers._fast_paths`) give the same numbers: NumPy arrays go through
cache-sized blocks of examples with the bias folded into the product (its design is in
``docs/design.md``), and CuPy arrays through fused im2col/col2im CUDA kernels and cuBLAS
(:mod:`._conv_cupy`). The NumPy path picks its BLAS thread count per call
(:func:`set_blas_threads`, ``XPLAYERS_BLAS_THREADS``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..backend.blas_threads import blas_threads_for, matmul, set_blas_threads
from ..backend.checks import (
    as_dtype,
    check_floating,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module
from ._geometry import ConvGeometry, conv_geometry

__all__ = ["ConvCache", "conv_backward", "conv_forward", "set_blas_threads"]

# Bytes of column matrix per block of examples on the NumPy path: small enough to stay in the
# L2/L3 caches between im2col, the matrix product and col2im (see docs/design.md).
_NUMPY_BLOCK_BYTES = 4 << 20


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs from :func:`conv_forward`.

    ``path`` names the implementation that ran the forward (``'portable'``, ``'numpy'`` or
    ``'cupy'``), which the backward runs too; ``saved`` is what it kept: the column matrix
    (portable, CuPy) or the zero-padded input and the block size (NumPy).
    """

    path: str
    saved: Any
    w: Any
    geometry: ConvGeometry
    in_dtypes: tuple[Any, ...] | None = None
    """Dtypes of x, w, b as given, when one differed from the compute dtype."""
    has_bias: bool = True


def conv_forward(x: Any, w: Any, b: Any, conv_param: dict[str, Any]) -> tuple[Any, ConvCache]:
    """Forward pass of a convolutional layer (cross-correlation, as in PyTorch).

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    w : array, shape (F, C, HH, WW)
    b : array, shape (F,), or None
        None: no bias (the backward then returns ``db = None``).
    conv_param : dict
        ``stride`` (positive int, default 1) and ``pad`` (non-negative int, default 0): the
        input is zero-padded by ``pad`` on every side of both spatial axes.

    Mixed dtypes are promoted (float32 with float64 computes in float64; an integer ``w`` or
    ``b`` takes x's floating dtype), see :func:`xplayers._checks.promote`.

    Returns
    -------
    out : array, shape (N, F, Ho, Wo), in the promoted dtype
        With ``Ho = 1 + (H + 2 * pad - HH) // stride`` and ``Wo = 1 + (W + 2 * pad - WW) //
        stride``; rows and columns a stride does not reach are ignored, as in PyTorch.
    cache : ConvCache
        For :func:`conv_backward`.

    Raises
    ------
    ValueError
        For a ``conv_param`` that is not a dict, wrong ranks, ``w`` without filters, a
        channel mismatch between ``x`` and ``w``, ``b`` not of shape (F,), a non-positive
        stride, a negative pad, or a filter larger than the padded input.
    TypeError
        For a non-floating ``x`` or a complex dtype.
    """
    func = "conv_forward"
    xp = get_array_module(x=x, w=w, b=b)
    check_floating(func, "x", x, xp)
    g = conv_geometry(func, x, w, b, conv_param)
    dtype, (x_c, w_c, b_c) = promote(func, xp, x=x, w=w, b=b)
    in_dtypes = input_dtypes(dtype, x, w, b)
    has_bias = b is not None
    x, w, b = x_c, w_c, b_c
    if not has_bias:  # a zero bias: every implementation stays as it is
        b = xp.zeros((g.f,), dtype=dtype, device=x.device)
    path, (out, saved) = _conv_forward.run(xp, x, w, b, g)
    return out, ConvCache(path, saved, w, g, in_dtypes, has_bias)


def conv_backward(
    dout: Any, cache: ConvCache, *, compute_dx: bool = True
) -> tuple[Any, Any, Any]:
    """Backward pass of a convolutional layer.

    Parameters
    ----------
    dout : array, shape (N, F, Ho, Wo)
        Upstream gradient; cast to the forward's compute dtype when it differs.
    cache : ConvCache
        From :func:`conv_forward`.
    compute_dx : bool, keyword-only
        Set to False for a network's first layer: ``dx`` is then ``None`` and the column
        gradient and col2im are skipped.

    Returns
    -------
    dx : array, shape (N, C, H, W), or None
    dw : array, shape (F, C, HH, WW)
    db : array, shape (F,), or None when the forward had no bias
        Each in the dtype of the forward's input it belongs to (x, w, b) when that was
        floating, else in the compute dtype.
    """
    path, saved, w, g, in_dtypes, has_bias = cache
    xp = get_array_module(dout=dout, w=w)
    check_shape("conv_backward", "dout", dout, g.out_shape, "(N, F, Ho, Wo) as in the forward")
    dout = as_dtype(xp, dout, w.dtype)
    dx, dw, db = _conv_backward.implementation(path)(xp, dout, saved, w, g, compute_dx)
    return grads_as_inputs(xp, (dx, dw, db if has_bias else None), in_dtypes)


# --------------------------------------------------------------------------------------------
# Portable body: Array API calls only.


def conv_forward_portable(xp: ModuleType, x: Any, w: Any, b: Any,
                          g: ConvGeometry) -> tuple[Any, Any]:
    # Channels first, so that stacking the offsets' slices on axis 1 gives rows (c, i, j) in
    # w's memory order and columns (n, ho, wo): one product computes every output.
    xt = xp.permute_dims(x, (1, 0, 2, 3))
    if g.pad:
        padded = xp.zeros((g.c, g.n, g.hp, g.wp), dtype=x.dtype, device=x.device)
        padded[:, :, g.pad : g.pad + g.h, g.pad : g.pad + g.w] = xt
    else:
        padded = xt
    cols = xp.stack([padded[:, :, g.rows(i), g.cols(j)] for _, i, j in g.offsets()], axis=1)
    cols = xp.reshape(cols, (g.c * g.hh * g.ww, g.n * g.ho * g.wo))
    out = matmul(xp, xp.reshape(w, (g.f, g.c * g.hh * g.ww)), cols) + xp.reshape(b, (g.f, 1))
    out = xp.permute_dims(xp.reshape(out, (g.f, g.n, g.ho, g.wo)), (1, 0, 2, 3))
    return out, cols


def conv_backward_portable(
    xp: ModuleType, dout: Any, cols: Any, w: Any, g: ConvGeometry, compute_dx: bool
) -> tuple[Any, Any, Any]:
    dout2 = xp.reshape(xp.permute_dims(dout, (1, 0, 2, 3)), (g.f, g.n * g.ho * g.wo))
    dw = xp.reshape(matmul(xp, dout2, xp.matrix_transpose(cols)), (g.f, g.c, g.hh, g.ww))
    db = xp.sum(dout2, axis=1)
    if not compute_dx:
        return None, dw, db
    w2 = xp.reshape(w, (g.f, g.c * g.hh * g.ww))
    dcols = xp.reshape(matmul(xp, xp.matrix_transpose(w2), dout2),
                       (g.c, g.hh * g.ww, g.n, g.ho, g.wo))
    dpadded = xp.zeros((g.c, g.n, g.hp, g.wp), dtype=dout.dtype, device=dout.device)
    for k, i, j in g.offsets():
        rows, cols_ = g.rows(i), g.cols(j)
        dpadded[:, :, rows, cols_] = dpadded[:, :, rows, cols_] + dcols[:, k, ...]
    dx = dpadded[:, :, g.pad : g.pad + g.h, g.pad : g.pad + g.w]
    return xp.permute_dims(dx, (1, 0, 2, 3)), dw, db


# --------------------------------------------------------------------------------------------
# NumPy fast path.


def _numpy_row_width(g: ConvGeometry) -> int:
    """Columns per output row in the NumPy column matrix: the padded width for stride 1."""
    return g.wp if g.stride == 1 else g.wo


def _numpy_block(g: ConvGeometry, itemsize: int) -> int:
    per_example = g.c * g.hh * g.ww * g.ho * _numpy_row_width(g) * itemsize
    return max(1, min(g.n, _NUMPY_BLOCK_BYTES // max(per_example, 1)))


def _numpy_window(buf: np.ndarray, g: ConvGeometry, n0: int, n1: int, i: int, j: int) -> Any:
    """View of ``buf`` (N, C, rows, Wp) met by kernel offset ``(i, j)``: (m, C, Ho, width).

    For stride 1 the window is one contiguous run of each flattened image, read at the
    padded width ``Wp``: its last ``Wp - Wo`` columns wrap into the next row and are dropped
    (forward) or receive zeros (backward).
    """
    if g.stride != 1:
        return buf[n0:n1, :, g.rows(i), g.cols(j)]
    m, rows = n1 - n0, buf.shape[2]
    flat = buf[n0:n1].reshape(m, g.c, rows * g.wp)
    start = i * g.wp + j
    return flat[:, :, start : start + g.ho * g.wp].reshape(m, g.c, g.ho, g.wp)


def _numpy_im2col(buf: np.ndarray, g: ConvGeometry, n0: int, n1: int, store: np.ndarray) -> Any:
    """Columns of examples ``n0:n1``, ``(C*HH*WW + 1, m*Ho*width)``, in ``store``.

    The extra last row is all ones: against a last column of ``b`` in the weights it adds the
    bias inside the matrix product, and against ``dout`` it sums ``db`` there too.
    """
    m, rows, width = n1 - n0, g.c * g.hh * g.ww, _numpy_row_width(g)
    cols = store[: (rows + 1) * m * g.ho * width].reshape(rows + 1, m * g.ho * width)
    windows = cols[:rows].reshape(g.c, g.hh * g.ww, m, g.ho, width)
    for k, i, j in g.offsets():
        windows[:, k] = _numpy_window(buf, g, n0, n1, i, j).transpose(1, 0, 2, 3)
    cols[rows] = 1
    return cols


def _numpy_col2im_flat(
    dblock: np.ndarray, dcols: np.ndarray, g: ConvGeometry, planes: np.ndarray
) -> None:
    """Stride-1 col2im of one block: add every offset's column gradient into ``dblock``.

    ``dblock`` (m, C, rows, Wp) is contiguous, and offset ``(i, j)`` shifts a whole image
    plane by ``i * Wp + j`` elements; copied into planes of the block's size whose tails are
    zero, its gradient is added with one contiguous 1-d addition (what spills past a plane's
    end is a zero tail), several times faster than a strided addition.
    """
    m = dblock.shape[0]
    flat = dblock.reshape(-1)
    staged = planes[:m]
    window = staged.reshape(m, g.c, -1)[:, :, : g.ho * g.wp]
    staged = staged.reshape(-1)
    for k, i, j in g.offsets():
        shift = i * g.wp + j
        np.copyto(window, dcols[:, k].reshape(g.c, m, -1).transpose(1, 0, 2))
        target = flat[shift:]
        target += staged[: target.size]


def _multiply_adds(g: ConvGeometry) -> int:
    """Multiply-adds of one pass's products (its blocks taken together)."""
    return g.f * g.c * g.hh * g.ww * g.n * g.ho * g.wo


def _conv_forward_numpy(xp: ModuleType, x: Any, w: Any, b: Any, g: ConvGeometry) -> tuple[Any, Any]:
    with blas_threads_for(_multiply_adds(g)):
        return _conv_forward_numpy_blocks(x, w, b, g)


def _conv_backward_numpy(xp: ModuleType, dout: Any, saved: tuple[np.ndarray, int], w: Any,
                    g: ConvGeometry, compute_dx: bool) -> tuple[Any, Any, Any]:
    with blas_threads_for(_multiply_adds(g)):
        return _conv_backward_numpy_blocks(dout, saved, w, g, compute_dx)


def _conv_forward_numpy_blocks(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                          g: ConvGeometry) -> tuple[Any, Any]:
    # One spare zero row keeps the last stride-1 window (which runs Wp - Wo past the image's
    # last row) inside the buffer.
    spare = 1 if g.stride == 1 and g.ww > 1 else 0
    buf = np.zeros((g.n, g.c, g.hp + spare, g.wp), dtype=x.dtype)
    buf[:, :, g.pad : g.pad + g.h, g.pad : g.pad + g.w] = x
    width, block, rows = _numpy_row_width(g), _numpy_block(g, x.itemsize), g.c * g.hh * g.ww
    weights = np.concatenate([w.reshape(g.f, rows), b.reshape(g.f, 1)], axis=1)
    # The product lands in (F, N, Ho, width) order; the output is a transposed view of it,
    # which spares a full pass over the output to reorder it.
    prod = np.empty((g.f, g.n, g.ho, width), dtype=x.dtype)
    prod2 = prod.reshape(g.f, -1)
    store = np.empty((rows + 1) * block * g.ho * width, dtype=x.dtype)
    for n0 in range(0, g.n, block):
        n1 = min(g.n, n0 + block)
        cols = _numpy_im2col(buf, g, n0, n1, store)
        np.matmul(weights, cols, out=prod2[:, n0 * g.ho * width : n1 * g.ho * width])
    out = prod[..., : g.wo].transpose(1, 0, 2, 3)
    return out, (buf, block)


def _conv_backward_numpy_blocks(
    dout: np.ndarray, saved: tuple[np.ndarray, int], w: np.ndarray, g: ConvGeometry,
    compute_dx: bool,
) -> tuple[Any, Any, Any]:
    buf, block = saved
    width, rows = _numpy_row_width(g), g.c * g.hh * g.ww
    w2t = np.ascontiguousarray(w.reshape(g.f, rows).T)
    # [dw | db] transposed: cols @ d.T is the faster orientation of this long, thin product.
    dwb_t = np.zeros((rows + 1, g.f), dtype=dout.dtype)
    dwb_part = np.empty_like(dwb_t)
    dbuf = np.zeros_like(buf) if compute_dx else None
    store = np.empty((rows + 1) * block * g.ho * width, dtype=dout.dtype)
    dout_store = np.zeros(g.f * block * g.ho * width, dtype=dout.dtype)
    dcols_store = np.empty(rows * block * g.ho * width, dtype=dout.dtype) if compute_dx else None
    # Zero-tailed copies of one offset's column gradient, image planes at the buffer's size.
    planes = np.zeros((block, *buf.shape[1:]), dtype=dout.dtype) if compute_dx else None
    for n0 in range(0, g.n, block):
        n1 = min(g.n, n0 + block)
        m = n1 - n0
        cols = _numpy_im2col(buf, g, n0, n1, store)
        # dout in the columns' layout; the wrapped columns get zero gradient: dout_store
        # starts zeroed and, being made of whole rows of `width`, is never written there.
        d: np.ndarray = dout_store[: g.f * m * g.ho * width].reshape(g.f, m, g.ho, width)
        d[..., : g.wo] = dout[n0:n1].transpose(1, 0, 2, 3)
        d = d.reshape(g.f, -1)
        np.matmul(cols, d.T, out=dwb_part)
        dwb_t += dwb_part
        if compute_dx:
            assert dcols_store is not None and dbuf is not None and planes is not None
            dcols = dcols_store[: rows * d.shape[1]].reshape(rows, -1)
            np.matmul(w2t, d, out=dcols)
            dcols = dcols.reshape(g.c, g.hh * g.ww, m, g.ho, width)
            if g.stride == 1:
                _numpy_col2im_flat(dbuf[n0:n1], dcols, g, planes)
            else:
                for k, i, j in g.offsets():
                    target = _numpy_window(dbuf, g, n0, n1, i, j)
                    target += dcols[:, k].transpose(1, 0, 2, 3)
    dw = np.ascontiguousarray(dwb_t[:rows].T).reshape(g.f, g.c, g.hh, g.ww)
    db = dwb_t[rows].copy()
    if not compute_dx:
        return None, dw, db
    assert dbuf is not None
    # A view of the padded gradient: cropping it into a fresh array would cost a full pass.
    return dbuf[:, :, g.pad : g.pad + g.h, g.pad : g.pad + g.w], dw, db


# --------------------------------------------------------------------------------------------
# CuPy fast path: fused CUDA kernels and cuBLAS.


def _conv_forward_cupy(xp: ModuleType, x: Any, w: Any, b: Any, g: ConvGeometry) -> tuple[Any, Any]:
    from ..kernels import conv_cupy as _conv_cupy

    return _conv_cupy.conv_forward(x, w, b, g)


def _conv_backward_cupy(xp: ModuleType, dout: Any, cols: Any, w: Any, g: ConvGeometry,
                   compute_dx: bool) -> tuple[Any, Any, Any]:
    from ..kernels import conv_cupy as _conv_cupy

    return _conv_cupy.conv_backward(dout, cols, w, g, compute_dx)


_conv_forward = FastPaths(conv_forward_portable, numpy=_conv_forward_numpy, cupy=_conv_forward_cupy)
"""``(out, saved)`` of the convolution of ``x`` (N, C, H, W) by ``w`` (F, C, HH, WW) plus
``b`` (F,); ``saved`` is what the same implementation of :data:`_conv_backward` takes."""
_conv_backward = FastPaths(conv_backward_portable, numpy=_conv_backward_numpy,
                           cupy=_conv_backward_cupy)
"""``(dx or None, dw, db)`` from ``dout`` (N, F, Ho, Wo) and the forward's ``saved``."""
