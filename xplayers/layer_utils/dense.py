"""Fully-connected sandwich layers: affine -> [batchnorm | layernorm] -> ReLU."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module, is_cupy_array
from ..layers.affine import affine_backward, affine_forward
from ..layers.batchnorm import batchnorm_backward_alt, batchnorm_forward
from ..layers.layernorm import layernorm_backward, layernorm_forward
from ..layers.relu import relu_backward, relu_forward

__all__ = [
    "affine_norm_relu_backward",
    "affine_norm_relu_forward",
    "affine_relu_backward",
    "affine_relu_forward",
]

_NORMALIZATIONS = ("batchnorm", "layernorm")


def affine_relu_forward(x: Any, w: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    """An affine layer followed by a ReLU.

    Parameters
    ----------
    x : array, shape (N, d_1, ..., d_k)
    w : array, shape (D, M)
    b : array, shape (M,)

    Returns
    -------
    out : array, shape (N, M)
    cache : tuple
        For :func:`affine_relu_backward`.
    """
    return _affine_relu(get_array_module(x=x, w=w, b=b), x, w, b)


def affine_relu_portable(xp: Any, x: Any, w: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    """The portable body of :func:`affine_relu_forward`."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def _affine_relu_cupy(xp: Any, x: Any, w: Any, b: Any) -> Any:
    """GEMM, then bias + ReLU in one pass over the product (two launches, not three)."""
    if not (is_cupy_array(x) and b is not None and x.dtype == w.dtype == b.dtype
            and w.ndim == 2 and b.shape == (w.shape[1],) and b.flags.c_contiguous):
        return NotImplemented
    from ..kernels import fused_cupy

    a, fc_cache = affine_forward(x, w, None)  # checks x and w; b is checked above
    out = fused_cupy.bias_relu(a, b)
    return out, (fc_cache._replace(has_bias=True), out)


_affine_relu = FastPaths(affine_relu_portable, cupy=_affine_relu_cupy)


def affine_relu_backward(
    dout: Any, cache: tuple[Any, Any], *, compute_dx: bool = True
) -> tuple[Any, Any, Any]:
    """Backward pass of :func:`affine_relu_forward`.

    Parameters
    ----------
    dout : array, shape (N, M)
    cache : tuple
        From :func:`affine_relu_forward`.
    compute_dx : bool, keyword-only
        False skips the input gradient (a network's first layer); ``dx`` is then None.

    Returns
    -------
    dx : array, shape (N, d_1, ..., d_k), or None
    dw : array, shape (D, M)
    db : array, shape (M,)
    """
    fc_cache, relu_cache = cache
    xp = get_array_module(dout=dout, cache=relu_cache)
    return _affine_relu_backward(xp, dout, fc_cache, relu_cache, compute_dx)


def affine_relu_backward_portable(xp: Any, dout: Any, fc_cache: Any, relu_cache: Any,
                                  compute_dx: bool) -> tuple[Any, Any, Any]:
    """The portable body of :func:`affine_relu_backward`."""
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache, compute_dx=compute_dx)


def _affine_relu_backward_cupy(xp: Any, dout: Any, fc_cache: Any, relu_cache: Any,
                               compute_dx: bool) -> Any:
    """ReLU backward and the bias gradient in one kernel, then the two GEMMs."""
    x, w, in_dtypes, has_bias = fc_cache
    if not (is_cupy_array(dout) and has_bias and in_dtypes is None and dout.ndim == 2
            and dout.shape == relu_cache.shape == (x.shape[0], w.shape[1])
            and dout.dtype == relu_cache.dtype == x.dtype
            and dout.flags.c_contiguous and relu_cache.flags.c_contiguous):
        return NotImplemented
    from ..kernels import fused_cupy

    da, db = fused_cupy.relu_backward_bias(dout, relu_cache)
    dw = xp.matrix_transpose(xp.reshape(x, (x.shape[0], w.shape[0]))) @ da
    dx = xp.reshape(da @ xp.matrix_transpose(w), x.shape) if compute_dx else None
    return dx, dw, db


_affine_relu_backward = FastPaths(affine_relu_backward_portable,
                                  cupy=_affine_relu_backward_cupy)


def affine_norm_relu_forward(
    x: Any,
    w: Any,
    b: Any,
    gamma: Any,
    beta: Any,
    norm_param: MutableMapping[str, Any],
    normalization: str,
) -> tuple[Any, tuple[Any, Any, Any, str]]:
    """Affine layer, then batch or layer normalisation, then ReLU.

    Parameters
    ----------
    x : array, shape (N, d_1, ..., d_k)
    w : array, shape (D, M)
    b, gamma, beta : arrays, shape (M,)
    norm_param : dict
        ``bn_param`` of :func:`batchnorm_forward` (running statistics are updated in it) or
        ``ln_param`` of :func:`layernorm_forward`.
    normalization : {'batchnorm', 'layernorm'}

    Returns
    -------
    out : array, shape (N, M)
    cache : tuple
        For :func:`affine_norm_relu_backward`.
    """
    if normalization not in _NORMALIZATIONS:
        raise ValueError(
            "affine_norm_relu_forward: normalization must be 'batchnorm' or 'layernorm', "
            f"got {normalization!r}"
        )
    a, fc_cache = affine_forward(x, w, b)
    norm_cache: tuple[Any, ...]
    if normalization == "batchnorm":
        an, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    else:
        an, norm_cache = layernorm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, norm_cache, relu_cache, normalization)


def affine_norm_relu_backward(
    dout: Any, cache: tuple[Any, Any, Any, str], *, compute_dx: bool = True
) -> tuple[Any, Any, Any, Any, Any]:
    """Backward pass of :func:`affine_norm_relu_forward`.

    Parameters
    ----------
    dout : array, shape (N, M)
    cache : tuple
        From :func:`affine_norm_relu_forward`.
    compute_dx : bool, keyword-only
        False skips the input gradient (a network's first layer); ``dx`` is then None.

    Returns
    -------
    dx : array, shape (N, d_1, ..., d_k), or None
    dw : array, shape (D, M)
    db, dgamma, dbeta : arrays, shape (M,)
    """
    fc_cache, norm_cache, relu_cache, normalization = cache
    dan = relu_backward(dout, relu_cache)
    if normalization == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward_alt(dan, norm_cache)
    else:
        da, dgamma, dbeta = layernorm_backward(dan, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache, compute_dx=compute_dx)
    return dx, dw, db, dgamma, dbeta
