"""The Solver: real training runs, histories, the NaN guard, atomic steps and arguments."""

from __future__ import annotations

import numpy as np
import pytest

import xplayers
import xplayers.backend.devices
from xplayers.data import load_digits, make_blobs
from xplayers.models import FullyConnectedNet, TwoLayerNet, load_model
from xplayers.optim import OPTIMIZERS, optimizer_names
from xplayers.solver import Solver, TrainingDiverged


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(num_classes=4, num_per_class=60, dim=5, seed=0)


def small_net(data, **kwargs):
    return FullyConnectedNet([16], input_dim=data["X_train"].shape[1], num_classes=4,
                             weight_scale=0.1, init_seed=0, **kwargs)


def test_training_rises_well_above_chance(blobs):
    model = small_net(blobs, normalization="batchnorm")
    solver = Solver(model, blobs, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    num_epochs=5, batch_size=16, verbose=False, device="cpu", seed=0)
    solver.train()
    assert solver.val_acc_history[0] < 0.6
    assert solver.best_val_acc > 0.9
    assert solver.check_accuracy(blobs["X_test"], blobs["y_test"]) > 0.9
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 6
    assert all(type(v) is float for v in solver.loss_history + solver.val_acc_history)
    assert len(solver.loss_history) == 5 * (blobs["X_train"].shape[0] // 16)
    assert solver.loss_history[-1] < solver.loss_history[0]


@pytest.mark.slow
def test_digits_reach_high_test_accuracy():
    pytest.importorskip("sklearn")  # the digits data set
    data = load_digits(seed=0)
    model = FullyConnectedNet([64], input_dim=64, num_classes=10, weight_scale=0.05,
                              normalization="batchnorm", init_seed=0)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 2e-3},
                    num_epochs=10, batch_size=64, verbose=False, device="cpu", seed=0)
    solver.train()
    assert solver.check_accuracy(data["X_test"], data["y_test"]) > 0.9


def test_model_ends_with_best_parameters(blobs):
    model = small_net(blobs)
    solver = Solver(model, blobs, update_rule="sgd", optim_config={"learning_rate": 0.05},
                    num_epochs=3, batch_size=20, verbose=False, device="cpu", seed=1)
    solver.train()
    for name, value in solver.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert solver.check_accuracy(blobs["X_val"], blobs["y_val"]) == pytest.approx(
        solver.best_val_acc)


def test_same_seed_same_run(blobs):
    histories = []
    for _ in range(2):
        solver = Solver(small_net(blobs), blobs, update_rule="sgd_momentum", num_epochs=2,
                        batch_size=32, verbose=False, device="cpu", seed=5)
        solver.train()
        histories.append(solver.loss_history)
    assert histories[0] == histories[1]


def test_learning_rate_decays_each_epoch(blobs):
    solver = Solver(small_net(blobs), blobs, optim_config={"learning_rate": 0.1},
                    lr_decay=0.5, num_epochs=3, verbose=False, device="cpu")
    solver.train()
    assert all(c["learning_rate"] == pytest.approx(0.0125)
               for c in solver.optim_configs.values())
    assert solver.optim_config == {"learning_rate": 0.1}


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_nan_loss_stops_with_clear_error_and_keeps_best(blobs):
    model = small_net(blobs, normalization="batchnorm")
    solver = Solver(model, blobs, update_rule="sgd", optim_config={"learning_rate": 1e30},
                    num_epochs=3, batch_size=16, verbose=False, device="cpu", seed=0)
    initial = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf).*smaller learning rate"):
        solver.train()
    for name, value in model.params.items():
        assert np.all(np.isfinite(value)), name
        np.testing.assert_array_equal(value, initial[name])
    assert all(np.all(np.isfinite(v)) for v in model.state().values())


def test_failed_step_leaves_params_and_running_stats_as_they_were(blobs):
    model = small_net(blobs, normalization="batchnorm")
    calls = []

    def flaky(w, dw, config):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("update failed (simulated)")
        return w - 0.1 * dw, config

    solver = Solver(model, blobs, update_rule=flaky, num_epochs=1, verbose=False,
                    device="cpu")
    before = dict(model.params)
    with pytest.raises(RuntimeError, match="simulated"):
        solver._step(solver.sampler.epoch()[0])
    assert all(model.params[k] is before[k] for k in before)
    assert solver.loss_history == []


def test_checkpoints_each_epoch(blobs, tmp_path):
    solver = Solver(small_net(blobs), blobs, num_epochs=2, verbose=False, device="cpu",
                    checkpoint_name=str(tmp_path / "run"))
    solver.train()
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["run_epoch_1.npz", "run_epoch_2.npz"]
    loaded = load_model(tmp_path / "run_epoch_2.npz", "cpu")
    assert loaded.checkpoint_extra["epoch"] == 2
    assert len(loaded.checkpoint_extra["val_acc_history"]) == 3


def test_verbose_prints_progress(blobs, capsys):
    solver = Solver(small_net(blobs), blobs, num_epochs=1, batch_size=16, print_every=5,
                    verbose=True, device="cpu")
    solver.train()
    out = capsys.readouterr()
    text = out.out + out.err
    assert "(Iteration 5 /" in text and "(Epoch 1 / 1) train acc:" in text


def test_check_accuracy_subsample(blobs):
    model = small_net(blobs)
    solver = Solver(model, blobs, verbose=False, device="cpu", seed=0)
    full = solver.check_accuracy(blobs["X_train"], blobs["y_train"])
    expected = float(np.mean(np.argmax(model.loss(blobs["X_train"]), axis=1)
                             == blobs["y_train"]))
    assert full == pytest.approx(expected)
    part = solver.check_accuracy(blobs["X_train"], blobs["y_train"], num_samples=10)
    assert part * 10 == pytest.approx(round(part * 10))


def test_two_layer_net_trains(blobs):
    model = TwoLayerNet(5, 20, 4, weight_scale=0.1, seed=0)
    solver = Solver(model, blobs, update_rule="rmsprop", optim_config={"learning_rate": 1e-2},
                    num_epochs=4, batch_size=16, verbose=False, device="cpu", seed=0)
    solver.train()
    assert solver.best_val_acc > 0.9


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    # An explicit signature (issue 9): Python itself names the misspelt keyword.
    ({"batch_sise": 10}, TypeError, r"unexpected keyword argument 'batch_sise'"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
    ({"update_rule": "lbfgs"}, ValueError, "lbfgs"),
    ({"device": "tpu"}, ValueError, "device must be one of"),
])
def test_bad_arguments(blobs, kwargs, error, message):
    with pytest.raises(error, match=message):
        Solver(small_net(blobs), blobs, verbose=False, **kwargs)


def test_missing_data_is_named(blobs):
    data = {k: v for k, v in blobs.items() if k != "y_val"}
    with pytest.raises(ValueError, match=r"data is missing \['y_val'\]"):
        Solver(small_net(blobs), data, verbose=False, device="cpu")


def test_cuda_without_gpu_is_an_error(blobs, monkeypatch):
    monkeypatch.setattr(xplayers.backend.devices, "cuda_status", lambda: (False, "no GPU (test)"))
    model = small_net(blobs)
    with pytest.raises(RuntimeError, match="no GPU"):
        Solver(model, blobs, verbose=False, device="cuda")
    assert model.device == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not xplayers.cuda_available(), reason="no usable GPU")
def test_training_on_gpu_matches_the_cpu_run(blobs):
    import cupy

    results = {}
    for device in ("cpu", "cuda"):
        model = small_net(blobs, normalization="batchnorm")
        solver = Solver(model, blobs, update_rule="adam", num_epochs=3, batch_size=16,
                        verbose=False, device=device, seed=0)
        solver.train()
        results[device] = solver
    gpu = results["cuda"]
    assert isinstance(gpu.model.params["W1"], cupy.ndarray)
    assert isinstance(gpu.train_data.X, cupy.ndarray)  # moved to the device once
    assert gpu.best_val_acc > 0.9 and results["cpu"].best_val_acc > 0.9


def test_streamed_data_trains_like_resident_data(blobs, monkeypatch):
    from xplayers.training import batches as _sampling

    histories = []
    for resident in (True, False):
        monkeypatch.setattr(_sampling, "fits_on_device", lambda arrays, device, r=resident: r)
        solver = Solver(small_net(blobs), blobs, update_rule="adam", num_epochs=2,
                        batch_size=16, verbose=False, device="cpu", seed=3)
        assert solver.train_data.resident is resident
        solver.train()
        histories.append((solver.loss_history, solver.val_acc_history))
    assert histories[0] == histories[1]


def test_failed_forward_leaves_running_stats_as_they_were(blobs):
    model = small_net(blobs, normalization="batchnorm")
    solver = Solver(model, blobs, num_epochs=1, verbose=False, device="cpu", seed=0)
    solver._step(solver.sampler.epoch()[0])
    before = model.state()
    bad = {**blobs, "y_train": np.full_like(blobs["y_train"], 7)}  # labels outside [0, 4)
    solver.train_data = type(solver.train_data)(bad["X_train"], bad["y_train"], "cpu")
    with pytest.raises(ValueError, match=r"labels in y must lie in \[0, 4\)"):
        solver._step(solver.sampler.epoch()[0])
    after = model.state()
    assert all(after[k] is before[k] for k in before)


def test_best_params_survive_an_update_rule_that_works_in_place(blobs):
    def sgd_in_place(w, dw, config):  # the course's sgd: w -= lr * dw
        w -= config.get("learning_rate", 1e-2) * dw
        return w, config

    model = small_net(blobs)
    initial = {k: v.copy() for k, v in model.params.items()}
    solver = Solver(model, blobs, update_rule=sgd_in_place, optim_config={"learning_rate": 1e6},
                    num_epochs=2, batch_size=16, verbose=False, device="cpu", seed=0)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged):
        solver.train()
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, initial[name])


def test_failed_update_leaves_running_stats_as_they_were(blobs):
    model = small_net(blobs, normalization="batchnorm")

    def broken(w, dw, config):
        raise RuntimeError("update failed (simulated)")

    solver = Solver(model, blobs, update_rule=broken, num_epochs=1, verbose=False,
                    device="cpu")
    model.loss(blobs["X_train"][:8], blobs["y_train"][:8])
    before = model.state()
    with pytest.raises(RuntimeError, match="simulated"):
        solver._step(solver.sampler.epoch()[0])
    assert all(model.state()[k] is before[k] for k in before)


def test_bad_data_leaves_the_model_where_it_was(blobs, monkeypatch):
    moved = []
    model = small_net(blobs)
    monkeypatch.setattr(model, "to", lambda device: moved.append(device))
    bad = {**blobs, "y_train": blobs["y_train"][:-1]}
    with pytest.raises(ValueError, match="rows but y has"):
        Solver(model, bad, verbose=False, device="cpu")
    assert moved == []



@pytest.mark.parametrize("rule", optimizer_names())
def test_every_registered_rule_steps_as_one_call_per_parameter(blobs, rule):
    # The Solver updates all parameters with one update_all call (one launch per step on
    # CuPy); the numbers are those of the rule applied to each parameter in turn.
    solver = Solver(small_net(blobs), blobs, update_rule=rule, num_epochs=1, batch_size=16,
                    optim_config={"learning_rate": 1e-2}, verbose=False, device="cpu", seed=0)
    model = small_net(blobs)
    configs = {name: {"learning_rate": 1e-2} for name in model.params}
    for step in range(3):
        indices = np.arange(16 * step, 16 * (step + 1))
        solver._step(indices)
        _, grads = model.loss(blobs["X_train"][indices], blobs["y_train"][indices])
        for name, w in model.params.items():
            model.params[name], configs[name] = OPTIMIZERS[rule](w, grads[name], configs[name])
    for name, w in model.params.items():
        assert solver.model.params[name].tobytes() == w.tobytes(), name
