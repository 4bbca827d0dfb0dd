"""Item 5 of issue 20: where the course's loaders look, the course Solver on divergence, and
``grad_check_sparse``'s printout."""

from __future__ import annotations

import pickle
import random
import re
import warnings

import numpy as np
import pytest

from xplayers.course.data_utils import DATASETS_ENV, get_CIFAR10_data, load_CIFAR10
from xplayers.course.gradient_check import grad_check_sparse
from xplayers.course.solver import Solver as CourseSolver
from xplayers.data import make_blobs
from xplayers.models import FullyConnectedNet
from xplayers.solver import Solver, TrainingDiverged


def _write_cifar(folder, rows=2):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {b"labels": rng.integers(0, 10, rows).tolist(),
                 b"data": rng.integers(0, 256, size=(rows, 3072), dtype=np.uint8)}
        with (folder / name).open("wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def test_notebook_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    _write_cifar(tmp_path / "cs231n" / "datasets" / "cifar-10-batches-py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    Xtr, _, Xte, _ = load_CIFAR10("cs231n/datasets/cifar-10-batches-py")
    assert Xtr.shape == (10, 32, 32, 3) and Xte.shape == (2, 32, 32, 3)


def test_environment_folder_serves_the_notebooks_path(tmp_path, monkeypatch):
    _write_cifar(tmp_path / "elsewhere" / "cifar-10-batches-py", rows=3)
    monkeypatch.chdir(tmp_path)  # no cs231n/datasets here
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "elsewhere"))
    Xtr, _, _, _ = load_CIFAR10("cs231n/datasets/cifar-10-batches-py")
    assert Xtr.shape == (15, 32, 32, 3)
    data = get_CIFAR10_data(num_training=10, num_validation=2, num_test=1)
    assert data["X_train"].shape == (10, 3, 32, 32)


def test_the_call_wins_over_the_environment(tmp_path, monkeypatch):
    _write_cifar(tmp_path / "env" / "cifar-10-batches-py", rows=3)
    given = _write_cifar(tmp_path / "given" / "cifar-10-batches-py", rows=1)
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "env"))
    assert load_CIFAR10(given)[0].shape == (5, 32, 32, 3)
    assert load_CIFAR10(given.parent)[0].shape == (5, 32, 32, 3)


def test_missing_data_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_CIFAR10("my/cifar")
    message = str(info.value)
    for place in ("my/cifar", "env/cifar-10-batches-py", "cs231n/datasets/cifar-10-batches-py",
                  DATASETS_ENV, "data_batch_1..5"):
        assert place in message, place


def _diverging(solver_cls):
    data = make_blobs(num_classes=4, num_per_class=10, dim=5, seed=0)
    model = FullyConnectedNet([16], input_dim=5, num_classes=4, weight_scale=0.1, init_seed=0)
    return solver_cls(model, data, update_rule="sgd", optim_config={"learning_rate": 1e30},
                      num_epochs=3, batch_size=10, print_every=1, verbose=False, seed=0,
                      device="cpu")


def test_course_solver_carries_on_through_divergence_warning_once():
    solver = _diverging(CourseSolver)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            solver.train()
    diverged = [w for w in caught if "training goes on" in str(w.message)]
    assert len(diverged) == 1 and diverged[0].category is RuntimeWarning
    per_epoch = solver.sampler.batches_per_epoch
    assert len(solver.loss_history) == 3 * per_epoch  # every iteration recorded
    assert not np.all(np.isfinite(solver.loss_history))
    assert len(solver.val_acc_history) == len(solver.train_acc_history) == 4


def test_library_solver_still_raises():
    solver = _diverging(Solver)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged):
        solver.train()
    assert np.all(np.isfinite(solver.loss_history))


def test_grad_check_sparse_prints_the_course_lines(capsys):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((5, 3))
    random.seed(0)
    errors = grad_check_sparse(lambda w: np.sum(w**3), W, 3 * W**2, num_checks=4)
    lines = capsys.readouterr().out.splitlines()
    pattern = r"numerical: -?\d+\.\d{6} analytic: -?\d+\.\d{6}, relative error: \d\.\d{6}e[-+]\d+"
    assert len(lines) == 4 and all(re.fullmatch(pattern, line) for line in lines), lines
    assert max(errors) < 1e-6
