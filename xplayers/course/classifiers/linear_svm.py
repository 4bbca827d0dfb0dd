"""The course's ``cs231n.classifiers.linear_svm``: the multiclass SVM loss of a linear classifier.

``svm_loss_naive`` and ``svm_loss_vectorized`` are one vectorised body (the course's loop
version is a teaching step); the hinge is xplayers' :func:`~xplayers.layers.svm_loss`
(margin 1, averaged over the examples).
"""

from __future__ import annotations

from typing import Any

from ...layers import svm_loss
from ._linear_loss import linear_loss

__all__ = ["svm_loss_naive", "svm_loss_vectorized"]


def svm_loss_vectorized(W: Any, X: Any, y: Any, reg: float) -> tuple[Any, Any]:
    """Multiclass SVM loss of the scores ``X @ W`` plus ``reg * sum(W * W)``, and ``dW``.

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
    return linear_loss("svm_loss_vectorized", svm_loss, W, X, y, reg)


def svm_loss_naive(W: Any, X: Any, y: Any, reg: float) -> tuple[Any, Any]:
    """The course's loop version: the same value and gradient as :func:`svm_loss_vectorized`."""
    return linear_loss("svm_loss_naive", svm_loss, W, X, y, reg)
