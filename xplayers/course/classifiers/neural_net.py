"""The 2019 course's ``cs231n.classifiers.neural_net.TwoLayerNet``, built from xplayers' layers.

affine - ReLU - affine - softmax, with its own interface (unlike the 2023
``classifiers.fc_net.TwoLayerNet``): ``loss(X, y=None, reg=0.0)``, a ``train`` method with
its own SGD loop, and ``predict``. As in the course, the weights come from NumPy's global
random state (W1, then W2) and minibatches from ``np.random.choice`` (with replacement), so
``np.random.seed`` repeats the notebook's numbers. The parameters may be moved to any
backend (``net.params = xplayers.to_device(net.params, 'cuda')``) with the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import get_array_module
from ...backend.checks import as_integer, as_real, check_ndim
from ...backend.devices import to_numpy
from ...layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss

__all__ = ["TwoLayerNet"]


def _number(func: str, name: str, value: Any, *, positive: bool = False) -> float:
    number = as_real(value)
    if number is None or not (number > 0 if positive else number >= 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{func}: {name} must be a real number {bound}, got {value!r}")
    return number


def _count(func: str, name: str, value: Any) -> int:
    number = as_integer(value)
    if number is None or number < 1:
        raise ValueError(f"{func}: {name} must be a positive integer, got {value!r}")
    return number


class TwoLayerNet:
    """Two-layer fully-connected net: ``affine - relu - affine - softmax`` (2019 course).

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        D, H and C.
    std : float
        Weights are ``std * np.random.randn(...)`` (W1 drawn before W2); biases are zero.

    Attributes
    ----------
    params : dict
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,), float64 NumPy arrays.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 std: float = 1e-4) -> None:
        func = "TwoLayerNet"
        sizes = [_count(func, name, value) for name, value in
                 (("input_size", input_size), ("hidden_size", hidden_size),
                  ("output_size", output_size))]
        std = _number(func, "std", std)
        D, H, C = sizes
        self.params: dict[str, Any] = {}
        self.params["W1"] = std * np.random.randn(D, H)  # noqa: NPY002
        self.params["b1"] = np.zeros(H)
        self.params["W2"] = std * np.random.randn(H, C)  # noqa: NPY002
        self.params["b2"] = np.zeros(C)

    def loss(self, X: Any, y: Any = None, reg: float = 0.0) -> Any:
        """Class scores, or the loss and gradients of a minibatch.

        Parameters
        ----------
        X : array, shape (N, D)
        y : integer array, shape (N,), or None
            Labels in [0, C).
        reg : float
            L2 strength: the loss adds ``reg * (sum(W1**2) + sum(W2**2))`` (the 2019
            course's convention), the weight gradients ``2 * reg * W``.

        Returns
        -------
        scores : array, shape (N, C)
            When ``y`` is None.
        loss, grads : 0-d array and dict
            Otherwise; ``grads`` has the keys and shapes of ``params``.
        """
        func = "TwoLayerNet.loss"
        W1, b1, W2, b2 = (self.params[name] for name in ("W1", "b1", "W2", "b2"))
        xp = get_array_module(X=X, y=y, W1=W1)
        check_ndim(func, "X", X, 2, f"(N, {W1.shape[0]})")
        if X.shape[1] != W1.shape[0]:
            raise ValueError(f"{func}: X has shape {tuple(X.shape)}, expected (N, "
                             f"{W1.shape[0]}) (W1 has shape {tuple(W1.shape)})")
        reg = _number(func, "reg", reg)
        hidden, cache1 = affine_forward(X, W1, b1)
        activated, cache_relu = relu_forward(hidden)
        scores, cache2 = affine_forward(activated, W2, b2)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss = loss + reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2))
        dactivated, dW2, db2 = affine_backward(dscores, cache2)
        dhidden = relu_backward(dactivated, cache_relu)
        _, dW1, db1 = affine_backward(dhidden, cache1)
        grads = {"W1": dW1 + (2.0 * reg) * W1, "b1": db1,
                 "W2": dW2 + (2.0 * reg) * W2, "b2": db2}
        return loss, grads

    def train(
        self,
        X: Any,
        y: Any,
        X_val: Any,
        y_val: Any,
        learning_rate: float = 1e-3,
        learning_rate_decay: float = 0.95,
        reg: float = 5e-6,
        num_iters: int = 100,
        batch_size: int = 200,
        verbose: bool = False,
    ) -> dict[str, list[float]]:
        """SGD on minibatches of ``batch_size`` rows drawn with replacement.

        Once per epoch (every ``max(N / batch_size, 1)`` iterations, and at the first) the
        minibatch and validation accuracies are recorded and the learning rate is multiplied
        by ``learning_rate_decay``.

        Returns
        -------
        dict
            ``loss_history`` (one float per iteration), ``train_acc_history``,
            ``val_acc_history`` (one float per epoch).
        """
        func = "TwoLayerNet.train"
        xp = get_array_module(X=X, y=y, X_val=X_val, y_val=y_val, W1=self.params["W1"])
        check_ndim(func, "X", X, 2, "(N, D)")
        num_train = X.shape[0]
        if num_train == 0:
            raise ValueError(f"{func}: X must hold at least one row, got shape {tuple(X.shape)}")
        if tuple(y.shape) != (num_train,):
            raise ValueError(f"{func}: y has shape {tuple(y.shape)}, expected ({num_train},) "
                             "(one label per row of X)")
        learning_rate = _number(func, "learning_rate", learning_rate)
        learning_rate_decay = _number(func, "learning_rate_decay", learning_rate_decay,
                                      positive=True)
        num_iters = _count(func, "num_iters", num_iters)
        batch_size = _count(func, "batch_size", batch_size)
        iterations_per_epoch = max(num_train / batch_size, 1)

        losses: list[Any] = []
        train_acc: list[Any] = []
        val_acc: list[Any] = []
        for it in range(num_iters):
            rows = np.random.choice(num_train, batch_size)  # noqa: NPY002
            if xp is not np:
                rows = xp.asarray(rows, device=X.device)
            X_batch, y_batch = xp.take(X, rows, axis=0), xp.take(y, rows, axis=0)
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            losses.append(loss)
            for name, grad in grads.items():
                self.params[name] = self.params[name] - learning_rate * grad
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {float(loss):f}")
            if it % iterations_per_epoch == 0:
                train_acc.append(xp.mean(xp.astype(self.predict(X_batch) == y_batch,
                                                   xp.float64)))
                val_acc.append(xp.mean(xp.astype(self.predict(X_val) == y_val, xp.float64)))
                learning_rate *= learning_rate_decay
        return {
            "loss_history": _floats(xp, losses),
            "train_acc_history": _floats(xp, train_acc),
            "val_acc_history": _floats(xp, val_acc),
        }

    def predict(self, X: Any) -> Any:
        """Predicted labels (N,): the highest of the class scores of ``X`` (N, D)."""
        return get_array_module(X=X).argmax(self.loss(X), axis=1)


def _floats(xp: Any, values: list[Any]) -> list[float]:
    """0-d arrays as Python floats, read from the device in one transfer."""
    if not values:
        return []
    return [float(v) for v in to_numpy(xp.stack(values))]
