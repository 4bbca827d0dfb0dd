"""Batch normalisation: standardise each feature over the minibatch, then scale and shift.

The public functions handle ``x`` of shape (N, D). The private helpers
:func:`_batchnorm_forward_axes` / :func:`_batchnorm_backward_axes` normalise over any set of
axes, so spatial batch normalisation (statistics over N, H and W of an (N, C, H, W) input) can
reuse them without transposing or copying ``x``.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from types import ModuleType
from typing import Any, NamedTuple

from ..backend.checks import (
    as_dtype,
    as_real,
    check_floating,
    check_mode,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module, is_cupy_array
from ._norm import scale_shift_backward, scale_shift_forward

__all__ = ["batchnorm_backward", "batchnorm_backward_alt", "batchnorm_forward"]


class BatchNormCache(NamedTuple):
    """What the batchnorm backward passes need, and nothing else."""

    xhat: Any
    """The normalised input, shape of x."""
    inv_std: Any
    """``1 / sqrt(var + eps)``, x's shape with the normalised axes kept as size 1."""
    gamma: Any
    """The scale, as passed to the forward (its shape is the shape of ``dgamma``)."""
    axes: tuple[int, ...]
    """The axes the statistics were taken over."""
    train: bool
    """True if batch statistics were used; False for running statistics (test mode)."""
    in_dtypes: tuple[Any, ...] | None = None
    """Dtypes of x, gamma, beta as given, when one differed from the compute dtype."""


def _check_fraction(
    func: str, name: str, value: Any, low: float, high: float, where: str = "bn_param"
) -> float:
    number = as_real(value)
    if number is None:
        raise TypeError(f"{func}: {where}[{name!r}] must be a real number, got {value!r}")
    value = number
    if not low <= value <= high:
        raise ValueError(
            f"{func}: {where}[{name!r}] must lie in [{low}, {high}], got {value}"
        )
    return value


def _check_bn_param(func: str, bn_param: Any) -> MutableMapping[str, Any]:
    """``bn_param`` itself, or ``ValueError`` when it is not a dict (None, say)."""
    if not isinstance(bn_param, MutableMapping):
        raise ValueError(
            f"{func}: bn_param must be a dict with 'mode' ('train' or 'test') and optionally "
            f"'eps', 'momentum', 'running_mean' and 'running_var', got {bn_param!r}"
        )
    return bn_param


def _batchnorm_forward_axes(
    xp: ModuleType,
    func: str,
    x: Any,
    gamma: Any,
    beta: Any,
    bn_param: MutableMapping[str, Any],
    axes: tuple[int, ...],
) -> tuple[Any, BatchNormCache]:
    """Batch normalisation of ``x`` with statistics over ``axes``.

    For reuse by other normalisation layers (spatial batchnorm). The caller has looked up
    ``xp`` (naming the running statistics too), checked that ``x`` is floating and that
    ``gamma``/``beta`` broadcast against ``x`` with ``axes`` kept as size 1: shape (D,) for
    2-D ``x`` with ``axes=(0,)``, or (1, C, 1, 1) for (N, C, H, W) ``x`` with ``axes=(0, 2, 3)``.

    This checks ``bn_param`` (mode, eps, momentum, and the running statistics, whose shape
    is x's shape with ``axes`` removed, e.g. (D,) or (C,)), and writes the updated running
    statistics back into ``bn_param`` only once everything has succeeded. Missing running
    statistics start as zeros (mean) and ones (variance) in x's dtype on x's device.
    ``func`` names the public function in error messages.

    Mixed dtypes are promoted (:func:`xplayers._checks.promote`) over x, gamma, beta and the
    running statistics, which are written back in the compute dtype, as NumPy would.
    """
    mode = check_mode(func, "bn_param", bn_param)
    eps = _check_fraction(func, "eps", bn_param.get("eps", 1e-5), 0.0, math.inf)
    momentum = _check_fraction(func, "momentum", bn_param.get("momentum", 0.9), 0.0, 1.0)
    stat_shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    running_mean = bn_param.get("running_mean")
    running_var = bn_param.get("running_var")
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None:
            check_shape(func, f"bn_param[{name!r}]", stat, stat_shape,
                        f"one statistic per feature of x of shape {tuple(x.shape)}")
    gamma_in, beta_in = gamma, beta
    dtype, (x_c, gamma, beta, running_mean, running_var) = promote(
        func, xp, x=x, gamma=gamma, beta=beta, running_mean=running_mean,
        running_var=running_var,
    )
    in_dtypes = input_dtypes(dtype, x, gamma_in, beta_in)
    x = x_c
    if running_mean is None:
        running_mean = xp.zeros(stat_shape, dtype=x.dtype, device=x.device)
    if running_var is None:
        running_var = xp.ones(stat_shape, dtype=x.dtype, device=x.device)

    if mode == "test":
        inv_std = 1.0 / xp.sqrt(xp.reshape(running_var, kept_shape) + eps)
        xhat = (x - xp.reshape(running_mean, kept_shape)) * inv_std
        return gamma * xhat + beta, BatchNormCache(xhat, inv_std, gamma, axes, False, in_dtypes)

    if math.prod(x.shape[i] for i in axes) == 0:
        raise ValueError(
            f"{func}: training mode needs at least one value per statistic, "
            f"got x of shape {tuple(x.shape)}"
        )
    out, xhat, inv_std, mean, var = scale_shift_forward(xp, x, gamma, beta, axes, eps)
    new_mean, new_var = _running_stats(xp, running_mean, running_var,
                                       xp.reshape(mean, stat_shape), xp.reshape(var, stat_shape),
                                       momentum)
    bn_param["running_mean"] = new_mean
    bn_param["running_var"] = new_var
    return out, BatchNormCache(xhat, inv_std, gamma, axes, True, in_dtypes)


def running_stats_portable(xp: ModuleType, running_mean: Any, running_var: Any, mean: Any,
                           var: Any, momentum: float) -> tuple[Any, Any]:
    """``momentum * running + (1 - momentum) * batch`` for the mean and the variance."""
    return (momentum * running_mean + (1.0 - momentum) * mean,
            momentum * running_var + (1.0 - momentum) * var)


def _running_stats_cupy(xp: ModuleType, running_mean: Any, running_var: Any, mean: Any,
                        var: Any, momentum: float) -> Any:
    arrays = (running_mean, running_var, mean, var)
    if not all(is_cupy_array(a) and a.dtype == mean.dtype and a.shape == mean.shape
               and a.flags.c_contiguous for a in arrays):
        return NotImplemented
    from ..kernels import norm_cupy

    return norm_cupy.running_stats(*arrays, momentum)


_running_stats = FastPaths(running_stats_portable, cupy=_running_stats_cupy)


def _scale_shift_grads(xp: ModuleType, dout: Any, cache: BatchNormCache) -> tuple[Any, Any]:
    shape = tuple(cache.gamma.shape)
    keep = len(shape) == dout.ndim
    dgamma = xp.reshape(xp.sum(dout * cache.xhat, axis=cache.axes, keepdims=keep), shape)
    dbeta = xp.reshape(xp.sum(dout, axis=cache.axes, keepdims=keep), shape)
    return dgamma, dbeta


def _batchnorm_backward_axes(
    xp: ModuleType, func: str, dout: Any, cache: BatchNormCache, *, staged: bool = False
) -> tuple[Any, Any, Any]:
    """Gradients ``(dx, dgamma, dbeta)`` for :func:`_batchnorm_forward_axes`.

    ``staged=True`` walks the computation graph node by node (:func:`batchnorm_backward`);
    otherwise the normalisation core's closed form is used
    (:func:`._norm.scale_shift_backward`). ``dgamma`` and ``dbeta`` have gamma's shape.
    ``dout`` is cast to the forward's compute dtype; the gradients come back in the dtypes
    of x, gamma and beta as given (:func:`xplayers._checks.grads_as_inputs`).
    """
    check_shape(func, "dout", dout, tuple(cache.xhat.shape), "the shape of the forward x")
    dx, dgamma, dbeta = _backward_compute(
        xp, as_dtype(xp, dout, cache.xhat.dtype), cache, staged)
    return grads_as_inputs(xp, (dx, dgamma, dbeta), cache.in_dtypes)


def _backward_compute(
    xp: ModuleType, dout: Any, cache: BatchNormCache, staged: bool
) -> tuple[Any, Any, Any]:
    if not staged or not cache.train:
        dx, dgamma, dbeta = scale_shift_backward(
            xp, dout, cache.xhat, cache.inv_std, cache.gamma, cache.axes, cache.axes,
            cache.train)
        shape = tuple(cache.gamma.shape)
        return dx, xp.reshape(dgamma, shape), xp.reshape(dbeta, shape)
    dgamma, dbeta = _scale_shift_grads(xp, dout, cache)
    dxhat = dout * cache.gamma
    # Forward graph: mu = mean(x); c = x - mu; v = mean(c**2); s = sqrt(v + eps);
    # r = 1 / s; xhat = c * r. Walk it backwards, one node at a time.
    axes, r = cache.axes, cache.inv_std
    m = math.prod(dout.shape[i] for i in axes)
    c = cache.xhat / r
    dr = xp.sum(dxhat * c, axis=axes, keepdims=True)  # xhat = c * r
    dc = dxhat * r
    ds = -dr * r * r  # r = 1 / s
    dv = 0.5 * r * ds  # s = sqrt(v + eps)
    dc = dc + (2.0 / m) * c * dv  # v = mean(c**2)
    dmu = -xp.sum(dc, axis=axes, keepdims=True)  # c = x - mu
    dx = dc + dmu / m  # mu = mean(x)
    return dx, dgamma, dbeta


def batchnorm_forward(
    x: Any, gamma: Any, beta: Any, bn_param: MutableMapping[str, Any]
) -> tuple[Any, BatchNormCache]:
    """Forward pass of batch normalisation.

    In ``'train'`` mode each feature is standardised with the minibatch mean and biased
    variance, and the running statistics are updated in ``bn_param``:
    ``running = momentum * running + (1 - momentum) * batch``. In ``'test'`` mode the
    running statistics are used and ``bn_param`` is left unchanged.

    Parameters
    ----------
    x : array, shape (N, D)
    gamma, beta : arrays, shape (D,)
        Scale and shift.
    bn_param : dict
        ``mode`` ('train' or 'test', required); ``eps`` (1e-5); ``momentum`` (0.9);
        ``running_mean`` (D,) and ``running_var`` (D,). Missing running statistics start as
        zeros and ONES (as in PyTorch, so an untrained layer in test mode is the identity
        up to ``eps``), created in x's dtype on x's device. They are written back only after
        the call has succeeded.

    Returns
    -------
    out : array, shape (N, D)
    cache : BatchNormCache
        For :func:`batchnorm_backward` and :func:`batchnorm_backward_alt`.

    Raises
    ------
    ValueError
        For a missing or unknown mode, or shapes that do not fit.
    TypeError
        For a non-floating ``x`` or a complex gamma, beta or running statistic.
    """
    func = "batchnorm_forward"
    bn_param = _check_bn_param(func, bn_param)
    xp = get_array_module(
        x=x, gamma=gamma, beta=beta,
        running_mean=bn_param.get("running_mean"), running_var=bn_param.get("running_var"),
    )
    check_floating(func, "x", x, xp)
    check_ndim(func, "x", x, 2, "(N, D)")
    d = x.shape[1]
    check_shape(func, "gamma", gamma, (d,), "D = x.shape[1]")
    check_shape(func, "beta", beta, (d,), "D = x.shape[1]")
    return _batchnorm_forward_axes(xp, func, x, gamma, beta, bn_param, (0,))


def batchnorm_backward(dout: Any, cache: BatchNormCache) -> tuple[Any, Any, Any]:
    """Backward pass of batch normalisation, staged along the forward computation graph.

    Parameters
    ----------
    dout : array, shape (N, D)
        Upstream gradient.
    cache : BatchNormCache
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : array, shape (N, D)
    dgamma, dbeta : arrays, shape (D,)
    """
    xp = get_array_module(dout=dout, xhat=cache.xhat)
    return _batchnorm_backward_axes(xp, "batchnorm_backward", dout, cache, staged=True)


def batchnorm_backward_alt(dout: Any, cache: BatchNormCache) -> tuple[Any, Any, Any]:
    """Backward pass of batch normalisation in simplified closed form.

    ``dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` with
    ``dxhat = dout * gamma`` and means over the batch. Same arguments and results as
    :func:`batchnorm_backward`.
    """
    xp = get_array_module(dout=dout, xhat=cache.xhat)
    return _batchnorm_backward_axes(xp, "batchnorm_backward_alt", dout, cache)
