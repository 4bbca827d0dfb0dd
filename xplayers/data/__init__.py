"""Data sets as dicts of host NumPy arrays: ``X_train``, ``y_train``, ``X_val``, ``y_val``,
``X_test``, ``y_test`` (the layout the course's ``Solver`` expects).

Nothing here downloads anything: the digits ship with scikit-learn, CIFAR-10 is read from a
folder you downloaded by hand, and the blobs are generated. Move a data set to a device with
``xplayers.to_device(data, 'cuda')``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .cifar10 import CIFAR10_CLASSES, load_cifar10
from .digits import load_digits
from .splits import stratified_split
from .synthetic import make_blobs

__all__ = [
    "CIFAR10_CLASSES",
    "DATASETS",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "make_blobs",
    "stratified_split",
]

DATASETS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "digits": load_digits,
    "cifar10": load_cifar10,
    "synthetic": make_blobs,
}


def load_dataset(name: str, **kwargs: Any) -> dict[str, np.ndarray]:
    """Load the data set called ``name`` ('digits', 'cifar10' or 'synthetic').

    Keyword arguments go to the loader (:func:`load_digits`, :func:`load_cifar10`, which
    needs ``root``, or :func:`make_blobs`).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names are: "
                         f"{', '.join(sorted(DATASETS))}")
    return DATASETS[name](**kwargs)
