"""Convolutional sandwich layers: conv-relu, conv-batchnorm-relu and conv-relu-pool.

Each backward function takes the keyword ``compute_dx`` and passes it to
:func:`~xplayers.layers.conv.conv_backward`: a network's first layer sets it to False and gets
``dx = None`` without paying for the input gradient.
"""

from __future__ import annotations

from typing import Any

from ..layers.conv import conv_backward, conv_forward
from ..layers.pooling import max_pool_backward, max_pool_forward
from ..layers.relu import relu_backward, relu_forward
from ..layers.spatial_norm import spatial_batchnorm_backward, spatial_batchnorm_forward

__all__ = [
    "conv_bn_relu_backward",
    "conv_bn_relu_forward",
    "conv_relu_backward",
    "conv_relu_forward",
    "conv_relu_pool_backward",
    "conv_relu_pool_forward",
]


def conv_relu_forward(
    x: Any, w: Any, b: Any, conv_param: dict[str, Any]
) -> tuple[Any, tuple[Any, Any]]:
    """Convolution followed by a ReLU.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    w : array, shape (F, C, HH, WW)
    b : array, shape (F,)
    conv_param : dict
        ``stride`` and ``pad``, as for :func:`~xplayers.layers.conv_forward`.

    Returns
    -------
    out : array, shape (N, F, Ho, Wo)
    cache : tuple
        ``(conv_cache, relu_cache)``.
    """
    a, conv_cache = conv_forward(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(
    dout: Any, cache: tuple[Any, Any], *, compute_dx: bool = True
) -> tuple[Any, Any, Any]:
    """Backward pass of :func:`conv_relu_forward`.

    Parameters
    ----------
    dout : array, shape (N, F, Ho, Wo)
    cache : tuple
        From :func:`conv_relu_forward`.
    compute_dx : bool, keyword-only
        False skips the input gradient (``dx`` is None).

    Returns
    -------
    dx : array, shape (N, C, H, W), or None
    dw : array, shape (F, C, HH, WW)
    db : array, shape (F,)
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward(da, conv_cache, compute_dx=compute_dx)


def conv_bn_relu_forward(
    x: Any, w: Any, b: Any, gamma: Any, beta: Any,
    conv_param: dict[str, Any], bn_param: dict[str, Any],
) -> tuple[Any, tuple[Any, Any, Any]]:
    """Convolution, spatial batch normalisation, ReLU.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    w : array, shape (F, C, HH, WW)
    b : array, shape (F,)
    gamma, beta : arrays, shape (F,) (or (1, F, 1, 1))
    conv_param : dict
        ``stride`` and ``pad``.
    bn_param : dict
        As for :func:`~xplayers.layers.spatial_batchnorm_forward`; its running statistics are
        updated in place in 'train' mode.

    Returns
    -------
    out : array, shape (N, F, Ho, Wo)
    cache : tuple
        ``(conv_cache, bn_cache, relu_cache)``.
    """
    a, conv_cache = conv_forward(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(
    dout: Any, cache: tuple[Any, Any, Any], *, compute_dx: bool = True
) -> tuple[Any, Any, Any, Any, Any]:
    """Backward pass of :func:`conv_bn_relu_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W), or None when ``compute_dx`` is False
    dw : array, shape (F, C, HH, WW)
    db : array, shape (F,)
    dgamma, dbeta : arrays, the shape of the forward's gamma and beta
    """
    conv_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward(da, conv_cache, compute_dx=compute_dx)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(
    x: Any, w: Any, b: Any, conv_param: dict[str, Any], pool_param: dict[str, Any]
) -> tuple[Any, tuple[Any, Any, Any]]:
    """Convolution, ReLU, max pooling, computed as convolution, max pooling, ReLU.

    A ReLU is monotone, so it commutes with taking a maximum: pooling first and applying the
    ReLU to the (pool-sized, e.g. 4x smaller) output gives the same values and the same
    gradients, for a fraction of the ReLU's work.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    w : array, shape (F, C, HH, WW)
    b : array, shape (F,)
    conv_param : dict
        ``stride`` and ``pad``.
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride``.

    Returns
    -------
    out : array, shape (N, F, Hp, Wp) (the pooled size)
    cache : tuple
        ``(conv_cache, pool_cache, relu_cache)``, in the order the layers ran.
    """
    a, conv_cache = conv_forward(x, w, b, conv_param)
    pooled, pool_cache = max_pool_forward(a, pool_param)
    out, relu_cache = relu_forward(pooled)
    return out, (conv_cache, pool_cache, relu_cache)


def conv_relu_pool_backward(
    dout: Any, cache: tuple[Any, Any, Any], *, compute_dx: bool = True
) -> tuple[Any, Any, Any]:
    """Backward pass of :func:`conv_relu_pool_forward`.

    Returns
    -------
    dx : array, shape (N, C, H, W), or None when ``compute_dx`` is False
    dw : array, shape (F, C, HH, WW)
    db : array, shape (F,)
    """
    conv_cache, pool_cache, relu_cache = cache
    dpooled = relu_backward(dout, relu_cache)
    da = max_pool_backward(dpooled, pool_cache)
    return conv_backward(da, conv_cache, compute_dx=compute_dx)
