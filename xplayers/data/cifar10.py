"""CIFAR-10 from the standard ``cifar-10-batches-py`` folder, split as in the course.

Trust: the CIFAR-10 "python version" batches are Python pickles, and unpickling a file can run
arbitrary code. Only point :func:`load_cifar10` at a folder you extracted yourself from the
official archive. As a second line of defence the batches are read with a restricted
unpickler that only rebuilds NumPy arrays, lists, dicts and bytes and refuses any other global
(so a tampered file fails with ``ValueError`` instead of running its payload); this narrows the
risk but is not a sandbox.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .splits import as_float_dtype, check_count

__all__ = ["CIFAR10_CLASSES", "load_cifar10"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
ROW_SIZE = 3 * 32 * 32

# Globals a CIFAR-10 batch may name: NumPy's array reconstruction and bytes decoding.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that only resolves the globals a CIFAR-10 batch needs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch only holds "
                "NumPy arrays, lists and bytes"
            )
        return super().find_class(module, name)


def _entry(batch: dict, key: str, path: Path) -> Any:
    for candidate in (key.encode(), key):  # bytes keys from Python 2 pickles, str otherwise
        if candidate in batch:
            return batch[candidate]
    raise ValueError(f"{path}: not a CIFAR-10 batch, it has no {key!r} entry "
                     f"(keys: {sorted(map(repr, batch))})")


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file: images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64."""
    if not path.is_file():
        raise FileNotFoundError(
            f"CIFAR-10 batch file {path} is missing; re-extract cifar-10-python.tar.gz "
            f"(download it by hand from {CIFAR10_URL})"
        )
    try:
        with path.open("rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # any failure to unpickle means a corrupt or foreign file
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({type(exc).__name__}: "
                         f"{exc})") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: not a CIFAR-10 batch, expected a pickled dict, got "
                         f"{type(batch).__name__}")
    data = _entry(batch, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != ROW_SIZE:
        described = (f"{data.dtype} array of shape {data.shape}"
                     if isinstance(data, np.ndarray) else type(data).__name__)
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (N, {ROW_SIZE}), "
                         f"got {described}")
    labels = np.asarray(_entry(batch, "labels", path))
    if labels.shape != (data.shape[0],) or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{path}: 'labels' must hold {data.shape[0]} integer labels (one per "
                         f"row of 'data'), got {labels.dtype} values of shape {labels.shape}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"{path}: labels must lie in [0, 10), got values from "
                         f"{labels.min()} to {labels.max()}")
    # Each row holds the 1024 red, then green, then blue values of a 32x32 image: NCHW.
    return data.reshape(-1, 3, 32, 32), labels


def _find_folder(root: str | Path) -> Path:
    root = Path(root).expanduser()
    for folder in (root, root / CIFAR10_FOLDER):
        if (folder / TEST_FILE).exists() or (folder / TRAIN_FILES[0]).exists():
            return folder
    raise FileNotFoundError(
        f"no CIFAR-10 data at {root}: download the 'CIFAR-10 python version' "
        f"(cifar-10-python.tar.gz) by hand from {CIFAR10_URL}, extract it, and pass the "
        f"{CIFAR10_FOLDER} folder (or the folder that contains it) as root"
    )


def load_cifar10(
    root: str | Path,
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, np.ndarray]:
    """Load CIFAR-10 as the course does, as host NumPy arrays in NCHW layout.

    The first ``num_training`` rows of ``data_batch_1..5`` train, the next ``num_validation``
    validate, and the first ``num_test`` rows of ``test_batch`` test. With ``subtract_mean``
    the mean image of the TRAIN split is subtracted from every split (no scaling).

    The batch files are pickles; see the module docstring for what that means for trust.

    Parameters
    ----------
    root : str or Path
        The ``cifar-10-batches-py`` folder, or the folder that contains it.
    num_training, num_validation, num_test : int
        Split sizes; ``num_training + num_validation`` may not exceed the training rows
        (50000), nor ``num_test`` the test rows (10000).
    subtract_mean : bool
    dtype : NumPy floating dtype

    Returns
    -------
    dict
        ``X_train`` (num_training, 3, 32, 32), ``X_val``, ``X_test`` in ``dtype``;
        ``y_train``, ``y_val``, ``y_test`` int64 in [0, 10); with ``subtract_mean`` also
        ``mean``, the mean training image, shape (3, 32, 32).

    Raises
    ------
    FileNotFoundError
        If the folder or a batch file is missing (nothing is downloaded).
    ValueError
        If a batch file is corrupt or not in the CIFAR-10 format (the message names the file),
        or the split sizes ask for more rows than there are.
    """
    func = "load_cifar10"
    num_training = check_count(func, "num_training", num_training, 1)
    num_validation = check_count(func, "num_validation", num_validation)
    num_test = check_count(func, "num_test", num_test)
    dtype = as_float_dtype(dtype, func)
    folder = _find_folder(root)

    batches = [_load_batch(folder / name) for name in TRAIN_FILES]
    X_all = np.concatenate([images for images, _ in batches])
    y_all = np.concatenate([labels for _, labels in batches])
    if num_training + num_validation > len(y_all):
        raise ValueError(f"{func}: num_training + num_validation = "
                         f"{num_training + num_validation} exceeds the {len(y_all)} training "
                         f"images in {folder}")
    X_test, y_test = _load_batch(folder / TEST_FILE)
    if num_test > len(y_test):
        raise ValueError(f"{func}: num_test = {num_test} exceeds the {len(y_test)} test images "
                         f"in {folder / TEST_FILE}")

    split_rows = {
        "train": (X_all[:num_training], y_all[:num_training]),
        "val": (X_all[num_training:num_training + num_validation],
                y_all[num_training:num_training + num_validation]),
        "test": (X_test[:num_test], y_test[:num_test]),
    }
    data: dict[str, np.ndarray] = {}
    mean = None
    if subtract_mean:
        mean = split_rows["train"][0].mean(axis=0, dtype=np.float64).astype(dtype)
        data["mean"] = mean
    for split, (images, labels) in split_rows.items():
        X = images.astype(dtype)
        if mean is not None:
            X -= mean
        data[f"X_{split}"] = X
        data[f"y_{split}"] = labels.copy()
    return data
