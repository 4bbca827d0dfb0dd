"""Data loaders: shapes, dtypes, splits, train-only statistics, and CIFAR-10 on a miniature."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

from xplayers.data import (
    CIFAR10_CLASSES,
    load_cifar10,
    load_dataset,
    load_digits,
    make_blobs,
    stratified_split,
)

SPLIT_KEYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


# --- Splitting ---------------------------------------------------------------------------


def test_stratified_split_is_disjoint_complete_deterministic_and_stratified():
    y = np.repeat(np.arange(4), [40, 20, 10, 30])
    train, val, test = stratified_split(y, 0.2, 0.1, seed=3)
    everything = np.concatenate([train, val, test])
    assert np.array_equal(np.sort(everything), np.arange(y.size))  # disjoint and complete
    for label, size in enumerate([40, 20, 10, 30]):
        assert np.sum(y[val] == label) == round(0.2 * size)
        assert np.sum(y[test] == label) == round(0.1 * size)
    again = stratified_split(y, 0.2, 0.1, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    other = stratified_split(y, 0.2, 0.1, seed=4)
    assert not np.array_equal(train, other[0])


def test_stratified_split_keeps_a_training_row_per_class():
    y = np.array([0, 0, 1, 1, 1])
    train, val, test = stratified_split(y, 0.45, 0.45, seed=0)
    assert set(y[train]) == {0, 1}
    assert len(train) + len(val) + len(test) == 5


@pytest.mark.parametrize(
    "val, test, error, match",
    [(-0.1, 0.1, ValueError, r"val_fraction must lie in \[0, 1\), got -0.1"),
     (0.1, 1.0, ValueError, r"test_fraction must lie in \[0, 1\), got 1.0"),
     (0.6, 0.5, ValueError, r"val_fraction \+ test_fraction must be below 1"),
     ("0.1", 0.1, TypeError, r"val_fraction must be a number")],
)
def test_bad_fractions(val, test, error, match):
    with pytest.raises(error, match=match):
        load_digits(val_fraction=val, test_fraction=test)


# --- Digits ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return load_digits()


def test_digits_shapes_and_dtypes(digits):
    sizes = [digits[f"y_{s}"].shape[0] for s in ("train", "val", "test")]
    assert sum(sizes) == 1797
    for split, size in zip(("train", "val", "test"), sizes, strict=True):
        assert digits[f"X_{split}"].shape == (size, 64)
        assert digits[f"X_{split}"].dtype == np.float32
        assert digits[f"y_{split}"].dtype == np.int64
        assert set(np.unique(digits[f"y_{split}"])) == set(range(10))
    assert digits["mean"].shape == digits["std"].shape == (64,)


def test_digits_splits_are_stratified(digits):
    counts = {s: np.bincount(digits[f"y_{s}"], minlength=10) for s in ("train", "val", "test")}
    total = counts["train"] + counts["val"] + counts["test"]
    np.testing.assert_array_equal(counts["val"], np.round(0.15 * total))
    np.testing.assert_array_equal(counts["test"], np.round(0.15 * total))


def test_digits_normalised_with_train_statistics_only(digits):
    X = digits["X_train"].astype(np.float64)
    assert np.abs(X.mean(axis=0)).max() < 1e-5
    std = X.std(axis=0)
    varying = digits["std"] != 1  # pixels constant in training are only centred
    np.testing.assert_allclose(std[varying], 1.0, rtol=1e-4)
    np.testing.assert_allclose(std[~varying], 0.0, atol=1e-6)
    # The stored statistics undo the standardisation back to raw pixel values 0..16.
    raw = digits["X_val"] * digits["std"] + digits["mean"]
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-4)
    assert raw.min() > -1e-3 and raw.max() < 16 + 1e-3
    # The validation split was not used: its mean is not forced to zero.
    assert np.abs(digits["X_val"].mean(axis=0)).max() > 1e-3


def test_digits_deterministic_and_seeded(digits):
    again = load_digits()
    for key in SPLIT_KEYS:
        np.testing.assert_array_equal(digits[key], again[key])
    other = load_digits(seed=1)
    assert not np.array_equal(digits["y_train"], other["y_train"])


def test_digits_images_for_conv_nets(digits):
    images = load_digits(flatten=False, dtype=np.float64)
    assert images["X_train"].shape == (digits["X_train"].shape[0], 1, 8, 8)
    assert images["X_test"].dtype == np.float64
    assert images["mean"].shape == (1, 8, 8)
    np.testing.assert_allclose(images["X_train"].reshape(-1, 64), digits["X_train"], atol=1e-5)


def test_digits_bad_dtype():
    with pytest.raises(TypeError, match=r"load_digits: dtype must be a NumPy floating dtype"):
        load_digits(dtype=np.int32)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'xplayers\[data\]'"):
        load_digits()


# --- Synthetic blobs ---------------------------------------------------------------------


def test_blobs_layout_and_separability():
    data = make_blobs(num_classes=4, num_per_class=30, dim=3, seed=5)
    assert sum(data[f"y_{s}"].size for s in ("train", "val", "test")) == 120
    assert data["X_train"].shape[1] == 3 and data["X_train"].dtype == np.float32
    assert data["y_val"].dtype == np.int64
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-5)
    # Nearest training centroid classifies every held-out point.
    centroids = np.stack([data["X_train"][data["y_train"] == c].mean(axis=0) for c in range(4)])
    for split in ("val", "test"):
        dist = np.linalg.norm(data[f"X_{split}"][:, None] - centroids[None], axis=-1)
        np.testing.assert_array_equal(dist.argmin(axis=1), data[f"y_{split}"])


def test_blobs_deterministic():
    a, b = make_blobs(seed=2), make_blobs(seed=2)
    for key in SPLIT_KEYS:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["X_train"], make_blobs(seed=3)["X_train"])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_classes": 1}, "num_classes must be at least 2"),
     ({"num_per_class": 0}, "num_per_class must be at least 1"),
     ({"dim": 2.5}, "dim must be an integer"),
     ({"separation": 0}, "separation must be a positive finite number")],
)
def test_blobs_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_blobs(**kwargs)


# --- CIFAR-10 on a miniature folder in the real format -----------------------------------

TRAIN_ROWS, TEST_ROWS = 6, 5


def write_batch(path, data, labels, *, protocol=2):
    batch = {b"batch_label": path.name.encode(), b"labels": list(labels), b"data": data,
             b"filenames": [f"img{i}.png".encode() for i in range(len(labels))]}
    with path.open("wb") as f:
        pickle.dump(batch, f, protocol=protocol)


@pytest.fixture
def cifar_root(tmp_path):
    """A ``cifar-10-batches-py`` folder with 5 x 6 training rows and 5 test rows."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        data = rng.integers(0, 256, size=(TRAIN_ROWS, 3072), dtype=np.uint8)
        write_batch(folder / f"data_batch_{i}", data, rng.integers(0, 10, TRAIN_ROWS).tolist())
    data = rng.integers(0, 256, size=(TEST_ROWS, 3072), dtype=np.uint8)
    write_batch(folder / "test_batch", data, rng.integers(0, 10, TEST_ROWS).tolist())
    return folder


def read_raw(folder):
    rows, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with (folder / name).open("rb") as f:
            batch = pickle.load(f)
        rows.append(batch[b"data"])
        labels.append(batch[b"labels"])
    train = np.concatenate(rows[:5]).reshape(-1, 3, 32, 32).astype(np.float64)
    return train, np.concatenate(labels[:5]), rows[5].reshape(-1, 3, 32, 32), labels[5]


def test_cifar10_round_trip(cifar_root):
    data = load_cifar10(cifar_root, num_training=24, num_validation=4, num_test=3)
    train, train_labels, test, test_labels = read_raw(cifar_root)
    assert data["X_train"].shape == (24, 3, 32, 32)
    assert data["X_val"].shape == (4, 3, 32, 32)
    assert data["X_test"].shape == (3, 3, 32, 32)
    assert data["X_train"].dtype == np.float32 and data["y_test"].dtype == np.int64
    mean = train[:24].mean(axis=0)
    np.testing.assert_allclose(data["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(data["X_train"], train[:24] - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_val"], train[24:28] - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_test"], test[:3] - mean, atol=1e-4)
    np.testing.assert_array_equal(data["y_train"], train_labels[:24])
    np.testing.assert_array_equal(data["y_val"], train_labels[24:28])
    np.testing.assert_array_equal(data["y_test"], test_labels[:3])
    assert np.abs(data["X_train"].mean(axis=0)).max() < 1e-3


def test_cifar10_parent_folder_raw_values_and_protocol5(cifar_root):
    write_batch(cifar_root / "test_batch", np.full((2, 3072), 7, np.uint8), [1, 2], protocol=5)
    data = load_cifar10(cifar_root.parent, num_training=30, num_validation=0, num_test=2,
                        subtract_mean=False, dtype=np.float64)
    assert "mean" not in data
    assert data["X_val"].shape == (0, 3, 32, 32)
    assert data["X_test"].dtype == np.float64
    np.testing.assert_array_equal(data["X_test"], 7.0)
    np.testing.assert_array_equal(data["y_test"], [1, 2])
    assert len(CIFAR10_CLASSES) == 10


def test_cifar10_channel_layout(cifar_root):
    # Row layout is 1024 red, 1024 green, 1024 blue values, each 32 rows of 32 pixels.
    row = np.zeros((1, 3072), np.uint8)
    row[0, 1024 + 32 * 5 + 7] = 200  # green channel, y=5, x=7
    write_batch(cifar_root / "test_batch", row, [3])
    data = load_cifar10(cifar_root, num_training=1, num_validation=0, num_test=1,
                        subtract_mean=False)
    assert data["X_test"][0, 1, 5, 7] == 200
    assert data["X_test"].sum() == 200


def test_cifar10_missing_folder_says_where_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no CIFAR-10 data at .*cs\.toronto\.edu"):
        load_cifar10(tmp_path / "nowhere")


def test_cifar10_missing_batch_is_named(cifar_root):
    (cifar_root / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3 is missing"):
        load_cifar10(cifar_root, num_training=10, num_validation=0, num_test=1)


def test_cifar10_corrupt_batch_is_named(cifar_root):
    raw = (cifar_root / "data_batch_2").read_bytes()
    (cifar_root / "data_batch_2").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"data_batch_2: not a readable CIFAR-10 batch"):
        load_cifar10(cifar_root, num_training=10, num_validation=0, num_test=1)


@pytest.mark.parametrize(
    "data, labels, match",
    [(np.zeros((2, 3000), np.uint8), [0, 1], r"'data' must be a uint8 array of shape \(N, 3072\)"
      r", got uint8 array of shape \(2, 3000\)"),
     (np.zeros((2, 3072), np.float32), [0, 1], r"got float32 array"),
     (np.zeros((2, 3072), np.uint8), [0], r"'labels' must hold 2 integer labels"),
     (np.zeros((2, 3072), np.uint8), [0, 10], r"labels must lie in \[0, 10\), got values from 0 "
      r"to 10")],
)
def test_cifar10_bad_batch_contents(cifar_root, data, labels, match):
    write_batch(cifar_root / "test_batch", data, labels)
    with pytest.raises(ValueError, match=r"test_batch: .*" + match):
        load_cifar10(cifar_root, num_training=10, num_validation=0, num_test=1)


def test_cifar10_missing_entry(cifar_root):
    with (cifar_root / "test_batch").open("wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8)}, f, protocol=2)
    with pytest.raises(ValueError, match=r"test_batch: not a CIFAR-10 batch, it has no 'labels'"):
        load_cifar10(cifar_root, num_training=10, num_validation=0, num_test=1)


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar10_refuses_foreign_globals(cifar_root):
    with (cifar_root / "data_batch_1").open("wb") as f:
        pickle.dump({b"data": _Payload(), b"labels": []}, f, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_1: .*refusing to load global .*getcwd"):
        load_cifar10(cifar_root, num_training=1, num_validation=0, num_test=1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [({"num_training": 31}, ValueError, r"num_training \+ num_validation = 31 exceeds the 30"),
     ({"num_test": 6}, ValueError, r"num_test = 6 exceeds the 5 test images"),
     ({"num_training": 0}, ValueError, r"num_training must be at least 1"),
     ({"num_validation": 1.5}, TypeError, r"num_validation must be an integer")],
)
def test_cifar10_bad_sizes(cifar_root, kwargs, error, match):
    sizes = {"num_training": 20, "num_validation": 0, "num_test": 1, **kwargs}
    with pytest.raises(error, match=match):
        load_cifar10(cifar_root, **sizes)


# --- load_dataset ------------------------------------------------------------------------


def test_load_dataset_dispatches(cifar_root):
    blobs = load_dataset("synthetic", num_classes=2, num_per_class=10)
    assert set(np.unique(blobs["y_train"])) == {0, 1}
    cifar = load_dataset("cifar10", root=cifar_root, num_training=5, num_validation=1,
                         num_test=1)
    assert cifar["X_train"].shape == (5, 3, 32, 32)


def test_load_dataset_digits():
    pytest.importorskip("sklearn")
    assert load_dataset("digits", flatten=False)["X_val"].shape[1:] == (1, 8, 8)


def test_load_dataset_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'; valid names are: cifar10, "
                                         r"digits, synthetic"):
        load_dataset("mnist")
