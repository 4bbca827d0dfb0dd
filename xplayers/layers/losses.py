"""Classification losses on class scores: multiclass SVM (hinge) and softmax cross-entropy."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..backend.checks import check_floating, check_labels, check_ndim
from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module, is_cupy_array

__all__ = ["softmax_loss", "svm_loss"]


def _check_scores(func: str, x: Any, y: Any, xp: ModuleType) -> Any:
    """Validate ``x`` (N, C) and ``y`` (N,); return ``y`` as int64."""
    check_floating(func, "x", x, xp)
    check_ndim(func, "x", x, 2, "(N, C)")
    n, c = x.shape
    if n == 0:
        raise ValueError(f"{func}: x must hold at least one row of scores, got shape (0, {c})")
    check_labels(func, y, n, c, xp)
    if y.dtype != xp.int64:  # a small label dtype (uint8, say) cannot count up to C
        y = xp.astype(y, xp.int64)
    return y


def _onehot(xp: ModuleType, x: Any, y: Any) -> Any:
    """The (N, C) boolean one-hot of int64 labels ``y`` for scores ``x``."""
    return y[:, None] == xp.arange(x.shape[1], dtype=xp.int64, device=x.device)


def _zero_d(xp: ModuleType, value: Any, like: Any) -> Any:
    """``value`` as a 0-d array: NumPy reductions return scalars, the other libraries arrays."""
    return xp.asarray(value, device=like.device)


def svm_loss(x: Any, y: Any) -> tuple[Any, Any]:
    """Multiclass SVM loss ``mean_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1)`` and its gradient.

    Parameters
    ----------
    x : array, shape (N, C)
        Class scores.
    y : integer array, shape (N,)
        Labels in [0, C).

    Returns
    -------
    loss : 0-d array, x's dtype
    dx : array, shape (N, C)
        At a margin of exactly zero the subgradient 0 is used.
    """
    xp = get_array_module(x=x, y=y)
    onehot = _onehot(xp, x, _check_scores("svm_loss", x, y, xp))
    n = x.shape[0]
    zero = xp.zeros((), dtype=x.dtype, device=x.device)
    correct = xp.sum(xp.where(onehot, x, zero), axis=1, keepdims=True)
    margins = xp.where(onehot, zero, xp.maximum(x - correct + 1.0, zero))
    loss = _zero_d(xp, xp.sum(margins) / n, x)
    positive = xp.astype(margins > 0, x.dtype)
    num_positive = xp.sum(positive, axis=1, keepdims=True)
    # Each positive margin adds +1 to its class and -1 to the correct class.
    dx = xp.where(onehot, -num_positive, positive) / n
    return loss, dx


def softmax_loss(x: Any, y: Any) -> tuple[Any, Any]:
    """Softmax cross-entropy loss ``mean_i -log softmax(x_i)[y_i]`` and its gradient.

    Computed with log-sum-exp, so it stays finite for logits of any (finite) magnitude.

    Parameters
    ----------
    x : array, shape (N, C)
        Class scores (logits).
    y : integer array, shape (N,)
        Labels in [0, C).

    Returns
    -------
    loss : 0-d array, x's dtype
    dx : array, shape (N, C)
        ``(softmax(x) - onehot(y)) / N``.
    """
    xp = get_array_module(x=x, y=y)
    return _softmax_loss(xp, x, _check_scores("softmax_loss", x, y, xp))


def softmax_loss_portable(xp: ModuleType, x: Any, y: Any) -> tuple[Any, Any]:
    """The portable body of :func:`softmax_loss` (checked arguments, int64 ``y``)."""
    onehot = _onehot(xp, x, y)
    n = x.shape[0]
    shifted = x - xp.max(x, axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    zero = xp.zeros((), dtype=x.dtype, device=x.device)
    loss = _zero_d(xp, -xp.sum(xp.where(onehot, log_probs, zero)) / n, x)
    dx = (xp.exp(log_probs) - xp.astype(onehot, x.dtype)) / n
    return loss, dx


def _softmax_loss_cupy(xp: ModuleType, x: Any, y: Any) -> Any:
    if not (is_cupy_array(x) and x.flags.c_contiguous and y.flags.c_contiguous):
        return NotImplemented
    from ..kernels import fused_cupy

    return fused_cupy.softmax_loss(x, y)


_softmax_loss = FastPaths(softmax_loss_portable, cupy=_softmax_loss_cupy)
