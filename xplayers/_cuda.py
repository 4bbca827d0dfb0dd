"""Lazy CuPy import and an honest answer to "can this process use a GPU?".

CuPy can import fine on a machine with no driver and fail only at the first
allocation, so usability means: CuPy imports, reports a device, and a tiny
kernel on that device runs and returns.
"""

from __future__ import annotations

import functools
import logging
from types import ModuleType

logger = logging.getLogger("xplayers")

INSTALL_HINT = (
    "install the CuPy wheel that matches your CUDA driver: "
    "pip install 'xplayers[cuda12]' or 'xplayers[cuda13]'"
)


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """Probe CuPy and the GPU once per process.

    Returns
    -------
    usable : bool
        True when CuPy imports and a CUDA device ran a small kernel.
    reason : str
        A one-line explanation (what was found, or why the GPU is unusable).
    """
    try:
        import cupy
    except ImportError as exc:
        return False, f"CuPy is not installed ({exc}); {INSTALL_HINT}"
    except Exception as exc:  # a broken CUDA install can raise anything at import
        return False, f"CuPy failed to import ({type(exc).__name__}: {exc}); {INSTALL_HINT}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            return False, "CuPy is installed but reports no CUDA device"
        probe = cupy.arange(4, dtype=cupy.float32) * 2
        if float(probe.sum()) != 12.0:
            return False, "CuPy is installed but a test kernel returned a wrong result"
    except Exception as exc:
        return False, (
            "CuPy is installed but no CUDA device answered "
            f"({type(exc).__name__}: {exc}); check the NVIDIA driver and CUDA version"
        )
    return True, f"CuPy {cupy.__version__} with {count} CUDA device(s)"


def cuda_available() -> bool:
    """True when CuPy is installed and a CUDA device actually runs kernels."""
    return cuda_status()[0]


def cuda_device_count() -> int:
    """Number of usable CUDA devices (0 when the GPU is unusable)."""
    if not cuda_available():
        return 0
    import cupy

    return int(cupy.cuda.runtime.getDeviceCount())


def require_cupy() -> ModuleType:
    """Return the ``cupy`` module, or raise ``RuntimeError`` saying why it cannot be used."""
    usable, reason = cuda_status()
    if not usable:
        raise RuntimeError(f"a CUDA device was requested but the GPU is not usable: {reason}")
    import cupy

    return cupy


@functools.cache
def log_cpu_fallback() -> None:
    """Say once per process why automatic device selection chose the CPU."""
    usable, reason = cuda_status()
    if usable:
        return
    if reason.startswith("CuPy is not installed"):
        logger.info("xplayers: using the CPU (%s)", reason)
    else:
        logger.warning("xplayers: falling back to the CPU: %s", reason)
