"""Layer normalisation: standardise each example over its own features, then scale and shift."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any, NamedTuple

from .._checks import check_floating, check_ndim, check_same_dtype, check_shape
from ..backend import get_array_module
from ._norm import normalize, normalize_backward

__all__ = ["layernorm_backward", "layernorm_forward"]


class LayerNormCache(NamedTuple):
    """What :func:`layernorm_backward` needs."""

    xhat: Any
    """The normalised input, shape (N, D)."""
    inv_std: Any
    """``1 / sqrt(var + eps)`` per row, shape (N, 1)."""
    gamma: Any
    """The scale, shape (D,)."""


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
    """
    xp = get_array_module(x=x, gamma=gamma, beta=beta)
    func = "layernorm_forward"
    check_floating(func, "x", x, xp)
    check_ndim(func, "x", x, 2, "(N, D)")
    d = x.shape[1]
    check_shape(func, "gamma", gamma, (d,), "D = x.shape[1]")
    check_shape(func, "beta", beta, (d,), "D = x.shape[1]")
    check_same_dtype(func, xp, x=x, gamma=gamma, beta=beta)
    eps = (ln_param or {}).get("eps", 1e-5)
    if isinstance(eps, bool) or not isinstance(eps, Real) or not eps >= 0:
        raise ValueError(f"{func}: ln_param['eps'] must be a number >= 0, got {eps!r}")
    if d == 0:
        raise ValueError(f"{func}: x must have at least one feature, got shape {tuple(x.shape)}")
    xhat, inv_std, _, _ = normalize(xp, x, (1,), float(eps))
    return gamma * xhat + beta, LayerNormCache(xhat, inv_std, gamma)


def layernorm_backward(dout: Any, cache: LayerNormCache) -> tuple[Any, Any, Any]:
    """Backward pass of layer normalisation.

    Parameters
    ----------
    dout : array, shape (N, D)
        Upstream gradient.
    cache : LayerNormCache
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : array, shape (N, D)
    dgamma, dbeta : arrays, shape (D,)
    """
    xhat, inv_std, gamma = cache
    xp = get_array_module(dout=dout, xhat=xhat)
    check_shape("layernorm_backward", "dout", dout, tuple(xhat.shape), "the shape of the forward x")
    dgamma = xp.sum(dout * xhat, axis=0)
    dbeta = xp.sum(dout, axis=0)
    dx = normalize_backward(xp, dout * gamma, xhat, inv_std, (1,))
    return dx, dgamma, dbeta
