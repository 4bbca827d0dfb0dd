"""The Solver's small API details: its summary line, resumed checkpoints, divergence hook."""

from __future__ import annotations

import math
import warnings

import pytest

from xplayers.data import make_blobs
from xplayers.models import FullyConnectedNet
from xplayers.solver import Solver, TrainingDiverged


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(num_classes=3, num_per_class=30, dim=4, seed=0)


def net():
    return FullyConnectedNet([8], input_dim=4, num_classes=3, weight_scale=0.1, init_seed=0)


SETTINGS = {"update_rule": "adam", "optim_config": {"learning_rate": 1e-2}, "batch_size": 16,
            "verbose": False, "device": "cpu", "seed": 0}


def test_print_says_epoch_loss_and_accuracies(blobs, capsys):
    solver = Solver(net(), blobs, num_epochs=2, **SETTINGS)
    assert "epoch 0/2" in repr(solver) and "not trained yet" in repr(solver)
    solver.epoch_callback = print
    solver.train()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "object at 0x" not in lines[0]
    assert lines[0].startswith("Solver(epoch 1/2, loss ")
    last = (f"loss {solver.loss_history[-1]:.4f}, train acc {solver.train_acc_history[-1]:.4f}, "
            f"val acc {solver.val_acc_history[-1]:.4f} (best {solver.best_val_acc:.4f})")
    assert last in lines[1] and "epoch 2/2" in lines[1]
    assert "FullyConnectedNet, adam, device cpu" in lines[1]


def test_resumed_run_keeps_writing_checkpoints(blobs, tmp_path):
    Solver(net(), blobs, num_epochs=2, checkpoint_name=tmp_path / "run", **SETTINGS).train()
    resumed = Solver.from_checkpoint(tmp_path / "run_epoch_2.npz", blobs, num_epochs=4,
                                     verbose=False)
    assert resumed.checkpoint_name == str(tmp_path / "run")
    resumed.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"run_epoch_{n}.npz" for n in (1, 2, 3, 4)]
    again = Solver.from_checkpoint(tmp_path / "run_epoch_4.npz", blobs, num_epochs=4)
    assert again.epoch == 4 and len(again.val_acc_history) == 5


def test_resumed_run_obeys_an_explicit_checkpoint_name(blobs, tmp_path):
    Solver(net(), blobs, num_epochs=1, checkpoint_name=tmp_path / "run", **SETTINGS).train()
    (tmp_path / "other").mkdir()
    elsewhere = Solver.from_checkpoint(tmp_path / "run_epoch_1.npz", blobs, num_epochs=2,
                                       checkpoint_name=tmp_path / "other" / "b")
    elsewhere.train()
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["b_epoch_2.npz"]
    none = Solver.from_checkpoint(tmp_path / "run_epoch_1.npz", blobs, num_epochs=2,
                                  checkpoint_name=None)
    none.train()
    assert not (tmp_path / "run_epoch_2.npz").exists()


def test_a_renamed_checkpoint_resumes_without_writing(blobs, tmp_path):
    Solver(net(), blobs, num_epochs=1, checkpoint_name=tmp_path / "run", **SETTINGS).train()
    (tmp_path / "run_epoch_1.npz").rename(tmp_path / "kept.npz")
    resumed = Solver.from_checkpoint(tmp_path / "kept.npz", blobs, num_epochs=2)
    assert resumed.checkpoint_name is None


def test_resuming_from_a_read_only_folder_warns(blobs, tmp_path, monkeypatch):
    import os

    Solver(net(), blobs, num_epochs=1, checkpoint_name=tmp_path / "run", **SETTINGS).train()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        False if mode == os.W_OK and str(path) == str(tmp_path) else real_access(path, mode)))
    with pytest.warns(UserWarning, match="writes no checkpoints.*checkpoint_name="):
        resumed = Solver.from_checkpoint(tmp_path / "run_epoch_1.npz", blobs, num_epochs=2)
    assert resumed.checkpoint_name is None


def diverging_solver(blobs, **kwargs):
    return Solver(net(), blobs, num_epochs=2, update_rule="sgd",
                  optim_config={"learning_rate": 1e30}, batch_size=16, verbose=False,
                  device="cpu", seed=0, **kwargs)


def test_divergence_raises_by_default(blobs):
    solver = diverging_solver(blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(TrainingDiverged):
            solver.train()
    assert all(math.isfinite(v) for v in solver.loss_history)


def test_a_divergence_handler_that_returns_lets_training_go_on(blobs):
    seen = []
    solver = diverging_solver(blobs)
    solver.on_divergence = lambda s, value, iteration: seen.append((value, iteration))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        solver.train()
    assert seen and solver.epoch == 2
    value, iteration = seen[0]
    assert not math.isfinite(value) and not math.isfinite(solver.loss_history[iteration - 1])
    assert all(math.isfinite(v) for v in solver.loss_history[:iteration - 1])
