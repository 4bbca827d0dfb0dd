"""Normalisation of convolutional feature maps (N, C, H, W).

- Spatial batch normalisation: one mean and variance per channel, over the batch and both
  spatial axes (0, 2, 3); running averages for test mode, exactly as in
  :func:`xplayers.layers.batchnorm_forward`.
- Spatial group normalisation: the C channels are split into G groups of C // G; one mean and
  variance per example and group, over the group's channels and both spatial axes.

Both scale and shift per channel with ``gamma`` and ``beta``, given either as (C,) (the
course's spatial batchnorm) or as (1, C, 1, 1) (the course's group norm); the gradients come
back in the shape given. The maths is :mod:`._norm`'s, shared with batch and layer norm.
"""

from __future__ import annotations

import math
import operator
from collections.abc import MutableMapping
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .._checks import (
    as_dtype,
    check_floating,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ..backend import get_array_module
from . import _norm_numpy
from ._norm import normalize, normalize_backward
from .batchnorm import _batchnorm_forward_axes, _check_bn_param, _check_fraction

__all__ = [
    "SpatialNormCache",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
]

_CHANNEL_AXES = (0, 2, 3)  # every axis but the channel axis


class SpatialNormCache(NamedTuple):
    """What the backward passes need.

    ``xhat`` and ``inv_std`` are shaped for the statistics' axes: (N, C, H, W) and
    (1, C, 1, 1) for batch norm, (N, G, C // G, H, W) and (N, G, 1, 1, 1) for group norm.
    ``batch_stats`` is False in batchnorm's test mode, where the statistics are constants.
    """

    xhat: Any
    inv_std: Any
    gamma: Any
    gamma_shape: tuple[int, ...]
    axes: tuple[int, ...]
    batch_stats: bool
    in_dtypes: tuple[Any, ...] | None = None


def _channel_param(func: str, name: str, value: Any, x: Any, xp: ModuleType) -> Any:
    """``value`` of shape (C,) or (1, C, 1, 1), returned as (1, C, 1, 1)."""
    c = x.shape[1]
    if tuple(value.shape) not in ((c,), (1, c, 1, 1)):
        raise ValueError(
            f"{func}: {name} has shape {tuple(value.shape)}, expected (1, {c}, 1, 1) or ({c},) "
            f"(one value per channel of x with shape {tuple(x.shape)})"
        )
    return xp.reshape(value, (1, c, 1, 1))


def _check_input(func: str, xp: ModuleType, x: Any, gamma: Any, beta: Any) -> tuple[Any, Any]:
    check_floating(func, "x", x, xp)
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    return _channel_param(func, "gamma", gamma, x, xp), _channel_param(func, "beta", beta, x, xp)


def spatial_batchnorm_forward(
    x: Any, gamma: Any, beta: Any, bn_param: MutableMapping[str, Any]
) -> tuple[Any, SpatialNormCache]:
    """Forward pass of spatial batch normalisation.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    gamma, beta : arrays, shape (C,) or (1, C, 1, 1)
        Per-channel scale and shift.
    bn_param : dict
        ``mode`` ('train' or 'test', required), ``eps`` (1e-5), ``momentum`` (0.9),
        ``running_mean`` and ``running_var`` (shape (C,); zeros and ones, in x's dtype and on
        x's device, when missing). In 'train' mode the batch statistics over axes (0, 2, 3)
        normalise ``x`` and ``running = momentum * running + (1 - momentum) * batch`` (biased
        variance) is written back; 'test' mode normalises with the running averages.

    Returns
    -------
    out : array, shape (N, C, H, W)
    cache : SpatialNormCache
        For :func:`spatial_batchnorm_backward`.

    Raises
    ------
    ValueError
        For a missing or unknown mode, or wrongly shaped ``x``, ``gamma``, ``beta`` or running
        statistics.
    """
    func = "spatial_batchnorm_forward"
    bn_param = _check_bn_param(func, bn_param)
    xp = get_array_module(
        x=x, gamma=gamma, beta=beta,
        running_mean=bn_param.get("running_mean"), running_var=bn_param.get("running_var"),
    )
    gamma4, beta4 = _check_input(func, xp, x, gamma, beta)
    # Mode, eps, momentum and running statistics are checked, and written back only on
    # success, exactly as for batchnorm_forward.
    out, bn_cache = _batchnorm_forward_axes(xp, func, x, gamma4, beta4, bn_param, _CHANNEL_AXES)
    cache = SpatialNormCache(bn_cache.xhat, bn_cache.inv_std, bn_cache.gamma,
                             tuple(gamma.shape), _CHANNEL_AXES, bn_cache.train,
                             bn_cache.in_dtypes)
    return out, cache


def spatial_batchnorm_backward(dout: Any, cache: SpatialNormCache) -> tuple[Any, Any, Any]:
    """Backward pass of spatial batch normalisation.

    Parameters
    ----------
    dout : array, shape (N, C, H, W)
        Upstream gradient.
    cache : SpatialNormCache
        From :func:`spatial_batchnorm_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W)
    dgamma, dbeta : arrays, the shape of the forward's gamma and beta
    """
    return _backward("spatial_batchnorm_backward", dout, cache)


def spatial_groupnorm_forward(
    x: Any, gamma: Any, beta: Any, G: int, gn_param: MutableMapping[str, Any] | None = None
) -> tuple[Any, SpatialNormCache]:
    """Forward pass of spatial group normalisation.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    gamma, beta : arrays, shape (1, C, 1, 1) (or (C,))
        Per-channel scale and shift.
    G : int
        Number of groups; must divide C.
    gn_param : dict, optional
        ``eps`` (a number >= 0, default 1e-5); None means the defaults.

    Returns
    -------
    out : array, shape (N, C, H, W)
    cache : SpatialNormCache
        For :func:`spatial_groupnorm_backward`.

    Raises
    ------
    ValueError
        If G is not a positive integer dividing C, or shapes are wrong.
    """
    func = "spatial_groupnorm_forward"
    xp = get_array_module(x=x, gamma=gamma, beta=beta)
    gamma4, beta4 = _check_input(func, xp, x, gamma, beta)
    dtype, (x_c, gamma4, beta4) = promote(func, xp, x=x, gamma=gamma4, beta=beta4)
    in_dtypes = input_dtypes(dtype, x, gamma, beta)
    x = x_c
    n, c, h, w = x.shape
    try:
        if isinstance(G, bool):
            raise TypeError
        groups = operator.index(G)
    except TypeError:
        raise ValueError(f"{func}: G must be a positive integer, got {G!r}") from None
    if groups < 1 or c % groups:
        raise ValueError(
            f"{func}: G = {groups} groups must be a positive divisor of the C = {c} channels "
            f"of x with shape {tuple(x.shape)}"
        )
    if gn_param is None:
        gn_param = {}
    elif not isinstance(gn_param, MutableMapping):
        raise ValueError(f"{func}: gn_param must be a dict (optionally with 'eps') or None, "
                         f"got {gn_param!r}")
    eps = _check_fraction(func, "eps", gn_param.get("eps", 1e-5), 0.0, math.inf, "gn_param")
    axes = (2, 3, 4)
    kernels = _numba_group_norm(x)
    if kernels is not None:
        out, xhat, inv_std = _norm_numpy.numba_group_norm_forward(kernels, x, gamma4, beta4,
                                                                  groups, eps)
        return out, SpatialNormCache(xhat, inv_std, gamma4, tuple(gamma.shape), axes, True,
                                     in_dtypes)
    xhat, inv_std, _, _ = normalize(xp, xp.reshape(x, (n, groups, c // groups, h, w)), axes, eps)
    out = gamma4 * xp.reshape(xhat, (n, c, h, w))
    out += beta4
    return out, SpatialNormCache(xhat, inv_std, gamma4, tuple(gamma.shape), axes, True,
                                 in_dtypes)


def spatial_groupnorm_backward(dout: Any, cache: SpatialNormCache) -> tuple[Any, Any, Any]:
    """Backward pass of spatial group normalisation.

    Parameters
    ----------
    dout : array, shape (N, C, H, W)
        Upstream gradient.
    cache : SpatialNormCache
        From :func:`spatial_groupnorm_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W)
    dgamma, dbeta : arrays, the shape of the forward's gamma and beta
    """
    return _backward("spatial_groupnorm_backward", dout, cache)


def _backward(func: str, dout: Any, cache: SpatialNormCache) -> tuple[Any, Any, Any]:
    """Both layers' backward: ``dout`` is checked against the forward's x shape and cast to
    its compute dtype; the gradients come back in the dtypes of x, gamma and beta as given."""
    xp = get_array_module(dout=dout, xhat=cache.xhat)
    n, c = int(cache.xhat.shape[0]), int(cache.gamma.shape[1])
    x_shape = (n, c, *(int(s) for s in cache.xhat.shape[-2:]))
    check_shape(func, "dout", dout, x_shape, "(N, C, H, W) as in the forward")
    dout = as_dtype(xp, dout, cache.xhat.dtype)
    return grads_as_inputs(xp, _backward_compute(xp, dout, cache, x_shape), cache.in_dtypes)


def _backward_compute(
    xp: ModuleType, dout: Any, cache: SpatialNormCache, x_shape: tuple[int, ...]
) -> tuple[Any, Any, Any]:
    xhat, inv_std, gamma4, gamma_shape, axes, batch_stats, _ = cache
    if type(xhat) is np.ndarray and _norm_numpy.layout(dout, _CHANNEL_AXES) is not None:
        return _numpy_backward(dout, cache, x_shape)
    xhat_nchw = xp.reshape(xhat, x_shape)
    dbeta = xp.reshape(xp.sum(dout, axis=_CHANNEL_AXES), gamma_shape)
    dgamma = xp.reshape(xp.sum(dout * xhat_nchw, axis=_CHANNEL_AXES), gamma_shape)
    dxhat = xp.reshape(dout * gamma4, tuple(xhat.shape))
    if batch_stats:
        dx = normalize_backward(xp, dxhat, xhat, inv_std, axes)
    else:  # test mode: the running statistics are constants
        dx = dxhat * inv_std
    return xp.reshape(dx, x_shape), dgamma, dbeta


def _numba_group_norm(a: Any) -> Any:
    """The numba group-norm kernels for a float32/float64 NumPy array when enabled, else None."""
    if type(a) is not np.ndarray or a.dtype not in (np.float32, np.float64):
        return None
    return _norm_numpy.group_norm_kernels()


def _numpy_backward(
    dout: np.ndarray, cache: SpatialNormCache, x_shape: tuple[int, ...]
) -> tuple[Any, Any, Any]:
    """Both layers' backward from two sums per (example, channel): s1 = sum(dout) and
    s2 = sum(dout * xhat) over H and W, then ``dx = a * dout + b * xhat + c`` per channel.

    With ``dxhat = gamma * dout`` and means over a statistic's m elements, the closed form
    ``dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` has
    ``mean(dxhat) = sum(gamma * s1) / m`` and ``mean(dxhat * xhat) = sum(gamma * s2) / m``,
    the sums over the statistic's channels (and examples, for batch norm).
    """
    xhat, inv_std, gamma4, gamma_shape, axes, batch_stats, _ = cache
    n, c = x_shape[:2]
    kernels = _numba_group_norm(dout) if axes != _CHANNEL_AXES else None
    if kernels is not None:
        dx, dgamma, dbeta = _norm_numpy.numba_group_norm_backward(
            kernels, dout, xhat, inv_std, gamma4, inv_std.shape[1])
        return dx, np.reshape(dgamma, gamma_shape), np.reshape(dbeta, gamma_shape)
    d3 = np.reshape(dout, (n, c, -1))
    x3 = np.reshape(xhat, (n, c, -1))
    s1, s2 = d3.sum(axis=2), np.vecdot(d3, x3)  # (N, C)
    dbeta, dgamma = s1.sum(axis=0), s2.sum(axis=0)
    gamma = np.reshape(gamma4, (1, c))
    if axes == _CHANNEL_AXES:  # batch norm: one statistic per channel, over N, H and W
        inv = np.reshape(inv_std, (1, c))
        a = gamma * inv
        if batch_stats:
            m = n * d3.shape[2]
            b, shift = -a * dgamma / m, -a * dbeta / m
        else:  # test mode: the running statistics are constants
            b = shift = np.zeros_like(a)
    else:  # group norm: one statistic per example and group of C // G channels
        groups = inv_std.shape[1]
        size = c // groups
        m = size * d3.shape[2]
        mean_dxhat = np.reshape(gamma * s1, (n, groups, size)).sum(axis=2) / m
        mean_dxhat_xhat = np.reshape(gamma * s2, (n, groups, size)).sum(axis=2) / m
        inv = np.reshape(inv_std, (n, groups))
        # Per group (N, G) -> per channel (N, C): each group's value for its C // G channels.
        a = np.repeat(inv, size, axis=1) * gamma
        b = -np.repeat(inv * mean_dxhat_xhat, size, axis=1)
        shift = -np.repeat(inv * mean_dxhat, size, axis=1)
    dx = _norm_numpy.combine(d3, x3, a[..., None], b[..., None], shift[..., None])
    return (np.reshape(dx, x_shape), np.reshape(dgamma, gamma_shape),
            np.reshape(dbeta, gamma_shape))
