"""Resumable training: k epochs, save, resume, N - k more equals N epochs in one go."""

# The course seeds NumPy's global state; these tests check the Solver honours it.
# ruff: noqa: NPY002

from __future__ import annotations

import numpy as np
import pytest

from xplayers.data import make_blobs
from xplayers.models import FullyConnectedNet, load_model
from xplayers.solver import Solver


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(num_classes=4, num_per_class=60, dim=5, seed=0)


def batchnorm_net(dropout=0.0):
    return FullyConnectedNet([16, 8], input_dim=5, num_classes=4, weight_scale=0.1,
                             normalization="batchnorm", reg=1e-3, init_seed=0,
                             dropout=dropout, dropout_seed=7 if dropout else None)


SETTINGS = {"optim_config": {"learning_rate": 1e-2}, "lr_decay": 0.9, "batch_size": 16,
            "num_train_samples": 50, "num_val_samples": 40, "verbose": False, "device": "cpu"}


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("rule", ["adam", "sgd_momentum", "rmsprop"])
@pytest.mark.parametrize("seed", [3, None])
def test_resumed_run_equals_uninterrupted_run(blobs, tmp_path, rule, seed, dropout):
    np.random.seed(231)  # the unseeded Solver draws its order from the global state
    whole = Solver(batchnorm_net(dropout), blobs, update_rule=rule, num_epochs=4, seed=seed,
                   **SETTINGS)
    whole.train()

    np.random.seed(231)
    first = Solver(batchnorm_net(dropout), blobs, update_rule=rule, num_epochs=4, seed=seed,
                   checkpoint_name=str(tmp_path / "run"), **SETTINGS)
    stop = RuntimeError("interrupted after epoch 2 (simulated)")

    def interrupt(solver):
        if solver.epoch == 2:
            raise stop

    first.epoch_callback = interrupt
    with pytest.raises(RuntimeError, match="simulated"):
        first.train()
    np.random.seed(0)  # resuming must not depend on the global state any more
    resumed = Solver.from_checkpoint(tmp_path / "run_epoch_2.npz", blobs, verbose=False,
                                     checkpoint_name=None)
    assert resumed.epoch == 2 and resumed.num_epochs == 4
    resumed.train()

    assert resumed.loss_history == whole.loss_history
    assert resumed.val_acc_history == whole.val_acc_history
    assert resumed.train_acc_history == whole.train_acc_history
    assert resumed.val_loss_history == whole.val_loss_history
    assert resumed.best_val_acc == whole.best_val_acc
    for name, value in whole.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value, err_msg=name)
    assert set(resumed.model.state()) == set(whole.model.state()) != set()
    for name, value in whole.model.state().items():
        np.testing.assert_array_equal(resumed.model.state()[name], value, err_msg=name)
    for name, config in whole.optim_configs.items():
        for key, value in config.items():
            np.testing.assert_array_equal(resumed.optim_configs[name][key], value)


def test_checkpoint_keeps_course_names_and_loads_as_a_model(blobs, tmp_path):
    solver = Solver(batchnorm_net(), blobs, update_rule="adam", num_epochs=1, seed=0,
                    checkpoint_name=str(tmp_path / "run"), **SETTINGS)
    solver.train()
    model = load_model(tmp_path / "run_epoch_1.npz", "cpu")
    extra = model.checkpoint_extra
    assert extra["epoch"] == 1 and extra["update_rule"] == "adam"
    assert extra["solver"]["optim_scalars"]["W1"]["t"] == len(solver.loss_history)


def test_resume_from_a_plain_model_file_is_a_clear_error(blobs, tmp_path):
    path = tmp_path / "model.npz"
    batchnorm_net().save(path)
    with pytest.raises(ValueError, match="no training state"):
        Solver.from_checkpoint(path, blobs)


def test_resume_needs_enough_epochs(blobs, tmp_path):
    solver = Solver(batchnorm_net(), blobs, num_epochs=2, seed=0,
                    checkpoint_name=str(tmp_path / "run"), **SETTINGS)
    solver.train()
    with pytest.raises(ValueError, match=r"num_epochs \(1\) is below the checkpoint's epoch 2"):
        Solver.from_checkpoint(tmp_path / "run_epoch_2.npz", blobs, num_epochs=1)
    longer = Solver.from_checkpoint(tmp_path / "run_epoch_2.npz", blobs, num_epochs=3)
    longer.train()
    assert len(longer.val_acc_history) == 4


def test_custom_update_rule_is_saved_and_must_be_passed_again(blobs, tmp_path):
    def plain_sgd(w, dw, config):
        return w - 1e-2 * dw, config

    solver = Solver(batchnorm_net(), blobs, update_rule=plain_sgd, num_epochs=1, seed=0,
                    checkpoint_name=str(tmp_path / "run"), **SETTINGS)
    solver.train()
    path = tmp_path / "run_epoch_1.npz"
    with pytest.raises(ValueError, match=r"custom update rule.*update_rule="):
        Solver.from_checkpoint(path, blobs)
    resumed = Solver.from_checkpoint(path, blobs, update_rule=plain_sgd, num_epochs=2)
    resumed.train()
    assert resumed.epoch == 2


def test_unseeded_order_follows_numpys_global_seed(blobs):
    runs = []
    for global_seed in (231, 231, 7):
        np.random.seed(global_seed)
        solver = Solver(batchnorm_net(), blobs, num_epochs=1, **SETTINGS)
        solver.train()
        runs.append(solver.loss_history)
    assert runs[0] == runs[1] != runs[2]


def test_seeded_solver_leaves_global_state_alone(blobs):
    np.random.seed(5)
    expected = np.random.random()
    np.random.seed(5)
    Solver(batchnorm_net(), blobs, num_epochs=1, seed=1, **SETTINGS).train()
    assert np.random.random() == expected


def test_failed_checkpoint_save_leaves_the_old_file(blobs, tmp_path, monkeypatch):
    solver = Solver(batchnorm_net(), blobs, update_rule="adam", num_epochs=2, seed=0,
                    **SETTINGS)
    path = tmp_path / "run.npz"
    solver.save_checkpoint(path)
    before = path.read_bytes()
    solver.train()

    def broken_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="simulated"):
        solver.save_checkpoint(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    assert Solver.from_checkpoint(path, blobs).epoch == 0


def rewritten(path, out, change_info=None, change_entries=None):
    """A copy of checkpoint ``path`` with its solver info or arrays changed."""
    import json

    from xplayers.models.checkpoint import read_archive

    meta, entries = read_archive(path)
    if change_info:
        change_info(meta["extra"]["solver"])
    if change_entries:
        change_entries(entries)
    np.savez(out, __meta__=np.array(json.dumps(meta)), **entries)
    return out


def set_key(key, value):
    return lambda info: info.__setitem__(key, value)


STATE_CASES = {
    "negative epoch": (set_key("epoch", -1), None, "epoch -1"),
    "epoch as text": (set_key("epoch", "2"), None, "epoch '2'"),
    "history too short": (set_key("val_acc_history", [0.5]), None, "1 validation accurac"),
    "history of text": (set_key("loss_history", ["x"]), None, "loss_history that is not"),
    "settings missing": (set_key("settings", {}), None, "needs the settings"),
    "best acc nan": (set_key("best_val_acc", float("nan")), None, "best_val_acc nan"),
    "rng not pcg64": (set_key("rng_state", {"bit_generator": "MT19937"}), None, "PCG64"),
    "rng garbage": (set_key("rng_state", {"bit_generator": "PCG64", "state": 3}), None,
                    "bad generator state"),
    "optim scalars missing": (set_key("optim_scalars", {}), None, "optimizer settings"),
    "dropout state wrong length": (set_key("model_random_state", [None] * 5), None,
                                   "dropout generator state"),
    "optim entry for no param": (None, lambda e: e.__setitem__("optim/W9/m", e["param/W1"]),
                                 "'optim/W9/m' for no parameter"),
    "optim entry misshapen": (None, lambda e: e.__setitem__("optim/W1/m", e["param/b1"]),
                              "optimizer state do not match"),
    "best param missing": (None, lambda e: e.pop("best/W1"), r"best parameters .*missing"),
    "best stat misshapen": (None, lambda e: e.__setitem__("best_state/running_mean1",
                                                          np.ones(3, np.float32)),
                            "best running statistics"),
}


@pytest.mark.parametrize("case", STATE_CASES)
def test_damaged_training_state_is_a_clear_error(blobs, tmp_path, case):
    change_info, change_entries, message = STATE_CASES[case]
    solver = Solver(batchnorm_net(0.2), blobs, update_rule="adam", num_epochs=1, seed=0,
                    checkpoint_name=str(tmp_path / "run"), **SETTINGS)
    solver.train()
    bad = rewritten(tmp_path / "run_epoch_1.npz", tmp_path / "bad.npz", change_info,
                    change_entries)
    with pytest.raises(ValueError, match=message) as info:
        Solver.from_checkpoint(bad, blobs, num_epochs=2)
    assert str(bad) in str(info.value)


def test_numpy_checkpoint_resumes_on_another_backend(blobs, tmp_path, monkeypatch):
    """Saved from NumPy, resumed with model and data on array_api_strict's second device:
    the same numbers bit for bit (array_api_strict computes with NumPy underneath)."""
    strict = pytest.importorskip("array_api_strict")
    from xplayers import to_numpy
    from xplayers.models import Model
    from xplayers.training import batches as _sampling

    whole = Solver(batchnorm_net(0.2), blobs, update_rule="adam", num_epochs=3, seed=1,
                   **SETTINGS)
    whole.train()
    first = Solver(batchnorm_net(0.2), blobs, update_rule="adam", num_epochs=1, seed=1,
                   checkpoint_name=str(tmp_path / "run"), **SETTINGS)
    first.train()

    device = strict.Device("device1")

    def to_strict(x, target=None):
        return strict.asarray(x, device=device) if isinstance(x, np.ndarray) else x

    def onto_strict(model, target=None):
        model.params = {k: to_strict(v) for k, v in model.params.items()}
        model.load_state({k: to_strict(v) for k, v in model.state().items()})
        return model

    monkeypatch.setattr(_sampling, "to_device", to_strict)
    monkeypatch.setattr(Model, "to", onto_strict)
    resumed = Solver.from_checkpoint(tmp_path / "run_epoch_1.npz", blobs, num_epochs=3)
    assert all(isinstance(v, strict._array_object.Array) for v in resumed.best_params.values())
    resumed.train()
    np.testing.assert_array_equal(resumed.loss_history, whole.loss_history)
    assert resumed.val_acc_history == whole.val_acc_history
    for name, value in whole.model.params.items():
        np.testing.assert_array_equal(to_numpy(resumed.model.params[name]), value,
                                      err_msg=name)
