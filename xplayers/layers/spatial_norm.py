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
from collections.abc import MutableMapping
from types import ModuleType
from typing import Any, NamedTuple

from ..backend.checks import (
    as_dtype,
    as_integer,
    check_floating,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ..backend.namespace import get_array_module
from ._norm import scale_shift_backward, scale_shift_forward
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

    ``xhat``, ``inv_std`` and ``gamma`` are shaped for the statistics' axes: (N, C, H, W),
    (1, C, 1, 1) and (1, C, 1, 1) for batch norm; (N, G, C // G, H, W), (N, G, 1, 1, 1) and
    (1, G, C // G, 1, 1) for group norm.
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
    groups = as_integer(G)
    if groups is None:
        raise ValueError(f"{func}: G must be a positive integer, got {G!r}")
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
    grouped = (n, groups, c // groups, h, w)
    gamma5 = xp.reshape(gamma4, (1, *grouped[1:3], 1, 1))
    beta5 = xp.reshape(beta4, (1, *grouped[1:3], 1, 1))
    out, xhat, inv_std, _, _ = scale_shift_forward(xp, xp.reshape(x, grouped), gamma5, beta5,
                                                   axes, eps)
    return xp.reshape(out, (n, c, h, w)), SpatialNormCache(
        xhat, inv_std, gamma5, tuple(gamma.shape), axes, True, in_dtypes)


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
    xhat, inv_std, gamma, gamma_shape, axes, batch_stats, in_dtypes = cache
    xp = get_array_module(dout=dout, xhat=xhat)
    n, c = int(xhat.shape[0]), math.prod(int(s) for s in xhat.shape[1:-2])
    x_shape = (n, c, *(int(s) for s in xhat.shape[-2:]))
    check_shape(func, "dout", dout, x_shape, "(N, C, H, W) as in the forward")
    dout = xp.reshape(as_dtype(xp, dout, xhat.dtype), tuple(xhat.shape))
    param_axes = (0, *range(xhat.ndim - 2, xhat.ndim))  # every axis but the channels'
    dx, dgamma, dbeta = scale_shift_backward(xp, dout, xhat, inv_std, gamma, axes, param_axes,
                                             batch_stats)
    grads = (xp.reshape(dx, x_shape), xp.reshape(dgamma, gamma_shape),
             xp.reshape(dbeta, gamma_shape))
    return grads_as_inputs(xp, grads, in_dtypes)
