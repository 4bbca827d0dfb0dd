"""The course's ``cs231n.data_utils``: CIFAR-10 from a local ``cifar-10-batches-py`` folder.

The course's shapes and float64 default, read by :mod:`xplayers.data.cifar10` (its restricted
unpickler included). Nothing is downloaded. The data are looked for where the call says, then
in the folder named by the environment variable ``XPLAYERS_COURSE_DATASETS`` (the course's
``cs231n/datasets`` folder, kept anywhere), then where a notebook keeps them:
``cs231n/datasets/cifar-10-batches-py`` and ``datasets/cifar-10-batches-py`` relative to the
working directory (the notebook's folder); never next to the installed package. Not provided:
``load_tiny_imagenet``, ``load_models`` and ``load_imagenet_val`` (data of assignments outside
this package's scope).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.cifar10 import (
    CIFAR10_FOLDER,
    CIFAR10_URL,
    TEST_FILE,
    TRAIN_FILES,
    _load_batch,
    load_cifar10,
)

__all__ = ["find_cifar10", "get_CIFAR10_data", "load_CIFAR10"]

# Where the course's notebooks find the data, relative to the notebook's folder.
DEFAULT_DIRS = ("cs231n/datasets/cifar-10-batches-py", "datasets/cifar-10-batches-py")
#: Environment variable naming a folder that holds the course's data sets (its
#: ``cs231n/datasets``), e.g. ``$XPLAYERS_COURSE_DATASETS/cifar-10-batches-py``.
DATASETS_ENV = "XPLAYERS_COURSE_DATASETS"


def _holds_cifar10(folder: Path) -> bool:
    return (folder / TEST_FILE).exists() or (folder / TRAIN_FILES[0]).exists()


def find_cifar10(root: str | Path | None = None) -> Path:
    """The ``cifar-10-batches-py`` folder: ``root``, the environment's, or the notebook's.

    Looked for, in order: ``root`` (or ``root/cifar-10-batches-py``) when given;
    ``$XPLAYERS_COURSE_DATASETS/cifar-10-batches-py`` (or the variable's folder itself);
    then :data:`DEFAULT_DIRS` relative to the working directory.

    Raises
    ------
    FileNotFoundError
        Naming every place looked in, and where the data come from.
    """
    candidates: list[Path] = []
    if root is not None:
        given = Path(root).expanduser()
        candidates += [given, given / CIFAR10_FOLDER]
    env = os.environ.get(DATASETS_ENV, "").strip()
    if env:
        candidates += [Path(env).expanduser() / CIFAR10_FOLDER, Path(env).expanduser()]
    candidates += [Path(d) for d in DEFAULT_DIRS]
    for folder in candidates:
        if _holds_cifar10(folder):
            return folder
    looked = "; ".join(str(c.resolve()) for c in candidates)
    raise FileNotFoundError(
        f"no CIFAR-10 data (the {CIFAR10_FOLDER} folder with data_batch_1..5 and test_batch) "
        f"found; looked in: {looked}; download the 'CIFAR-10 python version' "
        f"(cifar-10-python.tar.gz) by hand from {CIFAR10_URL}, extract it into one of "
        f"these, or set {DATASETS_ENV} to the folder that holds {CIFAR10_FOLDER}"
    )


def load_CIFAR10(ROOT: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All of CIFAR-10 as the course loads it: images (N, 32, 32, 3) float64, labels int64.

    Parameters
    ----------
    ROOT : str or Path
        The ``cifar-10-batches-py`` folder (or the folder that contains it); where it is
        missing, :func:`find_cifar10`'s other places are tried.

    Returns
    -------
    Xtr : array, shape (50000, 32, 32, 3), float64
    Ytr : array, shape (50000,), int64
    Xte : array, shape (10000, 32, 32, 3), float64
    Yte : array, shape (10000,), int64
    """
    folder = find_cifar10(ROOT)
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
        The ``cifar-10-batches-py`` folder; where it is None or missing,
        :func:`find_cifar10`'s other places (the environment's folder, then
        ``cs231n/datasets/cifar-10-batches-py`` and ``datasets/cifar-10-batches-py`` relative
        to the working directory).

    Returns
    -------
    dict
        ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``.
    """
    data = load_cifar10(find_cifar10(cifar10_dir), num_training=num_training,
                        num_validation=num_validation, num_test=num_test,
                        subtract_mean=subtract_mean, dtype=np.float64)
    return {key: data[key] for key in ("X_train", "y_train", "X_val", "y_val", "X_test",
                                       "y_test")}
