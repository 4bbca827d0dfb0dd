"""The course's ``cs231n.data_utils``: CIFAR-10 from a local ``cifar-10-batches-py`` folder.

The course's shapes and float64 default, read by :mod:`xplayers.data.cifar10` (its restricted
unpickler included). Nothing is downloaded. Not provided: ``load_tiny_imagenet``,
``load_models`` and ``load_imagenet_val`` (data of assignments outside this package's scope).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.cifar10 import TEST_FILE, TRAIN_FILES, _find_folder, _load_batch, load_cifar10

__all__ = ["get_CIFAR10_data", "load_CIFAR10"]

# Where the course's notebooks find the data, relative to the notebook's folder.
DEFAULT_DIRS = ("cs231n/datasets/cifar-10-batches-py", "datasets/cifar-10-batches-py")


def load_CIFAR10(ROOT: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All of CIFAR-10 as the course loads it: images (N, 32, 32, 3) float64, labels int64.

    Parameters
    ----------
    ROOT : str or Path
        The ``cifar-10-batches-py`` folder (or the folder that contains it).

    Returns
    -------
    Xtr : array, shape (50000, 32, 32, 3), float64
    Ytr : array, shape (50000,), int64
    Xte : array, shape (10000, 32, 32, 3), float64
    Yte : array, shape (10000,), int64
    """
    folder = _find_folder(ROOT)
    train = [_load_batch(folder / name) for name in TRAIN_FILES]
    Xte, Yte = _load_batch(folder / TEST_FILE)
    Xtr = np.concatenate([images for images, _ in train])
    Ytr = np.concatenate([labels for _, labels in train])
    as_nhwc = (0, 2, 3, 1)
    return (Xtr.transpose(as_nhwc).astype(np.float64), Ytr,
            Xte.transpose(as_nhwc).astype(np.float64), Yte)


def get_CIFAR10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    cifar10_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """CIFAR-10 split and mean-subtracted as the course's, in (N, 3, 32, 32) float64.

    Parameters
    ----------
    num_training, num_validation, num_test : int
        The first ``num_training`` training images train, the next ``num_validation``
        validate; the first ``num_test`` test images test.
    subtract_mean : bool
        Subtract the mean training image from every split.
    cifar10_dir : str or Path, optional
        The ``cifar-10-batches-py`` folder; by default the first of
        ``cs231n/datasets/cifar-10-batches-py`` and ``datasets/cifar-10-batches-py`` (relative
        to the working directory) that exists.

    Returns
    -------
    dict
        ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``.
    """
    if cifar10_dir is None:
        cifar10_dir = next((d for d in DEFAULT_DIRS if Path(d).is_dir()), DEFAULT_DIRS[0])
    data = load_cifar10(cifar10_dir, num_training=num_training, num_validation=num_validation,
                        num_test=num_test, subtract_mean=subtract_mean, dtype=np.float64)
    return {key: data[key] for key in ("X_train", "y_train", "X_val", "y_val", "X_test",
                                       "y_test")}
