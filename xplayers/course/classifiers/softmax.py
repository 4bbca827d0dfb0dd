"""The course's ``cs231n.classifiers.softmax``: the softmax loss of a linear classifier.

``softmax_loss_naive`` and ``softmax_loss_vectorized`` are one vectorised body; the
cross-entropy is xplayers' :func:`~xplayers.layers.softmax_loss` (log-sum-exp, finite for any
scores).
"""

from __future__ import annotations

from typing import Any

from ...layers import softmax_loss
from ._linear_loss import linear_loss

__all__ = ["softmax_loss_naive", "softmax_loss_vectorized"]


def softmax_loss_vectorized(W: Any, X: Any, y: Any, reg: float) -> tuple[Any, Any]:
    """Softmax cross-entropy of the scores ``X @ W`` plus ``reg * sum(W * W)``, and ``dW``.

    Parameters
    ----------
    W : array, shape (D, C)
        Weights (the course's bias trick: the bias is the last row).
    X : array, shape (N, D)
        A minibatch of data.
    y : integer array, shape (N,)
        Labels in [0, C).
    reg : float
        Regularization strength (>= 0).

    Returns
    -------
    loss : 0-d array
    dW : array, shape (D, C)
    """
    return linear_loss("softmax_loss_vectorized", softmax_loss, W, X, y, reg)


def softmax_loss_naive(W: Any, X: Any, y: Any, reg: float) -> tuple[Any, Any]:
    """The course's loop version: the same value and gradient as
    :func:`softmax_loss_vectorized`."""
    return linear_loss("softmax_loss_naive", softmax_loss, W, X, y, reg)
