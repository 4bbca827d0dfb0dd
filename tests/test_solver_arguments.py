"""The Solver's arguments, duck-typed models, evaluation mode, the callback and the step's parts."""

from __future__ import annotations

import numpy as np
import pytest

from xplayers.data import make_blobs
from xplayers.layers import softmax_loss
from xplayers.models import FullyConnectedNet
from xplayers.solver import Solver, TrainingDiverged


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(num_classes=4, num_per_class=30, dim=5, seed=0)


def net(**kwargs):
    return FullyConnectedNet([8], input_dim=5, num_classes=4, weight_scale=0.1, init_seed=0,
                             **kwargs)


def make(blobs, model=None, **kwargs):
    settings = {"verbose": False, "device": "cpu", "seed": 0, **kwargs}
    return Solver(net() if model is None else model, blobs, **settings)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr_decay": 0}, r"lr_decay must be a finite number > 0, got 0"),
    ({"lr_decay": -0.5}, r"lr_decay must be a finite number > 0, got -0.5"),
    ({"lr_decay": float("nan")}, r"lr_decay must be a finite number > 0, got nan"),
    ({"lr_decay": float("inf")}, r"lr_decay must be a finite number > 0, got inf"),
    ({"lr_decay": "0.9"}, r"lr_decay must be a finite number > 0, got '0.9'"),
    ({"num_train_samples": -1}, r"num_train_samples must be None or a positive integer, "
                                r"got -1"),
    ({"num_val_samples": -5}, r"num_val_samples must be None or a positive integer"),
    ({"num_train_samples": 2.5}, r"num_train_samples must be None or a positive integer"),
    ({"batch_size": 8.0}, r"batch_size must be a positive integer, got 8.0"),
    ({"batch_size": True}, r"batch_size must be a positive integer, got True"),
    ({"num_epochs": -1}, r"num_epochs must be a positive integer, got -1"),
    ({"print_every": 0}, r"print_every must be a positive integer, got 0"),
    ({"seed": -1}, r"seed must be None or a non-negative integer, got -1"),
    ({"seed": 1.5}, r"seed must be None or a non-negative integer, got 1.5"),
    ({"optim_config": [("learning_rate", 1)]}, r"optim_config must be a dict"),
    ({"optim_config": {"learning_rate": 1e-3, "in_place": True}}, r"in_place.*not supported"),
    ({"epoch_callback": 3}, r"epoch_callback must be callable or None, got 3"),
    ({"checkpoint_name": "/no/such/folder/run"}, r"checkpoint_name '/no/such/folder/run': "
                                                 r"the folder '/no/such/folder' does not exist"),
    ({"checkpoint_name": 5}, r"checkpoint_name must be a path prefix"),
])
def test_bad_arguments_are_named(blobs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(blobs, **kwargs)


@pytest.mark.parametrize(("change", "message"), [
    ({"X_train": np.zeros((0, 5), np.float32), "y_train": np.zeros(0, np.int64)},
     r"data\['X_train'\] is empty"),
    ({"y_val": np.full(24, 4)}, r"validation labels y must lie in \[0, 4\) for the model's "
                                r"4 classes, got values from 4 to 4"),
    ({"y_val": np.full(24, -1)}, r"validation labels y must lie in \[0, 4\).*from -1 to -1"),
    ({"y_train": np.full(72, 9)}, r"training labels y must lie in \[0, 4\)"),
    ({"y_val": np.zeros(23, np.int64)}, r"X has 24 rows but y has 23 labels "
                                        r"\(the validation data\)"),
    ({"y_val": np.zeros(24, np.float32)}, r"validation y must hold integer class labels, "
                                          r"got dtype float32"),
    ({"y_val": np.zeros((24, 1), np.int64)}, r"validation data needs X of shape \(N, \.\.\.\) "
                                             r"and y of shape \(N,\)"),
    ({"X_train": np.zeros((72, 5), np.complex64)}, r"training X must hold real numbers, got "
                                                   r"dtype complex64"),
])
def test_bad_data_is_named(blobs, change, message):
    assert blobs["X_val"].shape[0] == 24 and blobs["X_train"].shape[0] == 72
    with pytest.raises(ValueError, match=message):
        make({**blobs, **change})


def test_numpy_integer_scalars_are_accepted(blobs):
    solver = make(blobs, batch_size=np.int64(8), num_epochs=np.int32(1),
                  num_train_samples=np.int64(20), print_every=np.uint8(3), seed=np.int64(4),
                  lr_decay=np.float32(0.5))
    solver.train()
    assert solver.batch_size == 8 and type(solver.batch_size) is int
    assert len(solver.loss_history) == 72 // 8


class CourseStyleNet:
    """A model as the course writes them: params and loss, nothing else."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.params = {"W": 0.1 * rng.standard_normal((5, 4)), "b": np.zeros(4)}

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def test_duck_typed_model_trains(blobs):
    blobs64 = {k: v.astype(np.float64) if k.startswith("X") else v for k, v in blobs.items()}
    solver = make(blobs64, model=CourseStyleNet(), update_rule="sgd",
                  optim_config={"learning_rate": 0.5}, num_epochs=3)
    solver.train()
    assert solver.best_val_acc > 0.8
    assert solver.val_loss_history == []  # no eval() mode to measure it without side effects


@pytest.mark.parametrize(("model", "message"), [
    (object(), r"model must have a non-empty 'params' dict of arrays and a 'loss\(X, "
               r"y=None\)' method.*got a object"),
    (type("NoLoss", (), {"params": {"W": np.ones(2)}})(), r"model must have a 'loss\(X, "
                                                           r"y=None\)' method.*got a NoLoss"),
    (type("NoParams", (), {"loss": lambda self, X, y=None: X})(), r"non-empty 'params' dict"),
])
def test_model_without_params_or_loss_is_named(blobs, model, message):
    with pytest.raises(TypeError, match=message):
        make(blobs, model=model)


def test_eval_mode_loss_touches_no_running_stats_nor_dropout(blobs):
    model = net(normalization="batchnorm", dropout=0.5, dropout_seed=1)
    X, y = blobs["X_val"][:10], blobs["y_val"][:10]
    model.loss(blobs["X_train"][:16], blobs["y_train"][:16])  # running stats exist
    state = {k: v.copy() for k, v in model.state().items()}
    assert model.eval() is model and not model.training
    first, grads = model.loss(X, y)
    second, _ = model.loss(X, y)
    assert float(first) == float(second)  # no dropout mask: deterministic
    assert set(grads) == set(model.params)
    for name, value in model.state().items():
        np.testing.assert_array_equal(value, state[name])
    assert model.train() is model and model.training
    trained, _ = model.loss(X, y)
    assert any(not np.array_equal(model.state()[k], state[k]) for k in state)
    assert float(trained) != float(first)


def test_validation_loss_is_in_the_history_and_has_no_side_effects(blobs):
    model = net(normalization="batchnorm", dropout=0.3, dropout_seed=1)
    solver = make(blobs, model=model, update_rule="adam", num_epochs=2, batch_size=16)
    solver.train()
    assert len(solver.val_loss_history) == 3
    assert all(type(v) is float and v > 0 for v in solver.val_loss_history)
    state = {k: v.copy() for k, v in model.state().items()}
    again = solver.validation_loss()
    assert again == solver.validation_loss()
    assert model.training
    for name, value in model.state().items():
        np.testing.assert_array_equal(value, state[name])


def test_epoch_callback_sees_each_epoch_and_its_error_keeps_the_best(blobs):
    seen = []

    def callback(solver):
        seen.append((solver.epoch, len(solver.val_acc_history)))
        if solver.epoch == 2:
            raise KeyError("stop (simulated)")

    model = net()
    solver = make(blobs, model=model, update_rule="adam", num_epochs=4, epoch_callback=callback)
    with pytest.raises(KeyError, match="simulated"):
        solver.train()
    assert seen == [(1, 2), (2, 3)]
    for name, value in solver.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_restores_best_running_stats_too(blobs):
    model = net(normalization="batchnorm")
    solvers = []

    def sgd_that_explodes_in_epoch_2(w, dw, config):
        return w - (0.5 if solvers[0].epoch < 1 else 1e30) * dw, config

    solver = make(blobs, model=model, update_rule=sgd_that_explodes_in_epoch_2, num_epochs=3,
                  batch_size=8)
    solvers.append(solver)
    with pytest.raises(TrainingDiverged, match="best parameters and running statistics"):
        solver.train()
    assert solver.epoch == 1 and solver.best_val_acc > solver.val_acc_history[0]
    assert set(model.state()) == set(solver.best_state) == {"running_mean1", "running_var1"}
    for name, value in model.state().items():
        np.testing.assert_array_equal(value, solver.best_state[name])
        assert np.all(np.isfinite(value))
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, solver.best_params[name])


def test_rollback_alone_restores_running_stats(blobs):
    model = net(normalization="batchnorm")
    solver = make(blobs, model=model)
    model.loss(blobs["X_train"][:16], blobs["y_train"][:16])
    before = model.state()
    model.loss(blobs["X_train"][16:32], blobs["y_train"][16:32])
    assert any(model.state()[k] is not before[k] for k in before)
    solver._rollback(before)
    assert all(model.state()[k] is before[k] for k in before)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_flush_finds_the_first_bad_loss_and_restores_the_best(blobs, bad):
    model = net(normalization="batchnorm")
    solver = make(blobs, model=model)
    best = {k: v.copy() for k, v in model.params.items()}
    model.params = {k: v + 1 for k, v in model.params.items()}
    solver._pending_losses = [np.asarray(1.5), np.asarray(bad), np.asarray(2.0)]
    with pytest.raises(TrainingDiverged, match=rf"loss became {bad} at iteration 2"):
        solver._flush_losses()
    assert solver.loss_history == [1.5]
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, best[name])


def test_losses_still_check_labels_outside_the_solver():
    scores = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"labels in y must lie in \[0, 3\)"):
        softmax_loss(scores, np.array([0, 3]))


def test_failed_step_inside_train_keeps_the_params_of_the_step_before(blobs):
    calls = []

    def fails_on_call_20(w, dw, config):
        calls.append(1)
        if len(calls) == 20:
            raise RuntimeError("update failed (simulated)")
        return w - 0.1 * dw, config

    model = net(normalization="batchnorm")
    solver = make(blobs, model=model, update_rule=fails_on_call_20, batch_size=8,
                  print_every=1000)
    snapshots = []
    original_step = solver._step

    def step(indices):
        snapshots.append(({k: v.copy() for k, v in model.params.items()},
                          {k: v.copy() for k, v in model.state().items()}))
        original_step(indices)

    solver._step = step
    with pytest.raises(RuntimeError, match="simulated"):
        solver.train()
    params, state = snapshots[-1]  # as they were when the failing step began
    for name, value in params.items():
        np.testing.assert_array_equal(model.params[name], value)
    for name, value in state.items():
        np.testing.assert_array_equal(model.state()[name], value)
    assert len(solver.loss_history) == len(snapshots) - 1  # the steps that completed
