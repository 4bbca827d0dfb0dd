"""A counting stand-in for CuPy: NumPy underneath, seen by xplayers as CuPy, so the CuPy code
paths run on a CPU and every GPU operation they would issue is counted.

:func:`install` puts a module named ``cupy`` into ``sys.modules`` (before anything imports the
real one); its ``ndarray`` is a NumPy subclass, which ``array_api_compat.is_cupy_array`` accepts
(it checks ``issubclass(type(x), sys.modules['cupy'].ndarray)``). What is counted, in
:data:`COUNTS`:

- ``launches``: one per kernel CuPy would launch: each ufunc call (operators included, an
  elementwise kernel each), each reduction (``sum``, ``max``, ``mean``..., one ReductionKernel
  each), each function writing a new array (copies, ``astype``, ``concatenate``, ``take``,
  ``where``, fills: ``zeros``, ``ones``, ``full``...), each ``__setitem__``, each random draw,
  each ``ElementwiseKernel``/``RawKernel`` call, each cuBLAS call;
- ``blas``: matmul/dot/tensordot calls (counted as launches too);
- ``allocations``: each new array (views are free: ``reshape``, ``.T``, basic slicing);
- ``host_reads``: each device-to-host read: ``get``, ``asnumpy``, ``__float__``, ``__int__``,
  ``__bool__``, ``item``, ``tolist``, ``__array__`` (NumPy conversion);
- ``host_writes``: each host-to-device copy (``asarray`` of a NumPy array).

A composite NumPy function stands for one CuPy kernel (an approximation: CuPy's ``var`` is
several). ``ElementwiseKernel``\\ s run their registered portable body
(:mod:`xplayers.kernels.definitions`), else the operation string as Python (the update
formulas are written to be both); ``RawModule`` kernels run the CPU build of the ``.cu`` source
(``tests/kernel_emulation.py``).
"""

from __future__ import annotations

import collections
import functools
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np

COUNTS: collections.Counter = collections.Counter()
NAMES: collections.Counter = collections.Counter()  # launches by operation name


def reset() -> None:
    COUNTS.clear()
    NAMES.clear()


def _launch(name: str, blas: bool = False) -> None:
    COUNTS["launches"] += 1
    NAMES[name] += 1
    if blas:
        COUNTS["blas"] += 1


def _plain(x: Any) -> Any:
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def _inputs(args: Any, kwargs: dict) -> list[np.ndarray]:
    found = []
    for v in (*args, *kwargs.values()):
        if isinstance(v, np.ndarray):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found.extend(a for a in v if isinstance(a, np.ndarray))
    return found


def _shares(result: np.ndarray, inputs: list[np.ndarray]) -> bool:
    return any(np.shares_memory(result, a) for a in inputs if a.size and result.size)


def _wrap(result: Any, name: str, inputs: list[np.ndarray], launch: bool = True) -> Any:
    """Results as stand-in arrays; a result not sharing an input's memory is a new array."""
    if isinstance(result, np.ndarray):
        if not _shares(result, inputs):
            COUNTS["allocations"] += 1
            if launch:
                _launch(name)
        return ndarray(result)
    if isinstance(result, tuple):
        return tuple(_wrap(r, name, inputs, launch) for r in result)
    if isinstance(result, np.generic):  # a 0-d result stays on the device in CuPy
        COUNTS["allocations"] += 1
        if launch:
            _launch(name)
        return ndarray(np.asarray(result))
    return result


class _Device:
    id = 0
    compute_capability = "90"

    def __init__(self, index: int = 0) -> None:
        self.id = index

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"  # as CuPy's

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __enter__(self) -> _Device:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def use(self) -> None:
        pass

    def synchronize(self) -> None:
        pass


_BASES: dict[int, Any] = {}  # id of a NumPy owner -> its one stand-in


class ndarray(np.lib.mixins.NDArrayOperatorsMixin):
    """A NumPy array standing for a CuPy array on device 0 (not a NumPy subclass, so that
    xplayers and array_api_compat tell it from NumPy's; operators go through the ufuncs)."""

    __module__ = "cupy"
    __slots__ = ("_a",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, array: np.ndarray) -> None:
        self._a = array

    # metadata: no kernel
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    mT = property(lambda self: ndarray(np.swapaxes(self._a, -1, -2)))

    @property
    def device(self) -> _Device:
        return _Device(0)

    @property
    def data(self) -> Any:
        """CuPy's memory pointer: ``.ptr`` is the first element's address."""
        return types.SimpleNamespace(ptr=self._a.__array_interface__["data"][0])

    @property
    def base(self) -> Any:
        """The array this one views (the same stand-in object each time), or None."""
        owner = self._a.base
        if not isinstance(owner, np.ndarray):
            return None
        wrapper = _BASES.get(id(owner))
        if wrapper is None or wrapper._a is not owner:
            wrapper = _BASES[id(owner)] = ndarray(owner)
        return wrapper

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (ndarray(row) if isinstance(row, np.ndarray) else row for row in self._a)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *args: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*(_plain(a) for a in args), **kwargs)
        _launch(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}",
                blas=ufunc is np.matmul)
        if method == "at":
            return None
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result, ufunc.__name__, [], launch=False)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        mine = getattr(_MODULE, func.__name__, None)
        if mine is not None and callable(mine) and mine is not func:
            return mine(*args, **kwargs)
        return _call(func, func.__name__, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        COUNTS["host_reads"] += 1  # CuPy refuses this implicit conversion
        return np.asarray(self._a, dtype=dtype)

    # device-to-host reads
    def get(self, *args: Any, **kwargs: Any) -> np.ndarray:
        COUNTS["host_reads"] += 1
        return np.array(self._a)

    def item(self, *args: Any) -> Any:
        COUNTS["host_reads"] += 1
        return self._a.item(*args)

    def tolist(self) -> Any:
        COUNTS["host_reads"] += 1
        return self._a.tolist()

    def __float__(self) -> float:
        COUNTS["host_reads"] += 1
        return float(self._a)

    def __int__(self) -> int:
        COUNTS["host_reads"] += 1
        return int(self._a)

    def __bool__(self) -> bool:
        COUNTS["host_reads"] += 1
        return bool(self._a)

    def __index__(self) -> int:
        COUNTS["host_reads"] += 1
        return int(self._a)

    # indexing: basic slices are views, anything else a gather kernel
    def __getitem__(self, key: Any) -> Any:
        result = self._a[_plain(key)]
        if isinstance(result, np.ndarray) and np.shares_memory(result, self._a):
            return ndarray(result)
        if isinstance(result, np.generic):  # a 0-d view in CuPy
            return ndarray(np.asarray(result))
        return _wrap(result, "getitem", [])

    def __setitem__(self, key: Any, value: Any) -> None:
        _launch("setitem")
        self._a[_plain(key)] = _plain(value)

    def fill(self, value: Any) -> None:
        _launch("fill")
        self._a.fill(value)

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe",
               subok: bool = True, copy: bool = True) -> ndarray:
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        _launch("astype")
        COUNTS["allocations"] += 1
        return ndarray(self._a.astype(dtype, order=order, casting=casting))

    def dot(self, other: Any) -> Any:
        _launch("dot", blas=True)
        return _wrap(np.dot(self._a, _plain(other)), "dot", [], launch=False)

    def __getattr__(self, name: str) -> Any:
        """Other methods (``reshape``, ``sum``, ``max``, ``copy``, ``argmax``...): run on
        the NumPy array; a result sharing its memory is a view, any other a kernel's output."""
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return attr

        def method(*args: Any, **kwargs: Any) -> Any:
            result = attr(*(_plain(a) for a in args), **{k: _plain(v) for k, v in kwargs.items()})
            if result is None:  # in place (sort, put...)
                _launch(name)
                return None
            return _wrap(result, name, [self._a])
        return method

    def __repr__(self) -> str:
        return f"cupy-standin({self._a!r})"


# -- module-level functions ----------------------------------------------------------------
_VIEWS = {  # metadata or views: no kernel, no allocation (when the result shares memory)
    "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "broadcast_to",
    "ravel", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays", "split",
    "array_split", "permute_dims", "ascontiguousarray", "asfortranarray", "diagonal",
}
_ALLOCATE_ONLY = {"empty", "empty_like"}
_BLAS = {"matmul", "dot", "tensordot", "inner", "vdot", "einsum"}
_NO_ARRAY = {
    "result_type", "can_cast", "iinfo", "finfo", "dtype", "isscalar", "ndim", "shape", "size",
    "may_share_memory", "shares_memory", "promote_types", "issubdtype", "isdtype",
    "get_printoptions", "set_printoptions", "errstate", "seterr", "geterr",
}


def _call(func: Any, name: str, args: Any, kwargs: dict) -> Any:
    plain_args = tuple(_plain(a) for a in args)
    plain_kwargs = {k: _plain(v) for k, v in kwargs.items()}
    out = kwargs.get("out")
    result = func(*plain_args, **plain_kwargs)
    if name in _NO_ARRAY:
        return result
    inputs = _inputs(plain_args, plain_kwargs)
    if name in _BLAS:
        _launch(name, blas=True)
        return out if out is not None else _wrap(result, name, inputs, launch=False)
    if out is not None:
        _launch(name)
        return out
    if name in _ALLOCATE_ONLY:
        return _wrap(result, name, inputs, launch=False)
    return _wrap(result, name, inputs)


def _function(name: str, func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _call(func, name, args, kwargs)
    return wrapper


def asarray(a: Any, dtype: Any = None, order: Any = None, **kwargs: Any) -> ndarray:
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    COUNTS["host_writes"] += 1
    COUNTS["allocations"] += 1
    return ndarray(np.array(a, dtype=dtype, order=order or "K"))


def array(a: Any, dtype: Any = None, copy: bool = True, **kwargs: Any) -> ndarray:
    if isinstance(a, ndarray):
        return a.copy() if copy else asarray(a, dtype)
    return asarray(a, dtype)


def asnumpy(a: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    if isinstance(a, ndarray):
        return a.get()
    return np.asarray(a)


def get_array_module(*args: Any) -> types.ModuleType:
    return _MODULE if any(isinstance(a, ndarray) for a in args) else np


# -- user kernels --------------------------------------------------------------------------
def _names(params: str) -> list[str]:
    return [p.split()[-1] for p in params.split(",") if p.strip()]


class ElementwiseKernel:
    """Runs the registered portable body of the kernel named ``name`` (or the operation as
    Python); one launch per call."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str = "kernel",
                 **kwargs: Any) -> None:
        self.inputs, self.outputs = _names(in_params), _names(out_params)
        self.raw = {p.split()[-1] for p in in_params.split(",") if p.split()[:1] == ["raw"]}
        self.operation, self.name = operation, name
        self.body = _registered_body(name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _launch(self.name)
        values = dict(zip(self.inputs, (_plain(a) for a in args), strict=False))
        given = [_plain(a) for a in args[len(self.inputs):]]
        if self.body is not None:
            results = self.body(**values)
        else:
            namespace = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, **values}
            exec(self.operation, {"__builtins__": {}}, namespace)
            results = {k: namespace[k] for k in self.outputs}
        arrays = [a for k, a in values.items() if isinstance(a, np.ndarray) and k not in self.raw]
        outs = []
        for k, name in enumerate(self.outputs):
            value = np.asarray(results[name])
            if k < len(given):
                target = given[k]
                target[...] = (value.reshape(target.shape) if value.size == target.size
                               else np.broadcast_to(value, target.shape))
                outs.append(ndarray(target))
            else:
                COUNTS["allocations"] += 1
                shape = np.broadcast_shapes(*(a.shape for a in arrays))
                outs.append(ndarray(np.array(np.broadcast_to(value, shape))))
        return outs[0] if len(outs) == 1 else tuple(outs)


def _registered_body(name: str) -> Any:
    from xplayers.kernels.definitions import ElementwiseDefinition, all_definitions

    for defn in all_definitions():
        if isinstance(defn, ElementwiseDefinition) and defn.name == name and defn.reference:
            module, _, function = defn.reference.partition(":")
            return getattr(__import__(module, fromlist=[function]), function)
    from xplayers.optim.kernels import host_reference

    return host_reference(name)


@functools.cache
def _emulated() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import kernel_emulation

    directory = Path(tempfile.mkdtemp(prefix="xplayers-counting-"))
    return kernel_emulation.build(directory)


class RawKernel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, grid: tuple, block: tuple, args: tuple, **kwargs: Any) -> None:
        _launch(self.name.split("<")[0])
        arrays = [_plain(a) for a in args if isinstance(a, ndarray)]
        scalars = tuple(a for a in args if not isinstance(a, ndarray))
        _emulated()(self.name, arrays, scalars, grid=grid[0], block=block[0])


class RawModule:
    def __init__(self, code: str = "", options: tuple = (), name_expressions: Any = (),
                 **kwargs: Any) -> None:
        self.names = tuple(name_expressions or ())

    def get_function(self, name: str) -> RawKernel:
        return RawKernel(name)


# -- random --------------------------------------------------------------------------------
class Generator:
    def __init__(self, seed: Any = None) -> None:
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._rng, name)

        def draw(*args: Any, **kwargs: Any) -> Any:
            _launch(f"random.{name}")
            COUNTS["allocations"] += 1
            return ndarray(np.asarray(method(*args, **kwargs)))
        return draw


def _random_module() -> types.ModuleType:
    random = types.ModuleType("cupy.random")
    random.default_rng = Generator
    random.Generator = Generator
    state = Generator()
    for name in ("random", "standard_normal", "uniform", "normal", "integers", "permutation"):
        setattr(random, name, getattr(state, name))
    random.rand = lambda *shape: state.random(shape)
    random.randn = lambda *shape: state.standard_normal(shape)
    return random


def _cuda_module() -> types.ModuleType:
    cuda = types.ModuleType("cupy.cuda")
    runtime = types.ModuleType("cupy.cuda.runtime")
    runtime.getDeviceCount = lambda: 1
    runtime.getDevice = lambda: 0
    runtime.setDevice = lambda i: None
    runtime.memGetInfo = lambda: (8 << 30, 16 << 30)
    runtime.runtimeGetVersion = lambda: 13000
    runtime.driverGetVersion = lambda: 13000
    runtime.getDeviceProperties = lambda i: {"name": b"counting stand-in"}
    cuda.runtime = runtime
    cuda.Device = _Device
    cuda.device = types.ModuleType("cupy.cuda.device")
    cuda.device.Device = _Device
    cuda.Stream = types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None))
    return cuda


def _build() -> types.ModuleType:
    module = types.ModuleType("cupy")
    module.__file__ = __file__
    module.__version__ = "14.0.0+counting"
    exported = []
    for name in dir(np):
        if name.startswith("_"):
            continue
        value = getattr(np, name)
        if isinstance(value, np.ufunc):
            setattr(module, name, value)  # dispatches to ndarray.__array_ufunc__
        elif isinstance(value, type) or isinstance(value, (int, float, str)):
            setattr(module, name, value)
        elif callable(value) and not isinstance(value, types.ModuleType):
            setattr(module, name, _function(name, value))
        else:
            continue
        exported.append(name)
    for name in ("asarray", "array", "asnumpy", "get_array_module", "ElementwiseKernel",
                 "RawKernel", "RawModule"):
        setattr(module, name, globals()[name])
        exported.append(name)
    module.ndarray = ndarray
    module.random = _random_module()
    module.cuda = _cuda_module()
    module.fft = types.ModuleType("cupy.fft")
    linalg = types.ModuleType("cupy.linalg")
    for name in dir(np.linalg):
        if not name.startswith("_") and callable(getattr(np.linalg, name)):
            setattr(linalg, name, _function(name, getattr(np.linalg, name)))
    module.linalg = linalg
    module.__all__ = [n for n in exported if n not in ("random", "cuda", "fft", "linalg")]
    return module


_MODULE = _build()


def install() -> types.ModuleType:
    """Make ``import cupy`` give the stand-in, and xplayers see a usable GPU; returns it.

    Call before xplayers or array_api_compat import CuPy (a fresh process, as
    ``benchmarks/bench_launches.py`` is).
    """
    for name in [n for n in sys.modules if n == "cupy" or n.startswith(("cupy.", "cupyx"))
                 or n.startswith("array_api_compat.cupy")]:
        del sys.modules[name]
    sys.modules["cupy"] = _MODULE
    for sub in ("random", "cuda", "fft", "linalg"):
        sys.modules[f"cupy.{sub}"] = getattr(_MODULE, sub)
    sys.modules["cupy.cuda.runtime"] = _MODULE.cuda.runtime
    sys.modules["cupy.cuda.device"] = _MODULE.cuda.device
    from xplayers.backend import cuda

    cuda.probe_cupy = lambda cupy, driver_found=None: (True, "CuPy counting stand-in")
    cuda.cuda_status.cache_clear()
    return _MODULE
