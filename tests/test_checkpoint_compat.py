"""Checkpoints written by earlier releases load, and resume bit for bit.

The files under ``tests/fixtures/checkpoints_v1/`` were written by the code of commit
fb8365c (see ``make_fixtures.py`` there), with what that code computed from them in
``expected.npz``. The setups below must match those in ``make_fixtures.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xplayers.cli import main as cli_main
from xplayers.models import load_model
from xplayers.models.checkpoint import read_archive
from xplayers.solver import Solver

V1 = Path(__file__).resolve().parent / "fixtures" / "checkpoints_v1"
MODEL_FILES = sorted(p.stem[len("model_"):] for p in V1.glob("model_*.npz"))
SOLVER_FILES = sorted(p.stem[len("solver_"):-len("_epoch_2")]
                      for p in V1.glob("solver_*_epoch_2.npz"))
HISTORIES = ("loss_history", "train_acc_history", "val_acc_history", "val_loss_history")


@pytest.fixture(scope="module")
def expected():
    with np.load(V1 / "expected.npz", allow_pickle=False) as stored:
        return dict(stored)


def split(expected, kind):
    return {k.split("/", 1)[1]: v for k, v in expected.items()
            if k.startswith(f"{kind}/") and k.count("/") == 1}


def kind_of(name):
    return "image" if name.startswith("conv") else "flat"


def test_every_kind_of_file_is_there():
    assert len(MODEL_FILES) == 7 and len(SOLVER_FILES) == 5
    assert (V1 / "cli_run_epoch_1.npz").is_file() and (V1 / "cli_model.npz").is_file()


@pytest.mark.parametrize("name", MODEL_FILES)
def test_model_file_loads_and_scores_as_before(name, expected):
    model = load_model(V1 / f"model_{name}.npz", device="cpu")
    want = expected[f"model_{name}/scores"]
    X = expected[f"{kind_of(name)}/X_train"].astype(model.dtype)
    scores = model.loss(X)
    assert scores.dtype == want.dtype
    np.testing.assert_array_equal(scores, want)
    assert model.checkpoint_extra == {"note": name}


@pytest.mark.parametrize("name", SOLVER_FILES)
def test_solver_checkpoint_resumes_bit_for_bit(name, expected, tmp_path):
    prefix = f"solver_{name}"
    shutil.copy(V1 / f"{prefix}_epoch_2.npz", tmp_path)
    seen = []
    solver = Solver.from_checkpoint(
        tmp_path / f"{prefix}_epoch_2.npz", split(expected, kind_of(name)), verbose=False,
        device="cpu", epoch_callback=lambda s: seen.append(
            {k: np.array(v) for k, v in s.model.params.items()}))
    assert solver.epoch == 2 and solver.num_epochs == 4
    solver.train()

    assert len(seen) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{prefix}_epoch_{epoch}.npz" for epoch in (2, 3, 4)]
    for epoch, params in zip((3, 4), seen, strict=True):
        for key, value in params.items():
            np.testing.assert_array_equal(value, expected[f"{prefix}/epoch_{epoch}/{key}"],
                                          err_msg=f"{key} after epoch {epoch}")
            assert value.dtype == expected[f"{prefix}/epoch_{epoch}/{key}"].dtype
    for key, value in solver.model.params.items():
        np.testing.assert_array_equal(value, expected[f"{prefix}/final/{key}"])
    for key in HISTORIES:
        assert getattr(solver, key) == expected[f"{prefix}/{key}"].tolist(), key
    optim = {k[len(prefix) + len("/optim/"):]: v for k, v in expected.items()
             if k.startswith(f"{prefix}/optim/")}
    assert optim
    for entry, value in optim.items():
        param, key = entry.split("/")
        np.testing.assert_array_equal(solver.optim_configs[param][key], value,
                                      err_msg=entry)


def test_cli_checkpoint_resumes_bit_for_bit(expected, tmp_path):
    checkpoint = tmp_path / "cli_run_epoch_1.npz"
    shutil.copy(V1 / "cli_run_epoch_1.npz", checkpoint)
    status = cli_main(["train", "--resume", str(checkpoint), "--device", "cpu", "--quiet",
                       "--save", str(tmp_path / "model.npz"),
                       "--report", str(tmp_path / "report.json")])
    assert status == 0
    assert sorted(p.name for p in tmp_path.glob("cli_run_*")) == [
        f"cli_run_epoch_{n}.npz" for n in (1, 2, 3)]
    report = json.loads((tmp_path / "report.json").read_text())
    for key in (*HISTORIES, "train_accuracy", "val_accuracy", "test_accuracy",
                "final_loss"):
        assert np.array(report[key]).tolist() == expected[f"cli/{key}"].tolist(), key
    old_meta, old = read_archive(V1 / "cli_model.npz")
    new_meta, new = read_archive(tmp_path / "model.npz")
    assert sorted(old) == sorted(new)
    for key, value in old.items():
        np.testing.assert_array_equal(new[key], value, err_msg=key)
        assert new[key].dtype == value.dtype
    assert new_meta["config"] == old_meta["config"]
    assert new_meta["extra"]["dataset"] == old_meta["extra"]["dataset"] == "synthetic"


def test_cli_saved_model_evaluates(capsys):
    status = cli_main(["evaluate", str(V1 / "cli_model.npz"), "--device", "cpu"])
    assert status == 0
    out = capsys.readouterr().out
    assert "on synthetic" in out
    assert f"test accuracy {expected_cli_test():.4f}" in out


def expected_cli_test():
    with np.load(V1 / "expected.npz", allow_pickle=False) as stored:
        return float(stored["cli/test_accuracy"])
