"""The course's ``cs231n.classifiers.k_nearest_neighbor``: k-NN with L2 distances, any backend.

The course asks for the distances three ways (two loops, one loop, none) to teach
vectorisation; here all three names answer with the one vectorised body, as the conv
``*_naive`` names do. Training data and test data may live on any backend (a GPU makes
``predict`` fast), as long as they share it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ...backend import get_array_module
from ...backend.checks import as_integer, check_ndim

__all__ = ["KNearestNeighbor"]


def _l2_distances(xp: ModuleType, X: Any, X_train: Any) -> Any:
    """(num_test, num_train) Euclidean distances, ``|a|^2 + |b|^2 - 2 a.b`` clipped at 0."""
    test_sq = xp.sum(X * X, axis=1)
    train_sq = xp.sum(X_train * X_train, axis=1)
    squared = test_sq[:, None] + train_sq[None, :] - 2.0 * (X @ xp.matrix_transpose(X_train))
    # Cancellation can leave tiny negatives where two rows are equal.
    return xp.sqrt(xp.clip(squared, 0.0, None))


def _floating(xp: ModuleType, x: Any) -> Any:
    """``x`` itself when floating, else float64 (integer pixels must not overflow in ``x*x``)."""
    if xp.isdtype(x.dtype, "real floating"):
        return x
    return xp.astype(x, xp.float64)


class KNearestNeighbor:
    """A k-nearest-neighbour classifier with the L2 distance (the course's interface).

    Attributes
    ----------
    X_train : array, shape (num_train, D)
    y_train : integer array, shape (num_train,)
    """

    def __init__(self) -> None:
        self.X_train: Any = None
        self.y_train: Any = None

    def train(self, X: Any, y: Any) -> None:
        """Remember the training data: ``X`` (num_train, D) and labels ``y`` (num_train,).

        Raises
        ------
        ValueError
            If ``X`` is not 2-D, is empty, or ``y`` does not hold one label per row.
        TypeError
            If ``y`` is not an integer array, or X and y come from different libraries.
        """
        func = "KNearestNeighbor.train"
        xp = get_array_module(X=X, y=y)
        check_ndim(func, "X", X, 2, "(num_train, D)")
        if X.shape[0] == 0:
            raise ValueError(f"{func}: X must hold at least one training row, got shape "
                             f"{tuple(X.shape)}")
        if not xp.isdtype(y.dtype, "integral"):
            raise TypeError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
        if tuple(y.shape) != (X.shape[0],):
            raise ValueError(f"{func}: y has shape {tuple(y.shape)}, expected "
                             f"({X.shape[0]},) (one label per row of X)")
        if bool(xp.any(y < 0)):
            raise ValueError(f"{func}: labels in y must be >= 0, got a minimum of "
                             f"{int(xp.min(y))}")
        self.X_train = X
        self.y_train = y

    def predict(self, X: Any, k: int = 1, num_loops: int = 0) -> Any:
        """Labels for the test rows ``X`` (num_test, D) by a vote of the ``k`` nearest.

        ``num_loops`` (0, 1 or 2) names the course's distance function; all three give the
        same distances. Returns an integer array (num_test,) of ``y_train``'s dtype.
        """
        if num_loops not in (0, 1, 2):
            raise ValueError(f"KNearestNeighbor.predict: num_loops must be 0, 1 or 2, got "
                             f"{num_loops!r}")
        return self.predict_labels(self._distances("KNearestNeighbor.predict", X), k=k)

    def compute_distances_two_loops(self, X: Any) -> Any:
        """L2 distances (num_test, num_train) between ``X`` and the training rows."""
        return self._distances("compute_distances_two_loops", X)

    def compute_distances_one_loop(self, X: Any) -> Any:
        """L2 distances (num_test, num_train) between ``X`` and the training rows."""
        return self._distances("compute_distances_one_loop", X)

    def compute_distances_no_loops(self, X: Any) -> Any:
        """L2 distances (num_test, num_train) between ``X`` and the training rows."""
        return self._distances("compute_distances_no_loops", X)

    def _distances(self, func: str, X: Any) -> Any:
        if self.X_train is None:
            raise RuntimeError(f"{func}: call train(X, y) first")
        xp = get_array_module(X=X, X_train=self.X_train)
        check_ndim(func, "X", X, 2, "(num_test, D)")
        if X.shape[1] != self.X_train.shape[1]:
            raise ValueError(f"{func}: X has {X.shape[1]} columns but the training data has "
                             f"{self.X_train.shape[1]} (shape (num_test, "
                             f"{self.X_train.shape[1]}) expected)")
        X, X_train = _floating(xp, X), _floating(xp, self.X_train)
        if X.dtype != X_train.dtype:
            dtype = xp.result_type(X.dtype, X_train.dtype)
            X, X_train = xp.astype(X, dtype), xp.astype(X_train, dtype)
        return _l2_distances(xp, X, X_train)

    def predict_labels(self, dists: Any, k: int = 1) -> Any:
        """The most common label among each row's ``k`` nearest training points.

        Ties between labels go to the smallest label, as in the course.

        Parameters
        ----------
        dists : array, shape (num_test, num_train)
            Distances, e.g. from :meth:`compute_distances_no_loops`.
        k : int
            Neighbours voting, 1 <= k <= num_train.

        Returns
        -------
        y_pred : integer array, shape (num_test,), ``y_train``'s dtype and backend
        """
        func = "KNearestNeighbor.predict_labels"
        if self.y_train is None:
            raise RuntimeError(f"{func}: call train(X, y) first")
        xp = get_array_module(dists=dists, y_train=self.y_train)
        num_train = self.y_train.shape[0]
        check_ndim(func, "dists", dists, 2, f"(num_test, {num_train})")
        if dists.shape[1] != num_train:
            raise ValueError(f"{func}: dists has shape {tuple(dists.shape)}, expected "
                             f"(num_test, {num_train}) (one column per training row)")
        k_int = as_integer(k)
        if k_int is None or not 1 <= k_int <= num_train:
            raise ValueError(f"{func}: k must be an integer in [1, {num_train}] (the number "
                             f"of training rows), got {k!r}")
        nearest = xp.argsort(dists, axis=1, stable=True)[:, :k_int]
        labels = xp.take(self.y_train, xp.reshape(nearest, (-1,)), axis=0)
        labels = xp.reshape(labels, (dists.shape[0], k_int))
        num_classes = int(xp.max(self.y_train)) + 1
        classes = xp.arange(num_classes, dtype=labels.dtype, device=labels.device)
        votes = xp.sum(xp.astype(labels[:, :, None] == classes, xp.int64), axis=1)
        # argmax returns the first maximum: the smallest label among the most common.
        return xp.astype(xp.argmax(votes, axis=1), self.y_train.dtype)
