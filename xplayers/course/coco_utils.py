"""The course's ``cs231n.coco_utils``: the COCO captioning data from the course's own files.

``load_coco_data`` reads, from one local folder, ``coco2014_captions.h5`` (train/val captions
and image indices), ``{train,val}2014_vgg16_fc7_pca.h5`` (or ``..._fc7.h5`` with
``pca_features=False``), ``coco2014_vocab.json`` (``idx_to_word``, ``word_to_idx``) and
``{train,val}2014_urls.txt``. Nothing is downloaded (the course's ``get_coco_dataset.sh``
does that). The folder is the one the call names, else the one in the environment variable
``XPLAYERS_COCO_DIR``, else ``cs231n/datasets/coco_captioning`` (or
``datasets/coco_captioning``) under the working directory, where the course's notebooks keep
it. HDF5 needs ``h5py`` (``pip install 'xplayers[course]'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.devices import to_numpy

__all__ = ["BASE_DIR", "decode_captions", "find_coco_dir", "load_coco_data",
           "sample_coco_minibatch"]

ENV_VAR = "XPLAYERS_COCO_DIR"
BASE_DIR = "cs231n/datasets/coco_captioning"
"""The course's folder, relative to the notebook (the working directory)."""
_RELATIVE_DIRS = (BASE_DIR, "datasets/coco_captioning")
CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"


def _files(pca_features: bool) -> list[str]:
    suffix = "_pca" if pca_features else ""
    return [CAPTIONS_FILE, f"train2014_vgg16_fc7{suffix}.h5", f"val2014_vgg16_fc7{suffix}.h5",
            VOCAB_FILE, "train2014_urls.txt", "val2014_urls.txt"]


def find_coco_dir(base_dir: str | os.PathLike[str] | None = None,
                  pca_features: bool = True) -> Path:
    """The folder holding the course's COCO files (see the module docstring for the order).

    Raises
    ------
    FileNotFoundError
        Naming each folder looked in and the files missing there.
    """
    if base_dir is not None:
        candidates = [(Path(base_dir).expanduser(), "the base_dir given")]
    elif os.environ.get(ENV_VAR):
        candidates = [(Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}")]
    else:
        candidates = [(Path.cwd() / d, "the working directory") for d in _RELATIVE_DIRS]
    needed = _files(pca_features)
    report = []
    for folder, why in candidates:
        missing = [name for name in needed if not (folder / name).is_file()]
        if not missing:
            return folder
        report.append(f"{folder} ({why}): missing {', '.join(missing)}")
    raise FileNotFoundError(
        "the COCO captioning data was not found; looked in " + "; ".join(report)
        + f". Download it with the course's get_coco_dataset.sh (or get_datasets.sh), then "
        f"pass its folder as base_dir=, set {ENV_VAR}, or run from the folder that holds "
        f"{BASE_DIR}")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:
        raise ImportError("load_coco_data reads HDF5 files and needs h5py: pip install h5py "
                          "(or pip install 'xplayers[course]')") from exc
    return h5py


def _read_urls(path: Path) -> np.ndarray:
    with open(path, encoding="utf-8") as handle:
        return np.asarray([line.strip() for line in handle])


def load_coco_data(base_dir: str | os.PathLike[str] | None = None,
                   max_train: int | None = None, pca_features: bool = True) -> dict[str, Any]:
    """The course's captioning data as a dict of host arrays (and the vocabulary).

    Parameters
    ----------
    base_dir : str or path-like, optional
        The folder with the course's files; see the module docstring for where it is looked
        for otherwise.
    max_train : int or None
        Keep this many training captions, drawn with replacement from NumPy's global random
        state as the course does (the features keep every image).
    pca_features : bool
        The 512-dimensional PCA features (default) or the 4096-dimensional fc7 ones.

    Returns
    -------
    dict
        ``train_captions``, ``train_image_idxs``, ``val_captions``, ``val_image_idxs`` (what
        the captions file holds), ``train_features``, ``val_features``, ``idx_to_word``,
        ``word_to_idx`` (what the vocabulary file holds), ``train_urls``, ``val_urls``.

    Raises
    ------
    FileNotFoundError
        Naming the folders looked in and the files missing.
    """
    folder = find_coco_dir(base_dir, pca_features)
    h5py = _h5py()
    names = _files(pca_features)
    data: dict[str, Any] = {}
    with h5py.File(folder / CAPTIONS_FILE, "r") as handle:
        for key, value in handle.items():
            data[key] = np.asarray(value)
    for split, name in (("train", names[1]), ("val", names[2])):
        with h5py.File(folder / name, "r") as handle:
            if "features" not in handle:
                raise ValueError(f"{folder / name} holds no 'features' dataset (it has "
                                 f"{sorted(handle)})")
            data[f"{split}_features"] = np.asarray(handle["features"])
    with open(folder / VOCAB_FILE, encoding="utf-8") as handle:
        data.update(json.load(handle))
    data["train_urls"] = _read_urls(folder / "train2014_urls.txt")
    data["val_urls"] = _read_urls(folder / "val2014_urls.txt")
    if max_train is not None:
        num_train = data["train_captions"].shape[0]
        mask = np.random.randint(num_train, size=max_train)  # noqa: NPY002 (the course's)
        data["train_captions"] = data["train_captions"][mask]
        data["train_image_idxs"] = data["train_image_idxs"][mask]
    return data


def decode_captions(captions: Any, idx_to_word: Sequence[str] | Mapping[int, str]
                    ) -> str | list[str]:
    """Word indices to text: ``<NULL>`` left out, each caption cut after ``<END>``.

    Parameters
    ----------
    captions : integer array, shape (N, T) or (T,), any backend
    idx_to_word : list or dict
        ``data['idx_to_word']`` or a model's ``idx_to_word``.

    Returns
    -------
    list of N strings, or one string for a 1-d ``captions``
    """
    captions = np.asarray(to_numpy(captions))
    single = captions.ndim == 1
    rows = captions[None] if single else captions
    decoded = []
    for row in rows:
        words = []
        for index in row:
            word = idx_to_word[int(index)]
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if single else decoded


def sample_coco_minibatch(data: Mapping[str, Any], batch_size: int = 100,
                          split: str = "train") -> tuple[Any, Any, Any]:
    """``batch_size`` captions of ``split`` drawn with replacement (NumPy's global state, as
    in the course), with their images' features and URLs.

    Returns
    -------
    captions : (batch_size, T + 1) integers
    image_features : (batch_size, D)
    urls : (batch_size,) strings
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    split_size = data[f"{split}_captions"].shape[0]
    mask = np.random.choice(split_size, batch_size)  # noqa: NPY002 (the course's)
    captions = data[f"{split}_captions"][mask]
    image_idxs = data[f"{split}_image_idxs"][mask]
    image_features = data[f"{split}_features"][image_idxs]
    urls = data[f"{split}_urls"][image_idxs]
    return captions, image_features, urls
