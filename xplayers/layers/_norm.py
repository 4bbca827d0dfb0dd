"""The normalisation core shared by batch, layer, spatial batch and group normalisation.

Each normalises ``x`` over some axes, ``xhat = (x - mean) / sqrt(var + eps)`` with the biased
variance, then scales and shifts by ``gamma`` and ``beta``, which are constant over those
axes. Only the axes differ, so forward and backward are written once here, on arrays in the
statistics' layout: (N, D) over (0,) for batch norm, (N, D) over (1,) for layer norm,
(N, C, H, W) over (0, 2, 3) for spatial batch norm, and (N, G, C // G, H, W) over (2, 3, 4)
for group norm (``gamma`` then (1, G, C // G, 1, 1)).

Fast paths (:mod:`xplayers.backend.fast_paths`, laid out as CONTRIBUTING.md's "Fast paths"
says): NumPy in :mod:`._norm_numpy`, group norm's numba kernels in :mod:`._norm_numba`
(opt-in), their adapters here.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from ..backend.fast_paths import FastPaths, library_of
from ..backend.namespace import is_cupy_array
from . import _norm_numpy

__all__ = ["normalize", "normalize_backward", "scale_shift_backward", "scale_shift_forward"]


def normalize_portable(
    xp: ModuleType, x: Any, axes: tuple[int, ...], eps: float
) -> tuple[Any, Any, Any, Any]:
    """Standardise ``x`` over ``axes``.

    Returns
    -------
    xhat : array, shape of x
    inv_std : array, x's shape with ``axes`` kept as size 1
        ``1 / sqrt(var + eps)``.
    mean, var : arrays, x's shape with ``axes`` kept as size 1
        The batch mean and biased variance.
    """
    mean = xp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    if x.dtype == xp.float64 or library_of(xp) == "numpy":
        # NumPy arrays live on the host: looking at var costs nothing, so the scaling
        # below runs only where squares overflowed.
        with np.errstate(over="ignore"):
            var = xp.mean(centred * centred, axis=axes, keepdims=True)
        if x.dtype == xp.float64 or bool(np.isfinite(var).all()):
            inv_std = 1.0 / xp.sqrt(var + eps)
            return centred * inv_std, inv_std, mean, var
    return _scaled_statistics(xp, centred, mean, axes, eps)


def _scaled_statistics(xp: ModuleType, centred: Any, mean: Any, axes: tuple[int, ...],
                       eps: float) -> tuple[Any, Any, Any, Any]:
    """:func:`normalize_portable` for float32/float16, whose squares overflow from
    ``|x - mean|`` ~ 2e19 (float16: 256), which made ``inv_std`` 0 and the output ``beta``.

    It squares ``(x - mean) / s``, ``s = 2^floor(log2 max|x - mean|)`` (at least 1): a power
    of two, so every rounding is the unscaled formula's, and where nothing overflows the
    results are that formula's bit for bit. No value is read back (on a GPU too).
    """
    one = xp.asarray(1.0, dtype=centred.dtype, device=centred.device)
    amax = xp.max(xp.abs(centred), axis=axes, keepdims=True)
    scale = 2.0 ** xp.floor(xp.log2(xp.maximum(amax, one)))
    scaled = centred / scale
    var_scaled = xp.mean(scaled * scaled, axis=axes, keepdims=True)
    inv_std = 1.0 / (scale * xp.sqrt(var_scaled + eps / scale / scale))
    return centred * inv_std, inv_std, mean, var_scaled * scale * scale


def normalize_backward_portable(
    xp: ModuleType, dxhat: Any, xhat: Any, inv_std: Any, axes: tuple[int, ...]
) -> Any:
    """Gradient through :func:`normalize`, given the gradient ``dxhat`` of its output.

    Mean and variance both depend on every input of their statistic, and the chain rule
    collapses to ``dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))``
    (means over ``axes``). Shapes: ``dxhat`` and ``xhat`` as x, ``inv_std`` as returned by
    :func:`normalize`.
    """
    mean_dxhat = xp.mean(dxhat, axis=axes, keepdims=True)
    mean_dxhat_xhat = xp.mean(dxhat * xhat, axis=axes, keepdims=True)
    return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


normalize = FastPaths(normalize_portable, numpy=_norm_numpy.normalize)
normalize_backward = FastPaths(normalize_backward_portable, numpy=_norm_numpy.normalize_backward)


def scale_shift_forward_portable(
    xp: ModuleType, x: Any, gamma: Any, beta: Any, axes: tuple[int, ...], eps: float
) -> tuple[Any, Any, Any, Any, Any]:
    """``(out, xhat, inv_std, mean, var)`` with ``out = gamma * xhat + beta``; see
    :func:`normalize` for the others. ``gamma`` and ``beta`` broadcast against ``x``."""
    xhat, inv_std, mean, var = normalize(xp, x, axes, eps)
    out = gamma * xhat
    out += beta
    return out, xhat, inv_std, mean, var


def scale_shift_backward_portable(
    xp: ModuleType, dout: Any, xhat: Any, inv_std: Any, gamma: Any, axes: tuple[int, ...],
    param_axes: tuple[int, ...], batch_stats: bool,
) -> tuple[Any, Any, Any]:
    """``(dx, dgamma, dbeta)`` through ``out = gamma * xhat + beta``.

    ``dout``, ``xhat``: x's shape; ``inv_std``: x's shape with ``axes`` as size 1; ``gamma``
    constant over ``param_axes``. ``dgamma`` and ``dbeta`` are sums over ``param_axes``, kept
    as size 1. ``batch_stats=False`` (running statistics, constants): ``dx = dout * gamma *
    inv_std``.
    """
    dgamma = xp.sum(dout * xhat, axis=param_axes, keepdims=True)
    dbeta = xp.sum(dout, axis=param_axes, keepdims=True)
    if not batch_stats:
        return dout * gamma * inv_std, dgamma, dbeta
    if param_axes == axes:
        # gamma is constant over each statistic, so normalize_backward's means of
        # dxhat = gamma * dout come from the sums just taken: mean(dxhat) = gamma * dbeta / m,
        # mean(dxhat * xhat) = gamma * dgamma / m.
        m = math.prod(dout.shape[i] for i in axes)
        dx = xhat * (dgamma / m)
        dx += dbeta / m
        dx = dout - dx
        dx *= gamma * inv_std
        return dx, dgamma, dbeta
    return normalize_backward(xp, dout * gamma, xhat, inv_std, axes), dgamma, dbeta


# -- group norm as numba kernels (opt-in: XPLAYERS_NUMBA=1) --------------------------------
def _numba_group_norm_arrays(a: Any, axes: tuple[int, ...]) -> bool:
    """True for (N, G, C // G, H, W) float32/float64 NumPy arrays normalised over (2, 3, 4)."""
    return (type(a) is np.ndarray and a.dtype in (np.float32, np.float64) and a.ndim == 5
            and axes == (2, 3, 4))


def _scale_shift_forward_numba(xp: ModuleType, x: Any, gamma: Any, beta: Any,
                               axes: tuple[int, ...], eps: float) -> Any:
    """:func:`._norm.scale_shift_forward` of group norm by the numba kernel.

    ``x`` (N, G, C // G, H, W) and ``gamma``, ``beta`` (1, G, C // G, 1, 1) give ``out`` and
    ``xhat`` (N, G, C // G, H, W), ``inv_std`` (N, G, 1, 1, 1), and None for mean and var.
    """
    if not _numba_group_norm_arrays(x, axes):
        return NotImplemented
    from . import _norm_numba

    n, groups, size, h, w = x.shape
    shape = (n, groups, size, h * w)
    x4 = np.ascontiguousarray(x).reshape(shape)
    xhat = np.empty(shape, dtype=x.dtype)
    out = np.empty(shape, dtype=x.dtype)
    inv_std = np.empty((n, groups), dtype=x.dtype)
    _norm_numba.group_norm_forward(x4, _per_group(gamma, groups, x.dtype),
                                   _per_group(beta, groups, x.dtype), float(eps), xhat, out,
                                   inv_std)
    return (out.reshape(x.shape), xhat.reshape(x.shape), inv_std.reshape(n, groups, 1, 1, 1),
            None, None)


def _scale_shift_backward_numba(xp: ModuleType, dout: Any, xhat: Any, inv_std: Any,
                                gamma: Any, axes: tuple[int, ...], param_axes: tuple[int, ...],
                                batch_stats: bool) -> Any:
    """:func:`._norm.scale_shift_backward` of group norm by the numba kernel: ``dx`` shaped
    like ``dout`` (N, G, C // G, H, W), ``dgamma`` and ``dbeta`` (1, G, C // G, 1, 1)."""
    if not (batch_stats and _numba_group_norm_arrays(dout, axes)):
        return NotImplemented
    from . import _norm_numba

    n, groups, size, h, w = dout.shape
    shape = (n, groups, size, h * w)
    d4 = np.ascontiguousarray(dout).reshape(shape)
    x4 = np.ascontiguousarray(xhat).reshape(shape)
    inv = np.ascontiguousarray(inv_std).reshape(n, groups)
    dx = np.empty(shape, dtype=dout.dtype)
    dgamma = np.empty((groups, size), dtype=dout.dtype)
    dbeta = np.empty_like(dgamma)
    _norm_numba.group_norm_backward(d4, x4, inv, _per_group(gamma, groups, dout.dtype), dx,
                                    dgamma, dbeta)
    kept = (1, groups, size, 1, 1)
    return dx.reshape(dout.shape), dgamma.reshape(kept), dbeta.reshape(kept)


def _per_group(values: np.ndarray, groups: int, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(np.reshape(values, (groups, -1)), dtype=dtype)


def _rows_of(x: Any, axes: tuple[int, ...], *others: Any) -> bool:
    """CuPy (N, D) ``x`` normalised over its rows, C-contiguous, ``others`` of its dtype."""
    return (is_cupy_array(x) and x.ndim == 2 and axes == (0,) and x.flags.c_contiguous
            and all(o.dtype == x.dtype and o.size == x.shape[1] for o in others))


def _scale_shift_forward_cupy(xp: ModuleType, x: Any, gamma: Any, beta: Any,
                              axes: tuple[int, ...], eps: float) -> Any:
    """Batch norm's forward in one CUDA kernel (:mod:`xplayers.kernels.norm_cupy`)."""
    if not (_rows_of(x, axes, gamma, beta) and gamma.ndim == beta.ndim == 1):
        return NotImplemented
    from ..kernels import norm_cupy

    return norm_cupy.batchnorm_forward(x, gamma, beta, eps)


def _scale_shift_backward_cupy(xp: ModuleType, dout: Any, xhat: Any, inv_std: Any, gamma: Any,
                               axes: tuple[int, ...], param_axes: tuple[int, ...],
                               batch_stats: bool) -> Any:
    """Batch norm's backward (batch statistics) in one CUDA kernel."""
    if not (batch_stats and param_axes == axes and _rows_of(dout, axes, gamma, inv_std)
            and xhat.flags.c_contiguous and xhat.dtype == dout.dtype):
        return NotImplemented
    from ..kernels import norm_cupy

    return norm_cupy.batchnorm_backward(dout, xhat, gamma, inv_std)


scale_shift_forward = FastPaths(scale_shift_forward_portable,
                                numba=_scale_shift_forward_numba,
                                cupy=_scale_shift_forward_cupy)
scale_shift_backward = FastPaths(scale_shift_backward_portable,
                                 numpy=_norm_numpy.scale_shift_backward,
                                 numba=_scale_shift_backward_numba,
                                 cupy=_scale_shift_backward_cupy)
