"""Lazy CuPy import and an honest answer to "can this process use a GPU?".

CuPy can import fine on a machine with no driver and fail only at the first allocation, so
usability means: the driver library loads, CuPy imports and reports a device, a tiny kernel
(compiled by NVRTC) runs and returns, and cuRAND loads. When one fails, the reason names the
cause: CuPy not installed, no NVIDIA driver, a driver too old for this CuPy, no GPU, or which
CUDA library is missing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import re
import sys
from types import ModuleType
from typing import Any

logger = logging.getLogger("xplayers")

INSTALL_HINT = (
    "install CuPy with the CUDA libraries it loads (NVRTC and the CUDA headers, cuRAND, cuBLAS) "
    "for your driver: pip install 'xplayers[cuda12]' or 'xplayers[cuda13]' (or CuPy's own "
    "cupy-cuda12x[ctk] / cupy-cuda13x[ctk], which add libraries xplayers does not use)"
)
# The oldest NVIDIA driver (Linux) each CUDA major version runs on (CUDA's release notes,
# "minor version compatibility"): CUDA 13.x needs R580, CUDA 12.x R525.
MIN_DRIVER = {12: "525.60.13", 13: "580.65.06"}
# The oldest GPU architecture each CUDA major version's NVRTC compiles for (CUDA 13 dropped
# Maxwell, Pascal and Volta: sm_50 to sm_72).
MIN_ARCH = {12: 50, 13: 75}
NO_DRIVER = (
    "no NVIDIA driver: the CUDA driver library (libcuda) was not found; install the NVIDIA "
    "driver, or use the CPU"
)
NO_GPU = "the NVIDIA driver reports no GPU (none installed, or hidden by CUDA_VISIBLE_DEVICES)"

_DRIVER_LIBRARIES = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
# "libnvrtc.so.12: cannot open shared object file", "nvrtc64_120_0.dll", "libcurand.so.10"...
_LIBRARY_NAME = re.compile(r"\b((?:lib)?(?:cu|nv)\w*?\.so(?:\.[\d.]+)?|(?:cu|nv)\w+\.dll)\b")


def _driver_library_found() -> bool:
    """True when the CUDA driver library (libcuda / nvcuda.dll) can be loaded."""
    for name in _DRIVER_LIBRARIES:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def _cuda_version(number: int) -> str:
    return f"{number // 1000}.{number % 1000 // 10}"


def explain_cuda_error(exc: BaseException, cupy: Any = None) -> str:
    """Say which of the usual causes a CUDA/CuPy failure has, with what to do about it.

    Tells apart a missing CUDA library (named), a driver too old for this CuPy (with both
    CUDA versions when ``cupy`` can report them) and no GPU; anything else is quoted.
    """
    text = f"{type(exc).__name__}: {exc}"
    missing = _LIBRARY_NAME.search(text)
    if missing and ("cannot open" in text or "not found" in text or "failed to load" in text
                    or isinstance(exc, (ImportError, OSError))):
        return f"a CUDA library is missing: {missing.group(1)} ({text}); {INSTALL_HINT}"
    if "InsufficientDriver" in text or "driver version is insufficient" in text:
        versions = ""
        try:
            driver = cupy.cuda.runtime.driverGetVersion()
            runtime = cupy.cuda.runtime.runtimeGetVersion()
            versions = (f": the driver supports CUDA {_cuda_version(driver)}, this CuPy needs "
                        f"CUDA {_cuda_version(runtime)}")
        except Exception:  # cupy absent or the query itself fails: say what we know
            pass
        needed = ""
        try:
            major = int(cupy.cuda.runtime.runtimeGetVersion()) // 1000
            if major in MIN_DRIVER:
                needed = (f"; CUDA {major} needs NVIDIA driver {MIN_DRIVER[major]} or newer "
                          f"(R{MIN_DRIVER[major].split('.')[0]})")
        except Exception:
            pass
        return (f"the NVIDIA driver is too old for this CuPy{versions}{needed} ({text}); update "
                "the driver, or install the CuPy for an older CUDA: pip install "
                "'xplayers[cuda12]' (driver " + MIN_DRIVER[12] + " or newer)")
    if "gpu-architecture" in text:
        return (f"this GPU's architecture is older than this CuPy's NVRTC compiles for ({text}); "
                f"CUDA 13 needs sm_{MIN_ARCH[13]} (Turing) or newer: install the CuPy for CUDA "
                "12: pip uninstall cupy-cuda13x && pip install 'xplayers[cuda12]'")
    if "NoDevice" in text or "no CUDA-capable device" in text:
        return f"{NO_GPU} ({text})"
    return f"CuPy is installed but no CUDA device answered ({text}); check the NVIDIA driver"


def old_gpu_reason(cupy: Any) -> str:
    """Why device 0 is too old for this CuPy's CUDA (below :data:`MIN_ARCH`), or ``""``.

    CUDA 13's NVRTC rejects ``-arch=sm_70`` and older, so every kernel would fail to compile;
    CUDA 12 still compiles for them.
    """
    try:
        major = int(cupy.cuda.runtime.runtimeGetVersion()) // 1000
        arch = int(cupy.cuda.Device(0).compute_capability)
    except Exception:  # an older fake or CuPy without these: the kernel probe will tell
        return ""
    if major not in MIN_ARCH or arch >= MIN_ARCH[major]:
        return ""
    return (f"GPU 0 has compute capability {arch // 10}.{arch % 10} (sm_{arch}), older than "
            f"CUDA {major}'s minimum sm_{MIN_ARCH[major]}: this CuPy cannot compile kernels for "
            "it; install the CuPy for CUDA 12: pip uninstall cupy-cuda13x && pip install "
            "'xplayers[cuda12]'")


def probe_cupy(cupy: Any, driver_found: Any = _driver_library_found) -> tuple[bool, str]:
    """Whether ``cupy`` can run work here: driver, a device, a kernel, a random draw.

    ``driver_found`` (a callable returning bool) is the driver-library check; tests pass
    fakes for both arguments.
    """
    if not driver_found():
        return False, NO_DRIVER
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
        if count < 1:
            return False, NO_GPU
        too_old = old_gpu_reason(cupy)
        if too_old:
            return False, too_old
        probe = cupy.arange(4, dtype=cupy.float32) * 2  # compiles a kernel: needs NVRTC
        if float(probe.sum()) != 12.0:
            return False, "CuPy is installed but a test kernel returned a wrong result"
        cupy.random.default_rng(0).random(1)  # loads cuRAND, which seeded dropout uses
    except Exception as exc:
        return False, explain_cuda_error(exc, cupy)
    return True, f"CuPy {cupy.__version__} with {count} CUDA device(s)"


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """Probe CuPy and the GPU once per process.

    Returns
    -------
    usable : bool
        True when CuPy imports, a CUDA device ran a small kernel and cuRAND loaded.
    reason : str
        A one-line explanation: what was found, or why the GPU is unusable (CuPy not
        installed, no NVIDIA driver, driver too old, no GPU, a CUDA library missing).
    """
    try:
        import cupy
    except ImportError as exc:
        if getattr(exc, "name", None) == "cupy" or "No module named 'cupy'" in str(exc):
            return False, f"CuPy is not installed ({exc}); {INSTALL_HINT}"
        return False, f"CuPy failed to import: {explain_cuda_error(exc)}"
    except Exception as exc:  # a broken CUDA install can raise anything at import
        return False, f"CuPy failed to import: {explain_cuda_error(exc)}"
    return probe_cupy(cupy)


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
