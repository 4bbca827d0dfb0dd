"""Everything about where arrays live and which library runs them.

``namespace`` (the one entry point, :func:`get_array_module`), ``devices`` (choosing a device,
moving arrays), ``cuda`` (is CuPy usable, and why not), ``random_streams`` (seeded draws on any
device), ``fast_paths`` (per-library implementations beside a portable body), ``checks``
(argument checks whose errors name the argument), ``blas_threads`` (the CPU thread policy).
"""

from .namespace import (
    array_library,
    device_of,
    get_array_module,
    is_array,
    is_cupy_array,
    is_numpy_array,
    is_torch_array,
)

__all__ = [
    "array_library",
    "device_of",
    "get_array_module",
    "is_array",
    "is_cupy_array",
    "is_numpy_array",
    "is_torch_array",
]
