"""The update engines, each derived from a rule's one formula (:mod:`xplayers.optim.formula`).

``update(xp, spec, arrays, scalars) -> (next_w, *new_state)`` is a
:class:`~xplayers.backend.fast_paths.FastPaths` table:

- the portable body: the formula evaluated with ``xp``'s operators (any Array-API library);
- ``numpy``: the formula run in cache-sized blocks with ``out=`` ufuncs (C-contiguous NumPy
  arrays of at least :data:`MIN_FUSED_SIZE` elements);
- ``numba``: one loop generated from the formula, when numba is installed and switched on
  (``XPLAYERS_NUMBA=1`` or ``fast_paths(numba=True)``) and the call is that big;
- ``cupy``: one ``ElementwiseKernel`` launch generated from the formula (:data:`KERNELS`
  declares them for the NVRTC check).

Each gives the portable body's numbers bit for bit (IEEE float32/float64, the same operations
in the same order, no FMA contraction) and declines (``NotImplemented``) what it cannot run,
including a formula calling a function it does not know. Every engine writes fresh outputs:
``w``, ``g`` and the old state are only read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from ..backend.fast_paths import FastPaths, library_of, numba_enabled
from ..backend.namespace import is_cupy_array
from ..kernels.definitions import ElementwiseDefinition
from .formula import BinOp, Formula, Name, Node, cuda_operation, evaluate, parse
from .formula import python_loop_source as _loop_source
from .specs import SPECS, UpdateSpec

__all__ = ["KERNELS", "MIN_FUSED_SIZE", "formula_of", "gather_update", "update"]

# Below this many elements a fused kernel does not pay for its dispatch (biases, tiny nets).
MIN_FUSED_SIZE = 4096
# Elements per block of the NumPy engine: a block of every operand stays in the L2 cache.
_BLOCK_BYTES = 1 << 18
# The functions each compiled engine knows; a formula calling another one is declined.
_NUMPY_FUNCTIONS: dict[str, Callable[..., Any]] = {"sqrt": np.sqrt}
_NUMBA_FUNCTIONS = {"sqrt": "np.sqrt"}
_CUDA_FUNCTIONS = {"sqrt": "sqrt"}
_UFUNCS: dict[str, Callable[..., Any]] = {"+": np.add, "-": np.subtract, "*": np.multiply,
                                          "/": np.divide}
# NVRTC contracts a*b + c into one FMA by default, which rounds once instead of twice and so
# would differ from the portable body's separate operations.
_NO_FMA = ("--fmad=false",)


def formula_of(spec: UpdateSpec) -> Formula:
    """``spec``'s parsed formula."""
    return parse(spec.name, spec.formula, tuple(var for _, var in spec.state))


def _values(formula: Formula, arrays: tuple[Any, ...], scalars: tuple[Any, ...]) -> dict:
    return {**dict(zip(formula.inputs, arrays, strict=True)),
            **dict(zip(formula.scalars, scalars, strict=True))}


def _portable(xp: ModuleType, spec: UpdateSpec, arrays: tuple[Any, ...],
              scalars: tuple[float, ...]) -> tuple:
    """The portable body: ``(next_w, *new_state)`` by ``xp``'s operators."""
    formula = formula_of(spec)
    return evaluate(formula, xp, _values(formula, arrays, scalars))


def _numpy_takes(formula: Formula, arrays: tuple[Any, ...], known: Any) -> bool:
    return (all(type(a) is np.ndarray and a.flags.c_contiguous for a in arrays)
            and arrays[0].size >= MIN_FUSED_SIZE and formula.functions <= set(known))


def _fresh_outputs(formula: Formula, arrays: tuple[Any, ...],
                   scalars: tuple[float, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Empty outputs like ``w``, and the scalars in ``w``'s dtype (float32 stays float32)."""
    w = arrays[0]
    return (tuple(np.empty_like(w) for _ in formula.outputs),
            tuple(w.dtype.type(s) for s in scalars))


# -- NumPy: the formula block by block with out= ufuncs ------------------------------------
def _numpy(xp: ModuleType, spec: UpdateSpec, arrays: tuple[Any, ...],
           scalars: tuple[float, ...]) -> Any:
    formula = formula_of(spec)
    if not _numpy_takes(formula, arrays, _NUMPY_FUNCTIONS):
        return NotImplemented
    outs, typed = _fresh_outputs(formula, arrays, scalars)
    flat = [a.reshape(-1) for a in (*arrays, *outs)]
    size = flat[0].size
    block = max(1, _BLOCK_BYTES // flat[0].itemsize)
    pool: list[np.ndarray] = []  # scratch buffers of one block, reused across blocks
    for start in range(0, size, block):
        stop = min(start + block, size)
        values = dict(zip((*formula.inputs, *formula.outputs), (a[start:stop] for a in flat),
                          strict=True))
        values.update(zip(formula.scalars, typed, strict=True))
        _run_blocked(formula, values, pool, stop - start, flat[0].dtype)
    return outs


def _run_blocked(formula: Formula, values: dict[str, Any], pool: list[np.ndarray], n: int,
                 dtype: np.dtype) -> None:
    """Run the statements on one block; outputs are written into ``values``' output slices."""
    free = [buf[:n] for buf in pool]
    outputs = set(formula.outputs)

    def scratch() -> np.ndarray:
        if free:
            return free.pop()
        pool.append(np.empty(len(pool[0]) if pool else n, dtype))
        return pool[-1][:n]

    def run(node: Node, out: np.ndarray | None) -> Any:
        """``node``'s value, written into ``out`` (or a scratch buffer) unless a bare name."""
        if isinstance(node, Name):
            value = values[node.id]
            if out is not None:
                np.copyto(out, value)
                return out
            return value
        children = (node.arg,) if not isinstance(node, BinOp) else (node.left, node.right)
        args = [run(child, None) for child in children]
        for child, arg in zip(children, args, strict=True):
            if not isinstance(child, Name):
                free.append(arg)  # consumed below: its buffer may hold this node's result
        target = scratch() if out is None else out
        func = _UFUNCS[node.op] if isinstance(node, BinOp) else _NUMPY_FUNCTIONS[node.func]
        func(*args, out=target)
        return target

    for target, node in formula.statements:
        values[target] = run(node, values[target] if target in outputs else None)


# -- numba: one generated loop -------------------------------------------------------------
@functools.cache
def _numba_kernel(spec: UpdateSpec) -> Callable[..., None]:
    import numba

    func_name = f"_update_{spec.name}"
    namespace: dict[str, Any] = {"np": np}
    exec(_loop_source(formula_of(spec), func_name, _NUMBA_FUNCTIONS), namespace)
    return numba.njit(nogil=True, boundscheck=False, error_model="numpy")(namespace[func_name])


def _numba(xp: ModuleType, spec: UpdateSpec, arrays: tuple[Any, ...],
           scalars: tuple[float, ...]) -> Any:
    formula = formula_of(spec)
    if not _numpy_takes(formula, arrays, _NUMBA_FUNCTIONS) or not numba_enabled():
        return NotImplemented
    outs, typed = _fresh_outputs(formula, arrays, scalars)
    _numba_kernel(spec)(*(a.reshape(-1) for a in (*arrays, *outs)), *typed)
    return outs


# -- CuPy: one ElementwiseKernel -----------------------------------------------------------
def kernel_definition(spec: UpdateSpec) -> ElementwiseDefinition:
    """The ``ElementwiseKernel`` of ``spec``: every argument of type ``T`` (the weights' dtype);
    no output is ever passed aliased to an input (``aliases`` is empty)."""
    formula = formula_of(spec)
    return ElementwiseDefinition(
        name=f"xplayers_{spec.name}",
        in_params=", ".join(f"T {n}" for n in (*formula.inputs, *formula.scalars)),
        out_params=", ".join(f"T {n}" for n in formula.outputs),
        operation=cuda_operation(formula, _CUDA_FUNCTIONS),
        options=_NO_FMA)


def gather_definition(spec: UpdateSpec, count: int) -> ElementwiseDefinition:
    """The multi-tensor ``ElementwiseKernel`` of ``spec`` for ``count`` parameters.

    Weights and state are flat (all parameters end to end); the gradients stay ``count``
    separate ``raw`` arrays ``g0..``, parameter ``j`` starting at flat index ``o<j>``, so one
    launch updates every parameter without first copying the gradients together.
    """
    formula = formula_of(spec)
    select = f"g{count - 1}[i - o{count - 1}]" if count > 1 else "g0[i]"
    for j in range(count - 2, -1, -1):
        here = f"g{j}[i - o{j}]" if j else "g0[i]"
        select = f"XP_SELECT(i < o{j + 1}, {here}, {select})"
    flat = [name for name in formula.inputs if name != "g"]
    return ElementwiseDefinition(
        name=f"xplayers_{spec.name}_x{count}",
        in_params=", ".join([*(f"raw T g{j}" for j in range(count)),
                             *(f"T {n}" for n in (*flat, *formula.scalars)),
                             *(f"int64 o{j}" for j in range(1, count))]),
        out_params=", ".join(f"T {n}" for n in formula.outputs),
        operation=f"const T g_ = {select};\n"
                  + cuda_operation(formula, _CUDA_FUNCTIONS, loaded=("g",)),
        preamble="#define XP_SELECT(c, a, b) ((c) ? (a) : (b))",
        options=_NO_FMA)


# Parameter counts whose multi-tensor kernels are declared for the NVRTC check: the code is
# the same for every count, so a few stand for all.
DECLARED_COUNTS = (1, 2, 6)
MAX_GATHERED = 64  # kernel arguments stay well under CUDA's 4 KiB

KERNELS: tuple[ElementwiseDefinition, ...] = (
    *(kernel_definition(spec) for spec in SPECS),
    *(gather_definition(spec, count) for spec in SPECS for count in DECLARED_COUNTS))
"""The CuPy kernels of every registered rule (see :mod:`xplayers.kernels.definitions`)."""


@functools.cache
def _cupy_kernel(spec: UpdateSpec) -> Any:
    import cupy

    return kernel_definition(spec).build(cupy)


def _cupy(xp: ModuleType, spec: UpdateSpec, arrays: tuple[Any, ...],
          scalars: tuple[float, ...]) -> Any:
    formula = formula_of(spec)
    if (not all(is_cupy_array(a) and a.flags.c_contiguous for a in arrays)
            or not formula.functions <= set(_CUDA_FUNCTIONS)):
        return NotImplemented
    typed = tuple(arrays[0].dtype.type(s) for s in scalars)
    result = _cupy_kernel(spec)(*arrays, *typed)
    return result if isinstance(result, tuple) else (result,)


@functools.cache
def _cupy_gather_kernel(spec: UpdateSpec, count: int) -> Any:
    import cupy

    return gather_definition(spec, count).build(cupy)


def gather_update(xp: ModuleType, spec: UpdateSpec, grads: list[Any], flat: tuple[Any, ...],
                  scalars: tuple[float, ...]) -> Any:
    """``(next_w, *new_state)``, flat, by one CuPy launch of :func:`gather_definition`;
    ``flat`` is ``(w, *state)`` laid end to end, ``grads`` the gradients in that order.
    Declines (``NotImplemented``) off CuPy, for non-contiguous gradients, or too many."""
    formula = formula_of(spec)
    if (library_of(xp) != "cupy" or not 0 < len(grads) <= MAX_GATHERED
            or not all(g.flags.c_contiguous for g in grads)
            or not formula.functions <= set(_CUDA_FUNCTIONS)):
        return NotImplemented
    dtype = flat[0].dtype
    offsets, start = [], 0
    for g in grads[:-1]:
        start += g.size
        offsets.append(np.int64(start))
    result = _cupy_gather_kernel(spec, len(grads))(
        *grads, *flat, *(dtype.type(s) for s in scalars), *offsets)
    return result if isinstance(result, tuple) else (result,)


def host_reference(name: str) -> Callable[..., dict[str, Any]] | None:
    """The NumPy body of the CuPy kernel called ``name`` (``xplayers_<rule>`` or
    ``xplayers_<rule>_x<count>``), taking its arguments by name and returning its outputs by
    name; None for another name. A stand-in for CuPy runs it in place of the kernel."""
    rule, _, suffix = name.removeprefix("xplayers_").rpartition("_x")
    if not (rule and suffix.isdigit()):
        rule, suffix = name.removeprefix("xplayers_"), ""
    spec = next((s for s in SPECS if s.name == rule), None)
    if spec is None or not name.startswith("xplayers_"):
        return None
    formula = formula_of(spec)

    def body(**values: Any) -> dict[str, Any]:
        if suffix:
            grads = [np.ravel(values.pop(f"g{j}")) for j in range(int(suffix))]
            values["g"] = np.concatenate(grads)
        return dict(zip(formula.outputs, evaluate(formula, np, values), strict=True))

    return body


update = FastPaths(_portable, numpy=_numpy, numba=_numba, cupy=_cupy)
"""``update(xp, spec, (w, g, *state), scalars) -> (next_w, *new_state)``; scalars in the
order of ``formula_of(spec).scalars``."""
