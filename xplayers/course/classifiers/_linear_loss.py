"""The course's linear-classifier losses ``(W, X, y, reg) -> (loss, dW)``, from xplayers' losses.

The data loss and its gradient with respect to the scores ``X @ W`` are xplayers'
:func:`~xplayers.layers.svm_loss` / :func:`~xplayers.layers.softmax_loss`; this adds the
course's L2 term ``reg * sum(W * W)`` (gradient ``2 * reg * W``, the convention of the
course's 2019 and 2023 ``linear_svm.py`` and ``softmax.py``) and the chain rule through
``X @ W``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...backend import get_array_module
from ...backend.checks import as_real, check_ndim, promote


def linear_loss(
    func: str, data_loss: Callable[[Any, Any], tuple[Any, Any]], W: Any, X: Any, y: Any,
    reg: float,
) -> tuple[Any, Any]:
    """``data_loss(X @ W, y)`` plus ``reg * sum(W * W)``, and the gradient with respect to W.

    Parameters
    ----------
    W : array, shape (D, C)
    X : array, shape (N, D)
    y : integer array, shape (N,), labels in [0, C)
    reg : float

    Returns
    -------
    loss : 0-d array, the compute dtype (``result_type`` of W and X)
    dW : array, shape (D, C), W's dtype
    """
    xp = get_array_module(W=W, X=X, y=y)
    check_ndim(func, "W", W, 2, "(D, C)")
    check_ndim(func, "X", X, 2, "(N, D)")
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"{func}: X has shape {tuple(X.shape)} and W {tuple(W.shape)}: X's "
                         f"columns must equal W's rows (X (N, D), W (D, C))")
    reg_value = as_real(reg)
    if reg_value is None or reg_value < 0:
        raise ValueError(f"{func}: reg must be a real number >= 0, got {reg!r}")
    dtype, (W_c, X_c) = promote(func, xp, W=W, X=X)
    loss, dscores = data_loss(X_c @ W_c, y)
    loss = loss + reg_value * xp.sum(W_c * W_c)
    dW = xp.matrix_transpose(X_c) @ dscores + (2.0 * reg_value) * W_c
    if W.dtype != dtype and xp.isdtype(W.dtype, "real floating"):
        dW = xp.astype(dW, W.dtype)
    return loss, dW
