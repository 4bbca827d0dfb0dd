"""``xplayers.course.classifiers.k_nearest_neighbor``: the course's k-NN on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close

from xplayers import to_numpy
from xplayers.course.classifiers import KNearestNeighbor
from xplayers.course.classifiers import k_nearest_neighbor as knn_module


def _loop_distances(X, X_train):
    """The course's two-loop definition, in float64 on the host."""
    dists = np.zeros((X.shape[0], X_train.shape[0]))
    for i in range(X.shape[0]):
        for j in range(X_train.shape[0]):
            dists[i, j] = np.sqrt(np.sum((X[i] - X_train[j]) ** 2))
    return dists


def _loop_labels(dists, y_train, k):
    """The course's predict_labels: argsort, then np.argmax(np.bincount(closest_y))."""
    return np.array([np.argmax(np.bincount(y_train[np.argsort(row, kind="stable")[:k]]))
                     for row in dists])


def test_importable_from_its_module_and_classifiers():
    assert knn_module.KNearestNeighbor is KNearestNeighbor


@pytest.mark.parametrize("num_loops", [0, 1, 2])
def test_distances_and_predictions_match_the_loops(backend, rng, num_loops):
    X_train = rng.integers(0, 256, size=(40, 12)).astype(np.float64)
    y_train = rng.integers(0, 4, size=40)
    X = rng.integers(0, 256, size=(9, 12)).astype(np.float64)
    X[0] = X_train[3]  # a distance of exactly zero
    knn = KNearestNeighbor()
    knn.train(backend.asarray(X_train), backend.asarray(y_train))
    Xb = backend.asarray(X)
    name = {0: "no_loops", 1: "one_loop", 2: "two_loops"}[num_loops]
    dists = getattr(knn, f"compute_distances_{name}")(Xb)
    expected = _loop_distances(X, X_train)
    assert_close(dists, expected, rtol=1e-9, atol=1e-6)
    for k in (1, 3, 5, 40):
        pred = knn.predict(Xb, k=k, num_loops=num_loops)
        np.testing.assert_array_equal(to_numpy(pred), _loop_labels(expected, y_train, k))


def test_ties_go_to_the_smallest_label(backend):
    X_train = np.array([[0.0], [1.0], [-1.0], [2.0]])
    y_train = np.array([5, 2, 5, 2])
    knn = KNearestNeighbor()
    knn.train(backend.asarray(X_train), backend.asarray(y_train))
    # Two 5s and two 2s among the 4 nearest: the course picks 2.
    pred = knn.predict(backend.asarray(np.array([[0.5]])), k=4)
    assert to_numpy(pred).tolist() == [2]


def test_float32_stays_float32(backend, rng):
    X_train = rng.standard_normal((20, 5)).astype(np.float32)
    knn = KNearestNeighbor()
    knn.train(backend.asarray(X_train), backend.asarray(rng.integers(0, 3, 20)))
    dists = knn.compute_distances_no_loops(backend.asarray(X_train[:4]))
    assert np.asarray(to_numpy(dists)).dtype == np.float32
    assert_close(dists, _loop_distances(X_train[:4].astype(np.float64), X_train),
                 rtol=1e-4, atol=2e-3)


def test_uint8_pixels_do_not_overflow(rng):
    X_train = rng.integers(0, 256, size=(10, 30)).astype(np.uint8)
    knn = KNearestNeighbor()
    knn.train(X_train, np.arange(10))
    dists = knn.compute_distances_no_loops(X_train[:3])
    np.testing.assert_allclose(dists, _loop_distances(X_train[:3].astype(float),
                                                      X_train.astype(float)), atol=1e-6)


def test_bad_input_is_named(rng):
    knn = KNearestNeighbor()
    with pytest.raises(RuntimeError, match="call train"):
        knn.compute_distances_no_loops(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="y has shape"):
        knn.train(np.zeros((4, 3)), np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="integer class labels"):
        knn.train(np.zeros((4, 3)), np.zeros(4))
    knn.train(rng.standard_normal((4, 3)), np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="5 columns but the training data has 3"):
        knn.compute_distances_one_loop(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="num_loops must be 0, 1 or 2"):
        knn.predict(np.zeros((2, 3)), num_loops=3)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 4\]"):
        knn.predict(np.zeros((2, 3)), k=5)
    with pytest.raises(ValueError, match="k must be"):
        knn.predict(np.zeros((2, 3)), k=0)
