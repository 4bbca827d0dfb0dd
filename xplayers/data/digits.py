"""The 8x8 handwritten digits bundled with scikit-learn (1797 images, 10 classes), split."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .splits import as_float_dtype, check_fractions, split_and_standardize, stratified_split

__all__ = ["load_digits"]


def _sklearn_datasets() -> ModuleType:
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits data set (no download): "
            "pip install 'xplayers[data]'"
        ) from exc
    return datasets


def load_digits(
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int | None = 0,
    dtype: Any = np.float32,
    flatten: bool = True,
) -> dict[str, np.ndarray]:
    """Load scikit-learn's 8x8 digits, split and standardised, as host NumPy arrays.

    The images (pixel values 0..16) are split per class (stratified) into train, validation
    and test rows, deterministically for a given ``seed``. Every split is standardised with the
    per-pixel mean and standard deviation of the TRAIN split only; pixels that are constant
    over the training images (the always-blank corners) are only centred.

    Parameters
    ----------
    val_fraction, test_fraction : float
        Shares of each class held out for validation and test (each in [0, 1), sum below 1).
    seed : int or None
        Seed of the split (None: a different split each call).
    dtype : NumPy floating dtype
        Dtype of the features, ``mean`` and ``std``.
    flatten : bool
        True: features of shape (N, 64) for fully-connected nets. False: images of shape
        (N, 1, 8, 8) for conv nets.

    Returns
    -------
    dict
        ``X_train``, ``X_val``, ``X_test`` of shape (N_split, 64) or (N_split, 1, 8, 8);
        ``y_train``, ``y_val``, ``y_test`` int64 labels in [0, 10), shape (N_split,);
        ``mean`` and ``std``, shape (64,) or (1, 8, 8): what was subtracted and divided by.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    """
    func = "load_digits"
    check_fractions(func, val_fraction, test_fraction)
    dtype = as_float_dtype(dtype, func)
    bunch = _sklearn_datasets().load_digits()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    indices = stratified_split(y, val_fraction, test_fraction, seed)
    data = split_and_standardize(X, y, indices, dtype)
    if not flatten:
        for key in ("X_train", "X_val", "X_test"):
            data[key] = data[key].reshape(-1, 1, 8, 8)
        data["mean"] = data["mean"].reshape(1, 8, 8)
        data["std"] = data["std"].reshape(1, 8, 8)
    return data
