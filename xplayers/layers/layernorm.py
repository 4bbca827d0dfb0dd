"""Layer normalisation: standardise each example over its own features, then scale and shift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..backend.checks import (
    as_dtype,
    as_real,
    check_floating,
    check_ndim,
    check_shape,
    grads_as_inputs,
    input_dtypes,
    promote,
)
from ..backend.namespace import get_array_module
from ._norm import scale_shift_backward, scale_shift_forward

__all__ = ["layernorm_backward", "layernorm_forward"]


class LayerNormCache(NamedTuple):
    """What :func:`layernorm_backward` needs."""

    xhat: Any
    """The normalised input, shape (N, D)."""
    inv_std: Any
    """``1 / sqrt(var + eps)`` per row, shape (N, 1)."""
    gamma: Any
    """The scale, shape (D,)."""
    in_dtypes: tuple[Any, ...] | None = None
    """Dtypes of x, gamma, beta as given, when one differed from the compute dtype."""


def layernorm_forward(
    x: Any, gamma: Any, beta: Any, ln_param: Mapping[str, Any] | None = None
) -> tuple[Any, LayerNormCache]:
    """Forward pass of layer normalisation.

    Each row of ``x`` is standardised with its own mean and biased variance over its D
    features; the same computation runs at training and test time, so any ``mode`` key in
    ``ln_param`` is ignored.

    Parameters
    ----------
    x : array, shape (N, D)
    gamma, beta : arrays, shape (D,)
        Scale and shift.
    ln_param : dict, optional
        ``eps`` (1e-5).

    Returns
    -------
    out : array, shape (N, D)
    cache : LayerNormCache
        For :func:`layernorm_backward`.

    Raises
    ------
    ValueError
        For ``x`` not 2-d or without features, ``gamma``/``beta`` not of shape (D,), or an
        ``eps`` that is not a number >= 0.
    TypeError
        For a non-floating ``x`` or a complex dtype.
    """
    xp = get_array_module(x=x, gamma=gamma, beta=beta)
    func = "layernorm_forward"
    check_floating(func, "x", x, xp)
    check_ndim(func, "x", x, 2, "(N, D)")
    d = x.shape[1]
    check_shape(func, "gamma", gamma, (d,), "D = x.shape[1]")
    check_shape(func, "beta", beta, (d,), "D = x.shape[1]")
    dtype, (x_c, gamma_c, beta_c) = promote(func, xp, x=x, gamma=gamma, beta=beta)
    in_dtypes = input_dtypes(dtype, x, gamma, beta)
    x, gamma, beta = x_c, gamma_c, beta_c
    eps = (ln_param or {}).get("eps", 1e-5)
    if as_real(eps) is None or not eps >= 0:
        raise ValueError(f"{func}: ln_param['eps'] must be a number >= 0, got {eps!r}")
    if d == 0:
        raise ValueError(f"{func}: x must have at least one feature, got shape {tuple(x.shape)}")
    out, xhat, inv_std, _, _ = scale_shift_forward(xp, x, gamma, beta, (1,), float(eps))
    return out, LayerNormCache(xhat, inv_std, gamma, in_dtypes)


def layernorm_backward(dout: Any, cache: LayerNormCache) -> tuple[Any, Any, Any]:
    """Backward pass of layer normalisation.

    Parameters
    ----------
    dout : array, shape (N, D)
        Upstream gradient; cast to the forward's compute dtype when it differs.
    cache : LayerNormCache
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : array, shape (N, D)
    dgamma, dbeta : arrays, shape (D,)
        In the dtypes of the forward's x, gamma and beta (floating ones; an integer input's
        gradient is in the compute dtype).
    """
    xhat, inv_std, gamma, in_dtypes = cache
    xp = get_array_module(dout=dout, xhat=xhat)
    check_shape("layernorm_backward", "dout", dout, tuple(xhat.shape), "the shape of the forward x")
    dout = as_dtype(xp, dout, xhat.dtype)
    dx, dgamma, dbeta = scale_shift_backward(xp, dout, xhat, inv_std, gamma, (1,), (0,), True)
    d = tuple(gamma.shape)
    return grads_as_inputs(xp, (dx, xp.reshape(dgamma, d), xp.reshape(dbeta, d)), in_dtypes)
