"""Fused update kernels behind :mod:`xplayers.optim`: one pass over each parameter's memory.

Each rule is written three times with the same operations in the same order, so all give the
portable body's numbers bit for bit (IEEE float32/float64, no reassociation, no FMA):

- :data:`FORMULAS`: the body of a CuPy ``ElementwiseKernel`` per rule (one kernel launch per
  update on the GPU). The statements are also valid Python, so the tests run the very same
  string on NumPy arrays (:func:`run_formula`) against the portable body.
- a NumPy body per rule, run in cache-sized blocks with ``out=`` ufuncs and two scratch
  buffers: the default;
- a numba kernel per rule (:mod:`xplayers._optim_numba`, a single loop), used when numba is
  switched on, or by the automatic policy on big arrays in long runs
  (:func:`xplayers._fast_paths.numba_pays`).

:func:`numpy_update`, :func:`numba_update` and :func:`cupy_update` are the fast paths of
:mod:`xplayers.optim`'s update (registered there with :class:`xplayers._fast_paths.FastPaths`);
each declines (``NotImplemented``) arrays it does not take.

Every kernel writes fresh output arrays (``next_w`` and the new state): ``w``, ``dw`` and the
old state are only read, as :mod:`xplayers.optim` promises.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from ..backend.fast_paths import numba_pays
from ..backend.namespace import is_cupy_array

__all__ = ["FORMULAS", "cupy_update", "numba_update", "numpy_update", "run_formula"]

# Inputs, outputs and scalars of each rule, in kernel argument order. Scalars are the
# hyperparameters already combined on the host (e.g. ``1 - beta1``), as the portable body does.
SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "sgd": (("w", "g"), ("w_out",), ("lr",)),
    "sgd_momentum": (("w", "g", "v"), ("w_out", "v_out"), ("mu", "lr")),
    "sgd_nesterov_momentum": (("w", "g", "v"), ("w_out", "v_out"), ("mu", "lr")),
    "rmsprop": (("w", "g", "c"), ("w_out", "c_out"), ("lr", "decay", "one_minus_decay", "eps")),
    "adam": (("w", "g", "m", "v"), ("w_out", "m_out", "v_out"),
             ("beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "step_scale",
              "eps_scaled")),
}

# One statement per output; the parenthesisation fixes the portable body's evaluation order.
FORMULAS: dict[str, str] = {
    "sgd": "w_out = w - lr * g;",
    "sgd_momentum": "v_out = mu * v - lr * g; w_out = w + v_out;",
    "sgd_nesterov_momentum": "v_out = mu * v - lr * g; w_out = (w + v_out) + mu * (v_out - v);",
    "rmsprop": ("c_out = decay * c + one_minus_decay * (g * g); "
                "w_out = w - (lr * g) / (sqrt(c_out) + eps);"),
    "adam": ("m_out = beta1 * m + one_minus_beta1 * g; "
             "v_out = (g * g) * one_minus_beta2 + beta2 * v; "
             "w_out = w - (m_out / (sqrt(v_out) + eps_scaled)) * step_scale;"),
}

# Below this many elements a fused kernel does not pay for its dispatch (biases, tiny nets).
MIN_FUSED_SIZE = 4096
# Elements per block of the NumPy fallback: a block of every operand stays in the L2 cache.
_BLOCK_BYTES = 1 << 18


def run_formula(rule: str, xp: Any, arrays: dict[str, Any], scalars: dict[str, Any]) -> dict:
    """Evaluate :data:`FORMULAS` ``[rule]`` as Python on arrays of ``xp``; returns the outputs.

    This is how the tests check that the CuPy kernel's body computes what the portable body
    computes, on machines without a GPU.
    """
    namespace: dict[str, Any] = {"sqrt": xp.sqrt, **arrays, **scalars}
    exec(FORMULAS[rule], {"__builtins__": {}}, namespace)
    return {name: namespace[name] for name in SIGNATURES[rule][1]}


def _numpy_takes(arrays: tuple[Any, ...], in_place: bool) -> bool:
    """C-contiguous NumPy arrays, big enough for a fused kernel to pay unless ``in_place``."""
    for a in arrays:
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            return False
    return in_place or arrays[0].size >= MIN_FUSED_SIZE


def _prepare(rule: str, arrays: tuple[Any, ...], scalars: tuple[float, ...],
             in_place: bool) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The output arrays (``w`` and the old state itself when ``in_place``, else fresh ones)
    and the scalars cast to the arrays' dtype, so float32 stays float32 as NumPy's rules for
    Python scalars keep it."""
    w = arrays[0]
    typed = tuple(w.dtype.type(s) for s in scalars)
    if in_place:
        return (w, *arrays[2:]), typed
    return tuple(np.empty_like(w) for _ in SIGNATURES[rule][1]), typed


def numpy_update(xp: ModuleType, rule: str, arrays: tuple[Any, ...],
                 scalars: tuple[float, ...], in_place: bool) -> Any:
    """``rule``'s outputs (next_w, new state) by the blocked NumPy body; see
    :mod:`xplayers.optim` for the arguments."""
    if not _numpy_takes(arrays, in_place):
        return NotImplemented
    outs, typed = _prepare(rule, arrays, scalars, in_place)
    _blocked_numpy(rule, [a.reshape(-1) for a in (*arrays, *outs)], typed)
    return outs


def numba_update(xp: ModuleType, rule: str, arrays: tuple[Any, ...],
                 scalars: tuple[float, ...], in_place: bool) -> Any:
    """:func:`numpy_update` by the numba kernels (one loop; in place without a copy), when
    :func:`~xplayers._fast_paths.numba_pays` says so."""
    if not _numpy_takes(arrays, in_place) or not numba_pays(arrays[0].size):
        return NotImplemented
    from . import numba_loops as _optim_numba

    outs, typed = _prepare(rule, arrays, scalars, in_place)
    if in_place:
        _optim_numba.IN_PLACE_KERNELS[rule](*(a.reshape(-1) for a in arrays), *typed)
    else:
        _optim_numba.KERNELS[rule](*(a.reshape(-1) for a in (*arrays, *outs)), *typed)
    return outs


def cupy_update(xp: ModuleType, rule: str, arrays: tuple[Any, ...],
                scalars: tuple[float, ...], in_place: bool) -> Any:
    """:func:`numpy_update` by one CuPy ``ElementwiseKernel`` launch (C-contiguous arrays)."""
    if not all(is_cupy_array(a) and a.flags.c_contiguous for a in arrays):
        return NotImplemented
    w = arrays[0]
    typed = tuple(w.dtype.type(s) for s in scalars)
    outs = (w, *arrays[2:]) if in_place else ()
    result = _cupy_kernel(rule)(*arrays, *typed, *outs)
    return result if isinstance(result, tuple) else (result,)


# -- CuPy ----------------------------------------------------------------------------------
_CUPY_KERNELS: dict[str, Any] = {}
# NVRTC contracts a*b + c into one FMA by default, which rounds once instead of twice and so
# would differ from the portable body's separate CuPy ufuncs.
_NO_FMA = ("--fmad=false",)


def _cupy_kernel(rule: str) -> Any:
    kernel = _CUPY_KERNELS.get(rule)
    if kernel is None:
        import cupy

        inputs, outputs, scalars = SIGNATURES[rule]
        kernel = cupy.ElementwiseKernel(
            ", ".join(f"T {name}" for name in (*inputs, *scalars)),
            ", ".join(f"T {name}" for name in outputs),
            FORMULAS[rule], f"xplayers_{rule}", options=_NO_FMA)
        _CUPY_KERNELS[rule] = kernel
    return kernel


# -- NumPy fallback ------------------------------------------------------------------------
def _blocked_numpy(rule: str, flat: list[np.ndarray], scalars: tuple[Any, ...]) -> None:
    """Run ``rule`` block by block with ``out=`` ufuncs; same operations as the formula."""
    size = flat[0].size
    block = max(1, _BLOCK_BYTES // flat[0].itemsize)
    buf = np.empty((2, min(block, size)), dtype=flat[0].dtype)
    body = _NUMPY_BODIES[rule]
    for start in range(0, size, block):
        stop = min(start + block, size)
        body(*(a[start:stop] for a in flat), *scalars, tmp=buf[0, : stop - start],
             tmp2=buf[1, : stop - start])


# Each body may get its outputs aliased to its inputs (in place): an input element is read
# before its output is written, and only ``tmp``/``tmp2`` hold intermediate values.
def _sgd(w, g, w_out, lr, *, tmp, tmp2):
    np.multiply(g, lr, out=tmp)
    np.subtract(w, tmp, out=w_out)


def _momentum(w, g, v, w_out, v_out, mu, lr, *, tmp, tmp2):
    np.multiply(v, mu, out=v_out)
    np.multiply(g, lr, out=tmp)
    v_out -= tmp
    np.add(w, v_out, out=w_out)


def _nesterov(w, g, v, w_out, v_out, mu, lr, *, tmp, tmp2):
    np.multiply(v, mu, out=tmp)
    np.multiply(g, lr, out=tmp2)
    tmp -= tmp2  # the new velocity
    np.subtract(tmp, v, out=tmp2)
    tmp2 *= mu
    np.add(w, tmp, out=w_out)
    w_out += tmp2
    np.copyto(v_out, tmp)


def _rmsprop(w, g, c, w_out, c_out, lr, decay, one_minus_decay, eps, *, tmp, tmp2):
    np.multiply(c, decay, out=c_out)
    np.multiply(g, g, out=tmp)
    tmp *= one_minus_decay
    c_out += tmp
    np.sqrt(c_out, out=tmp)
    tmp += eps
    np.multiply(g, lr, out=tmp2)
    np.divide(tmp2, tmp, out=tmp)
    np.subtract(w, tmp, out=w_out)


def _adam(w, g, m, v, w_out, m_out, v_out, beta1, one_minus_beta1, beta2, one_minus_beta2,
          step_scale, eps_scaled, *, tmp, tmp2):
    np.multiply(m, beta1, out=m_out)
    np.multiply(g, one_minus_beta1, out=tmp)
    m_out += tmp
    np.multiply(v, beta2, out=tmp)  # before v_out is written: v_out may be v
    np.multiply(g, g, out=v_out)
    v_out *= one_minus_beta2
    v_out += tmp
    np.sqrt(v_out, out=tmp)
    tmp += eps_scaled
    np.divide(m_out, tmp, out=tmp)
    tmp *= step_scale
    np.subtract(w, tmp, out=w_out)


_NUMPY_BODIES: dict[str, Callable[..., None]] = {
    "sgd": _sgd,
    "sgd_momentum": _momentum,
    "sgd_nesterov_momentum": _nesterov,
    "rmsprop": _rmsprop,
    "adam": _adam,
}
