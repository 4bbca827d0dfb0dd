"""A small, well separated Gaussian-blob classification set for tests and quick demos."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend.checks import as_real
from .splits import (
    as_float_dtype,
    check_count,
    check_fractions,
    split_and_standardize,
    stratified_split,
)

__all__ = ["make_blobs"]


def make_blobs(
    num_classes: int = 3,
    num_per_class: int = 50,
    dim: int = 2,
    seed: int | None = 0,
    dtype: Any = np.float32,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    separation: float = 8.0,
) -> dict[str, np.ndarray]:
    """Gaussian blobs, one per class, split and standardised like :func:`load_digits`.

    Class centres are drawn at random and rescaled so that the two closest are ``separation``
    apart; each point is its centre plus standard normal noise. With the default separation
    of 8 noise standard deviations a linear classifier separates the classes essentially
    perfectly. Splits are stratified and standardised with TRAIN statistics only.

    Parameters
    ----------
    num_classes : int, at least 2
    num_per_class : int, at least 1
    dim : int, at least 1
        Number of features D.
    seed : int or None
        Seed of the centres, the noise and the split.
    dtype : NumPy floating dtype
    val_fraction, test_fraction : float
        Shares of each class held out (each in [0, 1), sum below 1).
    separation : float
        Distance between the two closest centres, in noise standard deviations (> 0).

    Returns
    -------
    dict
        ``X_train``, ``X_val``, ``X_test`` (N_split, D) in ``dtype``; ``y_train``, ``y_val``,
        ``y_test`` int64 in [0, num_classes); ``mean`` and ``std`` (D,).
    """
    func = "make_blobs"
    num_classes = check_count(func, "num_classes", num_classes, 2)
    num_per_class = check_count(func, "num_per_class", num_per_class, 1)
    dim = check_count(func, "dim", dim, 1)
    check_fractions(func, val_fraction, test_fraction)
    dtype = as_float_dtype(dtype, func)
    number = as_real(separation)
    if number is None or not math.isfinite(number) or number <= 0:
        raise ValueError(f"{func}: separation must be a positive finite number, "
                         f"got {separation!r}")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((num_classes, dim))
    gaps = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)
    closest = gaps[~np.eye(num_classes, dtype=bool)].min()
    centres *= separation / closest
    y = np.repeat(np.arange(num_classes, dtype=np.int64), num_per_class)
    X = centres[y] + rng.standard_normal((y.size, dim))
    indices = stratified_split(y, val_fraction, test_fraction, seed=int(rng.integers(2**32)))
    return split_and_standardize(X, y, indices, dtype)
