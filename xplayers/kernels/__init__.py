"""The package's CUDA C++ kernels (``*.cu`` files beside this module) and how to launch them.

Every kernel is a grid-stride loop templated over the float type, the index type and, for the
max pool, the winner-index type. This module lists the instantiations (the same list goes to
``cupy.RawModule(name_expressions=...)``, to the test-suite's CPU build and to its ``nvcc``
check), picks the index type and the launch shape, and loads the module once per process.
Nothing here imports CuPy except :func:`cuda_kernel`.
"""

from __future__ import annotations

import functools
import itertools
from importlib import resources
from typing import Any

import numpy as np

from .definitions import RawModuleDefinition

__all__ = [
    "BLOCK",
    "KERNELS",
    "KERNEL_SOURCE",
    "conv_scalars",
    "cuda_kernel",
    "index_type",
    "instantiation",
    "launch_grid",
    "name_expressions",
    "pool_scalars",
    "source",
]

KERNEL_SOURCE = "conv_pool.cu"
BLOCK = 256  # threads per block
_MAX_BLOCKS = 1 << 16  # grid-stride loops cover the rest; keeps i + stride inside int32 range
_INT32_LIMIT = 2**31 - 1 - BLOCK * _MAX_BLOCKS

FLOAT_TYPES = {"float16": "__half", "float32": "float", "float64": "double"}
INDEX_TYPES = {"int32": "int", "int64": "long long"}
ARGMAX_TYPES = {"uint8": "unsigned char", "int32": "int"}

_CONV_KERNELS = ("xplayers_im2col", "xplayers_col2im")
_POOL_KERNELS = ("xplayers_max_pool_forward", "xplayers_max_pool_backward")


def instantiation(kernel: str, dtype: Any, index: Any, argmax: Any = None) -> str:
    """The C++ name of one instantiation, e.g. ``xplayers_im2col<float, int>``.

    ``dtype``, ``index`` and ``argmax`` are NumPy (or CuPy) dtypes; ``argmax`` only for the
    max-pool kernels.
    """
    args = [FLOAT_TYPES[np.dtype(dtype).name], INDEX_TYPES[np.dtype(index).name]]
    if argmax is not None:
        args.append(ARGMAX_TYPES[np.dtype(argmax).name])
    return f"{kernel}<{', '.join(args)}>"


def name_expressions() -> tuple[str, ...]:
    """Every instantiation the package launches (float16/32/64 x int32/int64 [x uint8/int32])."""
    names = [
        instantiation(kernel, dtype, index)
        for kernel, dtype, index in itertools.product(_CONV_KERNELS, FLOAT_TYPES, INDEX_TYPES)
    ]
    names += [
        instantiation(kernel, dtype, index, argmax)
        for kernel, dtype, index, argmax in itertools.product(
            _POOL_KERNELS, FLOAT_TYPES, INDEX_TYPES, ARGMAX_TYPES
        )
    ]
    return tuple(names)


def source() -> str:
    """The CUDA C++ text of :data:`KERNEL_SOURCE` (shipped as package data)."""
    return resources.files(__name__).joinpath(KERNEL_SOURCE).read_text(encoding="utf-8")


def index_type(*sizes: int) -> type[np.signedinteger]:
    """``np.int32`` when every buffer of ``sizes`` elements is indexable in 32 bits, else int64.

    The limit leaves room for a grid-stride step past the last element.
    """
    return np.int32 if max(sizes) <= _INT32_LIMIT else np.int64


def launch_grid(total: int) -> tuple[int]:
    """Blocks of :data:`BLOCK` threads for ``total`` elements (at most 2^16; threads loop)."""
    return (max(1, min(_MAX_BLOCKS, -(-total // BLOCK))),)


def conv_scalars(g: Any, total: int, index: type[np.signedinteger]) -> tuple[Any, ...]:
    """Scalar arguments of im2col/col2im writing ``total`` elements, for a ``ConvGeometry``."""
    sizes = (total, g.n, g.c, g.h, g.w, g.ho, g.wo, g.hh, g.ww, g.stride, g.pad)
    return tuple(index(s) for s in sizes)


def pool_scalars(
    g: Any, total: int, index: type[np.signedinteger], *, backward: bool
) -> tuple[Any, ...]:
    """Scalar arguments of the max-pool kernels writing ``total`` elements (a ``PoolGeometry``)."""
    sizes: tuple[Any, ...] = (total, g.h, g.w, g.ho, g.wo, g.ph, g.pw, g.stride)
    if backward:
        sizes += (int(g.overlapping),)
    return tuple(index(s) for s in sizes)


# The one RawModule: every .cu kernel instantiation, as xplayers.kernels.definitions lists it.
KERNELS = (
    RawModuleDefinition(
        name="xplayers_conv_pool", code=source(), name_expressions=name_expressions(),
        options=("-std=c++17",),
    ),
)


@functools.cache
def _module() -> Any:
    import cupy

    return KERNELS[0].build(cupy)


def cuda_kernel(name: str) -> Any:
    """The compiled ``cupy.RawKernel`` of instantiation ``name`` on the current device.

    The module is compiled once per process (CuPy also caches the binary on disk) and loaded
    on each device at its first launch there.
    """
    return _module().get_function(name)
