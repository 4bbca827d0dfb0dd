"""Shared helpers for the loaders: argument checks, stratified splits, train-only standardising.

Everything here works on host NumPy arrays: data sets are prepared on the host once and moved
to a device by the caller (``xplayers.to_device(data, 'cuda')``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend.checks import as_integer, as_real

__all__ = [
    "as_float_dtype",
    "check_count",
    "check_fractions",
    "split_and_standardize",
    "stratified_split",
]

SPLITS = ("train", "val", "test")


def as_float_dtype(dtype: Any, func: str) -> np.dtype:
    """``np.dtype(dtype)``, raising ``TypeError`` unless it is a real floating dtype."""
    try:
        result = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{func}: dtype must be a NumPy floating dtype such as np.float32, "
                        f"got {dtype!r}") from exc
    if result.kind != "f":
        raise TypeError(f"{func}: dtype must be a NumPy floating dtype such as np.float32, "
                        f"got {result}")
    return result


def check_count(func: str, name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as an ``int``, raising unless it is an integer ``>= minimum``."""
    number = as_integer(value)
    if number is None:
        raise TypeError(f"{func}: {name} must be an integer, got {type(value).__name__} "
                        f"{value!r}")
    if number < minimum:
        raise ValueError(f"{func}: {name} must be at least {minimum}, got {value}")
    return number


def check_fractions(func: str, val_fraction: Any, test_fraction: Any) -> tuple[float, float]:
    """Check that both fractions are numbers in [0, 1) whose sum is below 1."""
    checked = []
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        number = as_real(value)
        if number is None:
            raise TypeError(f"{func}: {name} must be a number in [0, 1), got "
                            f"{type(value).__name__} {value!r}")
        if not 0 <= number < 1:
            raise ValueError(f"{func}: {name} must lie in [0, 1), got {value!r}")
        checked.append(number)
    if checked[0] + checked[1] >= 1:
        raise ValueError(f"{func}: val_fraction + test_fraction must be below 1 to leave "
                         f"training data, got {checked[0]} + {checked[1]}")
    return checked[0], checked[1]


def stratified_split(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic stratified train/validation/test split of the rows of a data set.

    Each class contributes ``round(fraction * class_size)`` rows to the validation and test
    splits (fewer if that would leave the class no training row); the rest go to training.
    Each split is shuffled. The same ``y`` and ``seed`` always give the same split.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
        Class labels.
    val_fraction, test_fraction : float
        Shares of each class for validation and test, each in [0, 1), sum below 1.
    seed : int or None
        Seed of the ``numpy.random.Generator`` used to shuffle (None: a fresh random split).

    Returns
    -------
    train, val, test : ndarray of int64
        Disjoint row indices into ``y`` that together cover every row.
    """
    val_fraction, test_fraction = check_fractions("stratified_split", val_fraction,
                                                  test_fraction)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"stratified_split: y must have shape (N,), got shape {y.shape}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        n = rows.size
        n_test = round(test_fraction * n)
        n_val = round(val_fraction * n)
        while n_val + n_test >= n and n_val + n_test > 0:  # keep one training row
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test:n_test + n_val])
        parts["train"].append(rows[n_test + n_val:])
    train, val, test = (
        rng.permutation(np.concatenate(parts[split])).astype(np.int64) for split in SPLITS
    )
    return train, val, test


def split_and_standardize(
    X: np.ndarray, y: np.ndarray, indices: tuple[np.ndarray, np.ndarray, np.ndarray],
    dtype: np.dtype,
) -> dict[str, np.ndarray]:
    """Split ``X``, ``y`` and standardise every split with the TRAIN split's statistics.

    The per-feature mean and standard deviation are computed in float64 over the training rows
    only, so nothing about the validation or test rows leaks into training. Features that are
    constant over the training rows are only centred (their std is taken as 1).

    Parameters
    ----------
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    indices : (train, val, test) row indices, as from :func:`stratified_split`
    dtype : the floating dtype of the returned features

    Returns
    -------
    dict
        ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test`` (features in
        ``dtype``, labels int64), ``mean`` and ``std`` (shape (D,), in ``dtype``).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    train = X[indices[0]]
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std < 1e-12] = 1.0
    data: dict[str, np.ndarray] = {}
    for split, rows in zip(SPLITS, indices, strict=True):
        data[f"X_{split}"] = ((X[rows] - mean) / std).astype(dtype)
        data[f"y_{split}"] = y[rows]
    data["mean"] = mean.astype(dtype)
    data["std"] = std.astype(dtype)
    return data
