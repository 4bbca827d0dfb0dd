"""The maths shared by batch, layer, spatial and group normalisation.

Each normalises ``x`` over some axes, ``xhat = (x - mean) / sqrt(var + eps)`` with the biased
variance, then scales and shifts by per-feature ``gamma`` and ``beta``. Only which axes the
statistics are taken over differs, so forward and backward are written once here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from . import _norm_numpy


def normalize(
    xp: ModuleType, x: Any, axes: tuple[int, ...], eps: float
) -> tuple[Any, Any, Any, Any]:
    """Standardise ``x`` over ``axes``.

    NumPy arrays whose statistics' axes allow it take :mod:`._norm_numpy`'s fast path.

    Returns
    -------
    xhat : array, shape of x
    inv_std : array, x's shape with ``axes`` kept as size 1
        ``1 / sqrt(var + eps)``.
    mean, var : arrays, x's shape with ``axes`` kept as size 1
        The batch mean and biased variance.
    """
    pqr = _norm_numpy.layout(x, axes)
    if pqr is not None:
        return _norm_numpy.normalize(x, axes, eps, pqr)
    return normalize_portable(xp, x, axes, eps)


def normalize_portable(
    xp: ModuleType, x: Any, axes: tuple[int, ...], eps: float
) -> tuple[Any, Any, Any, Any]:
    """:func:`normalize` in Array API calls only (the reference of the fast path)."""
    mean = xp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = xp.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    return centred * inv_std, inv_std, mean, var


def normalize_backward(
    xp: ModuleType, dxhat: Any, xhat: Any, inv_std: Any, axes: tuple[int, ...]
) -> Any:
    """Gradient through :func:`normalize`, given the gradient ``dxhat`` of its output.

    With m elements per statistic, mean and variance both depend on every input, and the
    chain rule collapses to
    ``dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` (means over ``axes``).
    """
    pqr = _norm_numpy.layout(dxhat, axes)
    if pqr is not None and type(xhat) is np.ndarray:
        return _norm_numpy.normalize_backward(dxhat, xhat, inv_std, pqr)
    return normalize_backward_portable(xp, dxhat, xhat, inv_std, axes)


def normalize_backward_portable(
    xp: ModuleType, dxhat: Any, xhat: Any, inv_std: Any, axes: tuple[int, ...]
) -> Any:
    """:func:`normalize_backward` in Array API calls only (the reference of the fast path)."""
    mean_dxhat = xp.mean(dxhat, axis=axes, keepdims=True)
    mean_dxhat_xhat = xp.mean(dxhat * xhat, axis=axes, keepdims=True)
    return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)
