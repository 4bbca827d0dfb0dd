"""The course's ``cs231n.classifiers.linear_classifier``: linear classifiers trained by SGD.

``W`` is (D, C); with the course's bias trick (the notebook appends a column of ones to X)
its last row is the bias. As in the course, ``W`` starts as
``0.001 * np.random.randn(D, C)`` and each minibatch is ``np.random.choice(N, batch_size)``
(with replacement), both from NumPy's global random state, so ``np.random.seed`` repeats a
run. Data may live on any backend; ``W`` is drawn on the host, then moved to X's device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import get_array_module
from ...backend.checks import as_integer, as_real, check_ndim
from ...backend.devices import to_numpy
from .linear_svm import svm_loss_vectorized
from .softmax import softmax_loss_vectorized

__all__ = ["LinearClassifier", "LinearSVM", "Softmax"]


def _positive_int(func: str, name: str, value: Any) -> int:
    number = as_integer(value)
    if number is None or number < 1:
        raise ValueError(f"{func}: {name} must be a positive integer, got {value!r}")
    return number


def _non_negative(func: str, name: str, value: Any) -> float:
    number = as_real(value)
    if number is None or not number >= 0:
        raise ValueError(f"{func}: {name} must be a real number >= 0, got {value!r}")
    return number


class LinearClassifier:
    """A linear classifier ``scores = X @ W``; subclasses give :meth:`loss`.

    Attributes
    ----------
    W : array, shape (D, C), or None before :meth:`train`
    """

    def __init__(self) -> None:
        self.W: Any = None

    def train(
        self,
        X: Any,
        y: Any,
        learning_rate: float = 1e-3,
        reg: float = 1e-5,
        num_iters: int = 100,
        batch_size: int = 200,
        verbose: bool = False,
    ) -> list[float]:
        """Stochastic gradient descent on minibatches sampled with replacement.

        Parameters
        ----------
        X : array, shape (N, D)
        y : integer array, shape (N,), labels in [0, C) (C = max(y) + 1 when W is new)
        learning_rate, reg : float
        num_iters, batch_size : int
        verbose : bool
            Print the loss every 100 iterations.

        Returns
        -------
        loss_history : list of float
            The minibatch loss at each iteration (read from the device once, at the end).
        """
        func = f"{type(self).__name__}.train"
        xp = get_array_module(X=X, y=y)
        check_ndim(func, "X", X, 2, "(N, D)")
        num_train, dim = X.shape
        if num_train == 0:
            raise ValueError(f"{func}: X must hold at least one row, got shape {tuple(X.shape)}")
        if tuple(y.shape) != (num_train,):
            raise ValueError(f"{func}: y has shape {tuple(y.shape)}, expected ({num_train},) "
                             "(one label per row of X)")
        learning_rate = _non_negative(func, "learning_rate", learning_rate)
        reg = _non_negative(func, "reg", reg)
        num_iters = _positive_int(func, "num_iters", num_iters)
        batch_size = _positive_int(func, "batch_size", batch_size)
        if self.W is None:
            num_classes = int(xp.max(y)) + 1
            W = 0.001 * np.random.randn(dim, num_classes)  # noqa: NPY002 (the course's draw)
            dtype = X.dtype if xp.isdtype(X.dtype, "real floating") else xp.float64
            self.W = xp.asarray(W, dtype=dtype, device=getattr(X, "device", None))
        elif self.W.shape[0] != dim:
            raise ValueError(f"{func}: X has {dim} columns but W has shape "
                             f"{tuple(self.W.shape)} (rows must match)")

        losses = []
        for it in range(num_iters):
            rows = np.random.choice(num_train, batch_size)  # noqa: NPY002
            if xp is not np:
                rows = xp.asarray(rows, device=X.device)
            X_batch, y_batch = xp.take(X, rows, axis=0), xp.take(y, rows, axis=0)
            loss, grad = self.loss(X_batch, y_batch, reg)
            self.W = self.W - learning_rate * grad
            losses.append(loss)
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {float(loss):f}")
        return [float(v) for v in to_numpy(xp.stack(losses))]

    def predict(self, X: Any) -> Any:
        """Predicted labels (N,) of the rows of ``X`` (N, D): ``argmax(X @ W, axis=1)``."""
        func = f"{type(self).__name__}.predict"
        if self.W is None:
            raise RuntimeError(f"{func}: call train first (W is None)")
        xp = get_array_module(X=X, W=self.W)
        check_ndim(func, "X", X, 2, "(N, D)")
        if X.shape[1] != self.W.shape[0]:
            raise ValueError(f"{func}: X has {X.shape[1]} columns, expected {self.W.shape[0]} "
                             f"(W has shape {tuple(self.W.shape)})")
        if not xp.isdtype(X.dtype, "real floating"):
            X = xp.astype(X, self.W.dtype)
        return xp.argmax(X @ self.W, axis=1)

    def loss(self, X_batch: Any, y_batch: Any, reg: float) -> tuple[Any, Any]:
        """The loss of ``W`` on a minibatch and its gradient ``dW`` (D, C)."""
        raise NotImplementedError(f"{type(self).__name__}.loss: use LinearSVM or Softmax, or "
                                  "subclass LinearClassifier and define loss")


class LinearSVM(LinearClassifier):
    """A linear classifier with the multiclass SVM loss."""

    def loss(self, X_batch: Any, y_batch: Any, reg: float) -> tuple[Any, Any]:
        """:func:`~xplayers.course.classifiers.linear_svm.svm_loss_vectorized` of ``W``."""
        return svm_loss_vectorized(self.W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A linear classifier with the softmax cross-entropy loss."""

    def loss(self, X_batch: Any, y_batch: Any, reg: float) -> tuple[Any, Any]:
        """:func:`~xplayers.course.classifiers.softmax.softmax_loss_vectorized` of ``W``."""
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg)
