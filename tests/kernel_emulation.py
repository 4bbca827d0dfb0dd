"""Build the package's CUDA kernels for the CPU (tests/cuda_emulation.h) and call them on NumPy.

Every instantiation of :func:`xplayers.kernels.name_expressions` gets an ``extern "C"`` wrapper
``void kN(unsigned grid, unsigned block, void **pointers, const long long *scalars)``, so one
``ctypes`` signature serves them all; the scalars are converted to the kernel's index type by the
emulated launch.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from xplayers import kernels

HEADER = Path(__file__).with_name("cuda_emulation.h")
_POINTERS = {
    "xplayers_im2col": 2,
    "xplayers_col2im": 2,
    "xplayers_max_pool_forward": 3,
    "xplayers_max_pool_backward": 3,
}
_SCALARS = {
    "xplayers_im2col": 11,
    "xplayers_col2im": 11,
    "xplayers_max_pool_forward": 8,
    "xplayers_max_pool_backward": 9,
}


def compiler() -> str | None:
    """The C++ compiler used for the emulation (``g++``, else ``c++``), or None."""
    return shutil.which("g++") or shutil.which("c++")


def kernel_path() -> Path:
    return Path(str(resources.files(kernels).joinpath(kernels.KERNEL_SOURCE)))


def _wrapper_source(source: Path) -> str:
    lines = [f'#include "{HEADER}"', f'#include "{source}"', ""]
    for number, name in enumerate(kernels.name_expressions()):
        kernel = re.match(r"\w+", name).group(0)
        pointers = ", ".join(f"pointers[{i}]" for i in range(_POINTERS[kernel]))
        scalars = ", ".join(f"scalars[{i}]" for i in range(_SCALARS[kernel]))
        lines += [
            f"// {name}",
            f'extern "C" void k{number}(unsigned grid, unsigned block, void **pointers, '
            "const long long *scalars) {",
            f"    launch(&{name}, grid, block, {pointers}, {scalars});",
            "}",
        ]
    return "\n".join(lines) + "\n"


class EmulatedKernels:
    """The CPU build of the kernel source: call any instantiation on NumPy arrays."""

    def __init__(self, library: Path) -> None:
        self._lib = ctypes.CDLL(str(library))
        self._numbers = {name: i for i, name in enumerate(kernels.name_expressions())}

    def __call__(
        self, name: str, arrays: list[np.ndarray], scalars: tuple[Any, ...],
        grid: int | None = None, block: int = kernels.BLOCK,
    ) -> None:
        """Launch instantiation ``name`` on C-contiguous ``arrays`` (written in place).

        ``grid`` defaults to the package's :func:`~xplayers.kernels.launch_grid` for the
        kernel's element count (the first scalar).
        """
        for a in arrays:
            assert a.flags.c_contiguous, "kernels take C-contiguous buffers"
        if grid is None:
            grid = kernels.launch_grid(int(scalars[0]))[0]
        func = getattr(self._lib, f"k{self._numbers[name]}")
        pointers = (ctypes.c_void_p * len(arrays))(*(a.ctypes.data for a in arrays))
        values = (ctypes.c_longlong * len(scalars))(*(int(s) for s in scalars))
        func(ctypes.c_uint(grid), ctypes.c_uint(block), pointers, values)


def build(directory: Path, source: Path | None = None) -> EmulatedKernels:
    """Compile ``source`` (default: the package's kernel file) into ``directory``; load it."""
    cxx = compiler()
    assert cxx is not None
    source = source or kernel_path()
    wrappers = directory / "kernels_emulated.cpp"
    wrappers.write_text(_wrapper_source(source))
    library = directory / "kernels_emulated.so"
    command = [cxx, "-std=c++17", "-O1", "-Wall", "-Werror", "-shared", "-fPIC",
               "-o", str(library), str(wrappers)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr[-4000:]}"
    return EmulatedKernels(library)

