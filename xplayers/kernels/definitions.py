"""Every CuPy kernel the library builds, declared as data, so that one test can build each the way
CuPy does (its own code generation, options and NVRTC) without a GPU.

A module that launches CuPy kernels declares them with :class:`ElementwiseDefinition` or
:class:`RawModuleDefinition` and lists them in a module-level ``KERNELS`` tuple; the module is
named in :data:`KERNEL_MODULES`. :func:`all_definitions` imports those modules (no CuPy needed)
and returns every definition.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = [
    "KERNEL_MODULES",
    "ElementwiseDefinition",
    "RawModuleDefinition",
    "all_definitions",
]

# Modules whose ``KERNELS`` tuple lists kernel definitions (imported lazily, CuPy not needed).
KERNEL_MODULES: tuple[str, ...] = (
    "xplayers.kernels", "xplayers.kernels.fused_cupy", "xplayers.kernels.norm_cupy",
    "xplayers.optim.kernels",
)


@dataclass(frozen=True)
class ElementwiseDefinition:
    """The arguments of one ``cupy.ElementwiseKernel``.

    ``aliases`` names the (output, input) pairs the library passes the same memory for, so a
    test can run the generated code with that aliasing, as the GPU would. ``scalars`` names the
    inputs the library passes as scalars (CuPy makes them kernel arguments by value), ``dtypes``
    the float types it launches the kernel for, and ``reference`` (``"module:function"``) a
    NumPy function computing the outputs from the inputs given by name (the portable body), which
    the generated code run on the host must match: bit for bit when ``bit_exact``.
    """

    name: str
    in_params: str
    out_params: str
    operation: str
    preamble: str = ""
    options: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    scalars: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ("float16", "float32", "float64")
    reference: str = ""
    bit_exact: bool = True

    def build(self, cupy: object) -> object:
        """The ``cupy.ElementwiseKernel`` (compiled on its first launch)."""
        return cupy.ElementwiseKernel(  # type: ignore[attr-defined]
            self.in_params, self.out_params, self.operation, self.name,
            preamble=self.preamble, options=self.options,
        )


@dataclass(frozen=True)
class RawModuleDefinition:
    """The arguments of one ``cupy.RawModule``: CUDA C++ source and its template instantiations."""

    name: str
    code: str
    name_expressions: tuple[str, ...]
    options: tuple[str, ...] = ()

    def build(self, cupy: object) -> object:
        """The ``cupy.RawModule`` (compiled on first use)."""
        return cupy.RawModule(  # type: ignore[attr-defined]
            code=self.code, options=self.options, name_expressions=self.name_expressions,
        )


def all_definitions() -> list[ElementwiseDefinition | RawModuleDefinition]:
    """Every kernel definition of every module in :data:`KERNEL_MODULES`."""
    found: list[ElementwiseDefinition | RawModuleDefinition] = []
    for name in KERNEL_MODULES:
        found.extend(importlib.import_module(name).KERNELS)
    return found
