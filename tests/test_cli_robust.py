"""The command line never loses a run: paths checked first, one-line errors, --resume."""

from __future__ import annotations

import json
import os

import pytest

from xplayers.cli import main
from xplayers.training import command as train_command

FAST = ["--dataset", "synthetic", "--hidden-dims", "16", "--batch-size", "32", "--device",
        "cpu"]


def run(capsys, *args):
    status = main(["train", *FAST, *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def assert_one_line_error(err, option):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"xplayers train: error: {option}"), err
    assert "Traceback" not in err and ".tmp" not in err


def bad_option_cases(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    return {
        "--seed": ["--seed", "-1"],
        # Missing folders are made; a folder that cannot be (under a file) is refused.
        "--save": ["--save", str(text / "m.npz")],
        "--report": ["--report", str(tmp_path)],
        "--plot": ["--plot", str(text / "such" / "curves.png")],
        "--checkpoint": ["--checkpoint", str(text / "run")],
        "--resume": ["--resume", str(tmp_path / "missing.npz")],
        "--resume ": ["--resume", str(tmp_path)],
        "--resume  ": ["--resume", str(text)],
        "--epochs": ["--epochs", "0"],
        "--batch-size": ["--batch-size", "0"],
        "--lr": ["--lr", "-1"],
        "--lr-decay": ["--lr-decay", "nan"],
        "--dropout": ["--dropout", "1"],
        "--reg": ["--reg", "-0.1"],
        "--hidden-dims": ["--hidden-dims", "0"],
    }


@pytest.mark.parametrize("option", list(bad_option_cases(__import__("pathlib").Path("/"))))
def test_bad_options_fail_before_training_on_one_line(tmp_path, capsys, monkeypatch, option):
    started = []
    monkeypatch.setattr(train_command, "run_training", lambda *a, **k: started.append(1))
    status, out, err = run(capsys, *bad_option_cases(tmp_path)[option])
    assert status == 2
    assert_one_line_error(err, option.strip())
    assert started == [] and out == ""


def test_seed_message_names_the_option(capsys):
    status, _, err = run(capsys, "--seed", "-1")
    assert status == 2
    assert "--seed must be a non-negative integer, got -1" in err


def test_resume_from_a_plain_model_names_the_option(tmp_path, capsys):
    from xplayers.models import TwoLayerNet

    path = tmp_path / "m.npz"
    TwoLayerNet(3, 2, 2, seed=0).save(path)
    status, _, err = run(capsys, "--resume", str(path), "--quiet")
    assert status == 2
    assert_one_line_error(err, "--resume")
    assert "holds no training settings" in err


def test_failed_save_is_one_line_without_temporary_names(tmp_path, capsys, monkeypatch):
    from xplayers.checkpoint import format as checkpoint_format

    def refuse(path, write, binary=True):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".m.npz.x1y2.tmp"))

    monkeypatch.setattr(checkpoint_format, "atomic_write", refuse)
    status, out, err = run(capsys, "--epochs", "1", "--quiet", "--save", str(tmp_path / "m.npz"))
    assert status == 2
    assert_one_line_error(err, "--save")
    assert "Permission denied" in err and "final loss" in out


@pytest.mark.slow
def test_resumed_command_line_run_equals_the_uninterrupted_one(tmp_path, capsys):
    whole, part = tmp_path / "whole.json", tmp_path / "part.json"
    common = ["--quiet", "--optimizer", "adam", "--normalization", "batchnorm", "--seed", "4",
              "--dropout", "0.2"]
    assert run(capsys, *common, "--epochs", "3", "--report", str(whole))[0] == 0
    assert run(capsys, *common, "--epochs", "1", "--checkpoint", str(tmp_path / "run"))[0] == 0
    assert sorted(os.listdir(tmp_path)) == ["run_epoch_1.npz", "whole.json"]
    status, _, err = main(["train", "--resume", str(tmp_path / "run_epoch_1.npz"),
                             "--epochs", "3", "--device", "cpu", "--quiet",
                             "--report", str(part)]), *capsys.readouterr()
    assert status == 0, err
    expected, resumed = json.loads(whole.read_text()), json.loads(part.read_text())
    for key in ("loss_history", "val_acc_history", "train_acc_history", "val_loss_history",
                "train_accuracy", "val_accuracy", "test_accuracy", "final_loss"):
        assert resumed[key] == expected[key], key


def test_evaluate_a_checkpoint_reports_the_validation_loss(tmp_path, capsys):
    prefix = str(tmp_path / "run")
    assert run(capsys, "--quiet", "--epochs", "1", "--checkpoint", prefix)[0] == 0
    assert main(["evaluate", f"{prefix}_epoch_1.npz", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "on synthetic" in out and "val loss" in out


def test_evaluate_on_a_data_set_the_model_does_not_fit_is_one_clear_error(tmp_path, capsys):
    pytest.importorskip("sklearn")  # the digits data
    path = str(tmp_path / "model.npz")
    assert run(capsys, "--quiet", "--epochs", "1", "--save", path)[0] == 0
    assert main(["evaluate", path, "--dataset", "digits", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"xplayers evaluate: error: {path} holds a model for inputs of 2, but the digits data "
        "set has examples of shape (64,); pass the --dataset it was trained on")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_help_shows_defaults_but_never_none(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in out
    assert command == "evaluate" or "(default: auto)" in out  # other defaults still shown


def test_resume_refuses_settings_it_would_ignore(tmp_path, capsys, monkeypatch):
    assert run(capsys, "--quiet", "--epochs", "1", "--checkpoint", str(tmp_path / "run"))[0] == 0
    started = []
    monkeypatch.setattr(train_command, "run_training", lambda *a, **k: started.append(1))
    # These used to be dropped silently: the run went on with the checkpoint's settings.
    status = main(["train", "--resume", str(tmp_path / "run_epoch_1.npz"), "--lr", "0.1",
                   "--seed", "3", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and started == []
    assert_one_line_error(err, "--resume")
    assert "drop --lr, --seed (only --epochs, --device and the output options apply)" in err
