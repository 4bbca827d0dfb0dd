"""``xplayers.course.data_utils`` and ``vis_utils``: the course's shapes, dtypes and splits."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from xplayers.course.data_utils import get_CIFAR10_data, load_CIFAR10
from xplayers.course.vis_utils import visualize_grid


@pytest.fixture
def cifar_dir(tmp_path):
    """A ``cifar-10-batches-py`` folder in the real format: 5 x 4 training rows, 3 test rows."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, rows in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 3)]:
        batch = {b"labels": rng.integers(0, 10, rows).tolist(),
                 b"data": rng.integers(0, 256, size=(rows, 3072), dtype=np.uint8)}
        with (folder / name).open("wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def _raw(folder, name):
    with (folder / name).open("rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return batch[b"data"], np.array(batch[b"labels"])


def test_load_cifar10_has_the_course_shapes(cifar_dir):
    Xtr, Ytr, Xte, Yte = load_CIFAR10(str(cifar_dir))
    assert Xtr.shape == (20, 32, 32, 3) and Xtr.dtype == np.float64
    assert Xte.shape == (3, 32, 32, 3) and Yte.dtype.kind == "i"
    data, labels = _raw(cifar_dir, "data_batch_2")
    # the course: X.reshape(N, 3, 32, 32).transpose(0, 2, 3, 1).astype("float")
    np.testing.assert_array_equal(Xtr[4:8], data.reshape(4, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Ytr[4:8], labels)


def test_get_cifar10_data_splits_and_subtracts_as_the_course(cifar_dir):
    data = get_CIFAR10_data(num_training=15, num_validation=3, num_test=2,
                            cifar10_dir=cifar_dir)
    assert sorted(data) == ["X_test", "X_train", "X_val", "y_test", "y_train", "y_val"]
    Xtr, Ytr, Xte, Yte = load_CIFAR10(cifar_dir)
    mean_image = np.mean(Xtr[:15], axis=0)
    expected = {"X_train": Xtr[:15] - mean_image, "X_val": Xtr[15:18] - mean_image,
                "X_test": Xte[:2] - mean_image}
    for key, value in expected.items():
        assert data[key].dtype == np.float64
        np.testing.assert_allclose(data[key], value.transpose(0, 3, 1, 2), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(data["y_val"], Ytr[15:18])
    np.testing.assert_array_equal(data["y_test"], Yte[:2])


def test_get_cifar10_data_finds_the_course_folder(cifar_dir, monkeypatch):
    course_dir = cifar_dir.parent / "cs231n" / "datasets"
    course_dir.mkdir(parents=True)
    cifar_dir.rename(course_dir / "cifar-10-batches-py")
    monkeypatch.chdir(cifar_dir.parent)
    assert get_CIFAR10_data(num_training=4, num_validation=1, num_test=1)["X_train"].shape == \
        (4, 3, 32, 32)


def test_missing_data_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="download the 'CIFAR-10 python version'"):
        get_CIFAR10_data()


def test_visualize_grid_tiles_scaled_images():
    images = np.arange(5 * 2 * 3 * 1, dtype=np.float64).reshape(5, 2, 3, 1)
    grid = visualize_grid(images, ubound=1.0, padding=1)
    assert grid.shape == (3 * 3 - 1, 3 * 4 - 1, 1)
    np.testing.assert_allclose(grid[3:5, 4:7, 0], (images[4, :, :, 0] - 24) / 5)
    assert grid[2].max() == 0 and grid[6:].max() == 0  # padding and the unused cells
