"""A newcomer's first hour on the command line (issue 19): folders made, missing packages
named with their extra before any work, help for every option, the train parser answering
its own typos, messages in the command line's words, and quiet redirected output."""

from __future__ import annotations

import argparse
import importlib.util
import json
import warnings
from types import SimpleNamespace

import pytest

from xplayers.cli import build_parser, main
from xplayers.sweep import results as sweep_results
from xplayers.sweep import runner as sweep_runner
from xplayers.sweep.space import DEFAULT_SPACE, Range
from xplayers.training import command as train_command
from xplayers.training import solver as solver_module

FAST = ["--dataset", "synthetic", "--hidden-dims", "16", "--batch-size", "32", "--device",
        "cpu"]


def _no(module_name, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == module_name else real(name, *a))


def _never_train(monkeypatch):
    started = []
    monkeypatch.setattr(train_command, "run_training", lambda *a, **k: started.append(1))
    return started


def test_output_folders_are_made(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = main(["train", *FAST, "--epochs", "1", "--quiet", "--save", "models/a/m.npz",
                   "--report", "reports/r.json", "--checkpoint", "runs/a"])
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "models" / "a" / "m.npz").is_file()
    assert json.loads((tmp_path / "reports" / "r.json").read_text())["interrupted"] is False
    assert (tmp_path / "runs" / "a_epoch_1.npz").is_file()


@pytest.mark.parametrize(("argv", "missing", "expected"), [
    (["train", *FAST, "--plot", "c.png"], "matplotlib",
     '--plot needs matplotlib, which is not installed: pip install "xplayers[plot]"'),
    (["train", "--dataset", "digits", "--device", "cpu"], "sklearn",
     "the digits data set (--dataset digits) needs scikit-learn, which is not installed: "
     'pip install "xplayers[data]"'),
    (["sweep", "--dataset", "synthetic"], "optuna",
     'xplayers sweep needs Optuna, which is not installed: pip install "xplayers[sweep]"'),
])
def test_optional_packages_are_checked_before_any_work(tmp_path, capsys, monkeypatch, argv,
                                                       missing, expected):
    monkeypatch.chdir(tmp_path)
    started = _never_train(monkeypatch)
    _no(missing, monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"xplayers {argv[0]}: error: {expected}"
    assert started == [] and not (tmp_path / "sweep").exists()


def test_every_option_has_help_and_its_default(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"xplayers {name} {action.option_strings}: no help text"
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for action in command._actions:
            if action.default not in (None, False, argparse.SUPPRESS, []) and action.help:
                shown = action.default if not isinstance(action.default, list) else None
                if shown is not None:
                    assert f"(default: {shown})" in text, (name, action.option_strings)


def test_normalization_help_and_value_say_none(capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--normalization {none,batchnorm,layernorm}" in capsys.readouterr().out
    seen = []
    monkeypatch.setattr(train_command, "run_training",
                        lambda config, **k: seen.append(config.normalization) or 1 / 0)
    main(["train", *FAST, "--normalization", "None", "--quiet"])
    assert seen == [None]


def test_a_mistyped_train_option_gets_the_train_usage(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--epocs", "5"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: xplayers train ")
    assert ("xplayers train: error: unrecognized arguments: --epocs 5 (did you mean "
            "--epochs?)") in err


def test_resume_messages_speak_of_options_and_count_what_ran(tmp_path, capsys):
    prefix = str(tmp_path / "run")
    assert main(["train", *FAST, "--epochs", "2", "--quiet", "--checkpoint", prefix]) == 0
    out = capsys.readouterr().out
    assert "device cpu: 2 epochs in " in out
    assert main(["train", "--resume", f"{prefix}_epoch_2.npz", "--epochs", "1",
                 "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--epochs 1 is below the 2 epochs" in err and "num_epochs" not in err
    assert main(["train", "--resume", f"{prefix}_epoch_1.npz", "--epochs", "2",
                 "--device", "cpu", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "device cpu: 1 epoch (epochs 2-2, resumed) in " in out


def test_summary_names_the_best_epoch_and_output_has_no_carriage_returns(tmp_path, capsys):
    assert main(["train", *FAST, "--epochs", "3", "--report", str(tmp_path / "r.json")]) == 0
    captured = capsys.readouterr()  # not a terminal: no progress bar
    assert "\r" not in captured.out + captured.err
    report = json.loads((tmp_path / "r.json").read_text())
    best = report["best_epoch"]
    assert best == report["val_acc_history"].index(max(report["val_acc_history"]))
    assert f"best epoch {best} of 3 kept: accuracy train " in captured.out


def test_data_dir_message_names_the_option(tmp_path, capsys):
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(tmp_path),
                 "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "as --data-dir" in err and "as root" not in err


def test_divergence_comes_without_numpy_warnings(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(["train", "--dataset", "synthetic", "--normalization", "none", "--lr",
                       "1e10", "--optimizer", "sgd", "--epochs", "3", "--quiet", "--device",
                       "cpu"])
    assert status == 2
    assert "the training loss became" in capsys.readouterr().err
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_a_full_disk_during_checkpoint_names_the_option_and_file(tmp_path, capsys,
                                                                 monkeypatch):
    def full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(solver_module.Solver, "save_checkpoint", full)
    prefix = str(tmp_path / "run")
    assert main(["train", *FAST, "--epochs", "1", "--quiet", "--checkpoint", prefix]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"xplayers train: error: --checkpoint {prefix}: cannot write the file "
                   f"{prefix}_epoch_1.npz (No space left on device)")


def _study(params, fixed=None):
    trial = SimpleNamespace(params=params)
    return SimpleNamespace(user_attrs={"base": {"dataset": "digits", "data_dir": None,
                                                "seed": 0}, "fixed": fixed or {}},
                           best_trial=trial)


def test_repeat_command_keeps_every_digit():
    command = sweep_results.best_train_command(_study(
        {"learning_rate": 0.00442480476419164, "hidden_dims": "128x64", "dropout": 0.1}))
    assert "--lr 0.00442480476419164 " in command
    assert "--hidden-dims 128 64" in command and "--dropout 0.1" in command


def test_defaults_outside_the_space_are_said(capsys):
    narrow = DEFAULT_SPACE.updated({"learning_rate": Range(1e-2, 1e-1, log=True)})
    assert sweep_runner._defaults_in_space(narrow) is None
    out = capsys.readouterr().out
    assert "the 'xplayers train' defaults lie outside the search space" in out
    assert "learning_rate=0.002 not in 0.01..0.1" in out and "--no-default-trial" in out
    assert sweep_runner._defaults_in_space(DEFAULT_SPACE) is not None
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("name", "text", "shown"), [
    ("space.toml", 'learning_rate = {low = "small", high = 1e-2}\n', "low must be a number, "
     "got 'small'"),
    ("space.json", '{"learning_rate": {"low": null, "high": 0.01}}', "low must be a number, "
     "got None"),
    ("space.json", '{"reg": {"low": 1e-5, "high": [1]}}', "high must be a number, got [1]"),
])
def test_bad_search_space_bounds_are_one_line(tmp_path, capsys, name, text, shown):
    pytest.importorskip("optuna")
    path = tmp_path / name
    path.write_text(text)
    assert main(["sweep", "--dataset", "synthetic", "--space", str(path),
                 "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert shown in err and ("'learning_rate'" in err or "'reg'" in err)
