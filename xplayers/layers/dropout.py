"""Inverted dropout: zero each unit with probability p, scale the kept ones by 1 / (1 - p)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backend.checks import as_dtype, as_real, check_floating, check_mode, check_shape
from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module, is_cupy_array
from ..backend.random_streams import RandomStream, is_seed, uniform_like

__all__ = ["dropout_backward", "dropout_forward"]


def _drop_probability(func: str, dropout_param: Mapping[str, Any]) -> float:
    if "p" not in dropout_param:
        raise ValueError(f"{func}: dropout_param['p'] is required (the probability of dropping)")
    p = dropout_param["p"]
    if as_real(p) is None:
        raise TypeError(f"{func}: dropout_param['p'] must be a real number, got {p!r}")
    if not 0.0 <= p < 1.0:
        raise ValueError(
            f"{func}: dropout_param['p'] is the probability of dropping a unit and must lie "
            f"in [0, 1), got p={p!r}; for the course's (2019 on) keep probability, where "
            "p=1 means no dropout, use xplayers.course.layers.dropout_forward"
        )
    return float(p)


def dropout_forward(x: Any, dropout_param: Mapping[str, Any]) -> tuple[Any, Any]:
    """Forward pass of inverted dropout; ``p`` is the probability of DROPPING a unit.

    (:mod:`xplayers.course.layers` has the course's 2019-on meaning, ``p`` = keep.)

    Parameters
    ----------
    x : array, any shape
    dropout_param : dict
        ``p``: probability of DROPPING each unit, in [0, 1) (required);
        ``mode``: 'train' (drop and rescale) or 'test' (identity) (required);
        ``seed``: optional; an int gives the same mask at every call (the course's, for
        gradient checks), an :class:`xplayers.RandomStream` a new mask at every call from a
        reproducible sequence. Global random state (NumPy's, CuPy's, PyTorch's) is never
        touched, with or without a seed.

    Returns
    -------
    out : array, shape and dtype of x
    cache : array or None
        The mask (0 or ``1 / (1 - p)``, x's dtype) in train mode; None in test mode.

    Raises
    ------
    ValueError
        For a ``dropout_param`` without ``p`` or ``mode``, a ``p`` outside [0, 1) (``p=1``
        points to the keep-probability meaning of :mod:`xplayers.course`), an unknown
        ``mode`` or a bad ``seed``.
    TypeError
        For a non-floating ``x``.
    """
    xp = get_array_module(x=x)
    func = "dropout_forward"
    check_floating(func, "x", x, xp)
    p = _drop_probability(func, dropout_param)
    mode = check_mode(func, "dropout_param", dropout_param)
    seed = dropout_param.get("seed")
    if seed is not None and not isinstance(seed, RandomStream) and not is_seed(seed):
        raise ValueError(f"{func}: dropout_param['seed'] must be None, a non-negative int or "
                         f"an xplayers.RandomStream, got {seed!r}")
    if mode == "test":
        return x, None
    scale, largest = 1.0 / (1.0 - p), float(xp.finfo(x.dtype).max)
    if scale > largest:  # float16 (largest 65504) for p above about 0.99998
        raise ValueError(f"{func}: p={p!r} scales the kept units by 1/(1-p) = {scale:.4g}, "
                         f"beyond the largest {x.dtype} value {largest:.4g}; use a smaller p "
                         "or a wider dtype")
    return _dropout(xp, x, uniform_like(x, xp, seed), p)


def dropout_portable(xp: Any, x: Any, u: Any, p: float) -> tuple[Any, Any]:
    """``(out, mask)`` of :func:`dropout_forward` in train mode from the ``U[0, 1)`` draw ``u``."""
    # U[0, 1) >= p holds with probability 1 - p, and always when p = 0.
    mask = xp.astype(u >= p, x.dtype)  # 1 where kept, 0 where dropped
    mask *= 1.0 / (1.0 - p)  # a multiply, not where(): where() branches on every element
    return x * mask, mask


def _dropout_cupy(xp: Any, x: Any, u: Any, p: float) -> Any:
    """Mask and output in one CUDA kernel (float16 draws float32 samples: declined)."""
    if not (is_cupy_array(x) and u.dtype == x.dtype and u.shape == x.shape):
        return NotImplemented
    from ..kernels import fused_cupy

    return fused_cupy.dropout(x, u, p)


_dropout = FastPaths(dropout_portable, cupy=_dropout_cupy)


def dropout_backward(dout: Any, cache: Any) -> Any:
    """Backward pass of inverted dropout.

    Parameters
    ----------
    dout : array, any shape
        Upstream gradient; in train mode cast to the forward's dtype when it differs.
    cache : array or None
        From :func:`dropout_forward`.

    Returns
    -------
    dx : array, shape of dout
        In train mode in the forward input's dtype; in test mode (the identity, whose cache
        is None) ``dout`` itself.
    """
    if cache is None:
        return dout
    xp = get_array_module(dout=dout, mask=cache)
    check_shape("dropout_backward", "dout", dout, tuple(cache.shape), "the shape of the forward x")
    return as_dtype(xp, dout, cache.dtype) * cache
