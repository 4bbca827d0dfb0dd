"""Branch-free selection on NumPy arrays by bit masks, for the NumPy fast paths.

A selection by a boolean mask (``np.where``, masked copies) branches on every element and
mispredicts on irregular patterns such as a ReLU's or a max pool's (several times slower
than a multiply). AND-ing a value's bits with all ones or all zeros picks the same values,
NaN payloads, infinities and signed zeros included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["all_ones_where", "blend", "select", "uint_view"]


def uint_view(a: np.ndarray) -> np.ndarray:
    """``a``'s bits as unsigned integers of its itemsize (a view)."""
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def all_ones_where(flags: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` (an integer array shaped like ``flags``): all bits set where ``flags``, else 0."""
    np.copyto(out, flags)  # 1 or 0
    return np.negative(out, out=out)  # wraps 1 to all ones


def select(flags: np.ndarray, values: np.ndarray, scratch: Any = None,
           out: Any = None) -> np.ndarray:
    """``np.where(flags, values, 0)`` for floating ``values`` (``+0.0`` where not flagged).

    ``scratch``: a C-contiguous unsigned array of ``values``' itemsize shaped like ``flags``
    to build the mask in (fresh when omitted). The result is written into ``out`` (a float
    array, a strided view say) when given, else into ``scratch``, and returned as floats.
    (The mask is never built in a strided view: NumPy 2.4's in-place ``negative`` of a
    strided unsigned view gives zeros.)
    """
    bits = uint_view(values)
    mask = all_ones_where(flags, np.empty_like(flags, dtype=bits.dtype) if scratch is None
                          else scratch)
    target = mask if out is None else uint_view(out)
    np.bitwise_and(mask, bits, out=target)
    return target.view(values.dtype)


def blend(target: np.ndarray, candidate: Any, mask: np.ndarray, scratch: np.ndarray) -> None:
    """``target[...] = candidate`` where ``mask`` is all ones (0 elsewhere keeps ``target``).

    ``target``, ``candidate``, ``mask`` and ``scratch`` are integer arrays (or a scalar
    ``candidate``) of one itemsize: ``target ^= (target ^ candidate) & mask``.
    """
    np.bitwise_xor(target, candidate, out=scratch)
    np.bitwise_and(scratch, mask, out=scratch)
    np.bitwise_xor(target, scratch, out=target)
