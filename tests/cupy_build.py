"""Build a kernel definition exactly as CuPy does, compile it with NVRTC, run it on the host.

Needs the real ``cupy`` wheel and its NVRTC/header wheels (``pip install -e ".[nvrtc-check]"``),
no GPU and no driver: CuPy's code generator (``cupy._core._kernel._get_elementwise_kernel_code``)
and compiler options (``cupy._core.core.assemble_cupy_compiler_options``, then ``-ftz=true``
and the architecture as ``cupy.cuda.compiler`` adds them) are called directly, and
``cupy.cuda.compiler._NVRTCProgram`` compiles. The generated source, with CuPy's headers
replaced by ``tests/cuda_emulation.h``, is also built with g++ into a shared library whose
entry point launches the kernel with CuPy's argument layout (1-d C-contiguous ``CArray``s,
scalars by value, a ``CIndexer``), outputs aliased to inputs where asked.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
# The architectures CuPy 14's wheels target (sm_75 up); CUDA 13's NVRTC rejects older ones.
ARCHES = ("75", "80", "86", "89", "90", "100", "120")
_CACHE = Path(os.environ.get("XPLAYERS_HOST_KERNEL_CACHE")
              or Path(tempfile.gettempdir()) / f"xplayers-host-kernels-{os.getuid()}")


def cupy_modules() -> tuple[Any, Any, Any, Any]:
    """CuPy's kernel generator, core, compiler and carray modules (ImportError without CuPy)."""
    import cupy  # noqa: F401
    from cupy._core import _carray, _kernel, core
    from cupy.cuda import compiler

    return _kernel, core, compiler, _carray


def _params(defn: Any) -> tuple[Any, ...]:
    kernel = cupy_modules()[0]
    return (kernel._get_param_info(defn.in_params, True)
            + kernel._get_param_info(defn.out_params, False)
            + kernel._get_param_info("CIndexer _ind", False))


def param_dtypes(defn: Any, dtype: str) -> dict[str, np.dtype]:
    """Each parameter's NumPy dtype when the type placeholders are bound to ``dtype``."""
    out = {}
    for p in _params(defn)[:-1]:
        out[p.name] = np.dtype(p.dtype) if p.dtype is not None else np.dtype(dtype)
    return out


def elementwise_source(defn: Any, dtype: str, index32: bool) -> str:
    """The kernel code ``cupy.ElementwiseKernel`` generates for C-contiguous arrays of
    ``dtype`` (reduced to one dimension, as CuPy does) and 32- or 64-bit indexing."""
    kernel, _, _, carray = cupy_modules()
    import cupy
    from cupy._core import _scalar

    params = _params(defn)
    dtypes = param_dtypes(defn, dtype)
    infos = []
    for p in params[:-1]:
        if p.name in defn.scalars:
            infos.append(kernel._ArgInfo(3, _scalar.CScalar, dtypes[p.name].type, 0, True, True))
        else:
            infos.append(kernel._ArgInfo(1, cupy.ndarray, dtypes[p.name], 1, True, index32))
    infos.append(kernel._ArgInfo(2, carray.Indexer, None, 1, True, index32))
    placeholders = sorted({p.ctype for p in params[:-1] if p.dtype is None and p.ctype})
    type_map = kernel._TypeMap(tuple((t, np.dtype(dtype).type) for t in placeholders))
    return kernel._get_elementwise_kernel_code(
        tuple(infos), type_map, params, defn.operation, defn.name, defn.preamble)


def nvrtc_inputs(defn: Any, dtype: str = "float32", index32: bool = True) -> tuple[str, tuple]:
    """The source and options CuPy hands NVRTC for ``defn`` (before the architecture)."""
    _, core, _, _ = cupy_modules()
    if hasattr(defn, "name_expressions"):  # RawModule: no CuPy headers prepended
        source = defn.code
    else:
        header = "".join(f"#include <{h}>\n" for h in core._cupy_header_list)
        source = header + elementwise_source(defn, dtype, index32)
    options = (*core.assemble_cupy_compiler_options(tuple(defn.options)), "-ftz=true")
    return source, options


def nvrtc_compile(source: str, options: tuple, arch: str,
                  name_expressions: tuple[str, ...] | None = None, ptx: bool = False) -> bytes:
    """Compile with CuPy's NVRTC wrapper to a cubin for ``sm_<arch>``, as CuPy does on a GPU
    of that architecture (``ptx``: to PTX for ``compute_<arch>``, as with
    ``CUPY_COMPILE_WITH_PTX=1``); raises ``cupy.cuda.compiler.CompileException`` with NVRTC's
    log. ``--pch`` (CuPy's ``CUPY_NVRTC_USE_PCH=1``) lets NVRTC reuse CuPy's parsed headers
    between compilations."""
    compiler = cupy_modules()[2]
    program = compiler._NVRTCProgram(source, "kern.cu", name_expressions=name_expressions,
                                     method="ptx" if ptx else "cubin")
    arch_option = f"-arch=compute_{arch}" if ptx else f"-arch=sm_{arch}"
    binary, _ = program.compile(
        (*options, arch_option, "--device-as-default-execution-space", "--pch"))
    return binary


# -- host run ---------------------------------------------------------------------------------
def _host_library(defn: Any, dtype: str, index32: bool) -> tuple[ctypes.CDLL, list[str]]:
    """The generated kernel built with g++ against the emulation header; returns the library
    and the parameter names in argument order (cached on disk by source hash)."""
    # CuPy's own headers (float16.cuh for half types) are what the emulation header stands for.
    code = "\n".join(line for line in elementwise_source(defn, dtype, index32).splitlines()
                     if not line.strip().startswith('#include "cupy/'))
    params = [p.name for p in _params(defn)[:-1]]
    dtypes = param_dtypes(defn, dtype)
    type_name = cupy_modules()[0]._get_typename
    setup = []
    for k, name in enumerate(params):
        ctype = type_name(dtypes[name])
        if name in defn.scalars:
            setup.append(f"*static_cast<const {ctype}*>(scalars[{k}])")
        else:
            setup.append(f"CArray<{ctype}, 1, true, {int(index32)}>("
                         f"static_cast<{ctype}*>(arrays[{k}]), sizes[{k}])")
    text = (
        '#include "cuda_emulation.h"\n' + code + "\n"
        'extern "C" void xplayers_host_entry(void** arrays, const void** scalars,'
        " const long long* sizes, long long n, unsigned grid, unsigned block) {\n"
        f"    launch({defn.name}, grid, block, {', '.join(setup)}, "
        f"CIndexer<1, {int(index32)}>(n));\n}}\n"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    _CACHE.mkdir(parents=True, exist_ok=True)
    lib = _CACHE / f"{defn.name}-{digest}.so"
    if not lib.exists():
        src = _CACHE / f"{defn.name}-{digest}.cpp"
        src.write_text(text)
        tmp = lib.with_suffix(f".{os.getpid()}.tmp")
        # No contraction into FMAs: NVRTC gets --fmad=false where the library asks for it.
        built = subprocess.run(
            ["g++", "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math",
             "-Wno-unknown-pragmas", "-shared", "-fPIC", f"-I{HERE}", str(src), "-o", str(tmp)],
            capture_output=True, text=True)
        if built.returncode != 0:
            raise RuntimeError(f"g++ failed on {src}:\n{built.stderr[-3000:]}")
        os.replace(tmp, lib)
    return ctypes.CDLL(str(lib)), params


def host_run(defn: Any, dtype: str, index32: bool, inputs: dict[str, Any],
             alias: bool = True, grid: int = 3, block: int = 128) -> dict[str, np.ndarray]:
    """Run the generated kernel on the host: ``inputs`` maps every input parameter to a NumPy
    array (or scalar, for ``defn.scalars``). With ``alias``, each output of ``defn.aliases``
    is written into its input's memory, as the library launches it; returns the outputs
    (flat). Outputs are sized like the reference's (``defn.reference``), else like the inputs;
    the loop runs over the first non-``raw`` array, as CuPy's does."""
    library, params = _host_library(defn, dtype, index32)
    dtypes = param_dtypes(defn, dtype)
    info = {p.name: p for p in _params(defn)[:-1]}
    outputs = [p.name for p in cupy_modules()[0]._get_param_info(defn.out_params, False)]
    alias_of = dict(defn.aliases) if alias else {}
    ref = reference(defn)
    sizes = ({k: np.asarray(v).size for k, v in ref(**typed_inputs(defn, dtype, inputs)).items()}
             if ref is not None else {})
    buffers: dict[str, np.ndarray] = {}
    for name in params:
        if name in outputs:
            continue
        buffers[name] = (np.asarray(inputs[name], dtype=dtypes[name]).reshape(())
                         if name in defn.scalars
                         else np.array(inputs[name], dtype=dtypes[name]).reshape(-1))
    default = next(buffers[k].size for k in params if k in buffers and k not in defn.scalars)
    for name in outputs:
        buffers[name] = (buffers[alias_of[name]] if name in alias_of
                         else np.zeros(sizes.get(name, default), dtype=dtypes[name]))
    n = next(buffers[k].size for k in params if k not in defn.scalars and not info[k].raw)
    arrays = (ctypes.c_void_p * len(params))()
    scalars = (ctypes.c_void_p * len(params))()
    for k, name in enumerate(params):
        pointer = buffers[name].ctypes.data
        (scalars if name in defn.scalars else arrays)[k] = pointer
    sizes = (ctypes.c_longlong * len(params))(*(buffers[k].size for k in params))
    library.xplayers_host_entry(arrays, scalars, sizes, ctypes.c_longlong(n),
                                ctypes.c_uint(grid), ctypes.c_uint(block))
    return {name: buffers[name].copy() for name in outputs}


def typed_inputs(defn: Any, dtype: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` in the kernel's parameter dtypes (what the GPU would be given)."""
    dtypes = param_dtypes(defn, dtype)
    return {k: (dtypes[k].type(v) if k in defn.scalars else np.asarray(v, dtype=dtypes[k]))
            for k, v in inputs.items()}


def reference(defn: Any) -> Any:
    """The portable body named by ``defn.reference`` (``"module:function"``), or None."""
    if not defn.reference:
        return None
    module, _, function = defn.reference.partition(":")
    return getattr(importlib.import_module(module), function)
