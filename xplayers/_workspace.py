"""Scratch buffers for the NumPy fast paths, kept per thread and reused from call to call.

A fresh multi-megabyte ``np.empty`` is fresh memory from the operating system: every page
faults on first touch, which costs about as much as the im2col that fills it. Kernels ask
here instead for working space that never leaves the call (never for what they return), as
cuDNN and oneDNN keep a workspace. Each thread keeps the largest buffer asked for per role
and dtype; the contents are whatever the last user left.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["clear_workspace", "scratch"]

_local = threading.local()


def scratch(role: str, size: int, dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised 1-d NumPy buffer of ``size`` elements, reused per thread and ``role``.

    Two buffers in use at the same time need different roles.
    """
    buffers: dict[tuple[str, np.dtype], np.ndarray] = _local.__dict__.setdefault("buffers", {})
    key = (role, np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(size, dtype=dtype)
    return buffer[:size]


def clear_workspace() -> None:
    """Free the calling thread's scratch buffers."""
    _local.__dict__.pop("buffers", None)
