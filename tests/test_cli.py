"""The ``xplayers`` command end to end: train, report, save, plot, evaluate, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xplayers.cli import main
from xplayers.models import FullyConnectedNet, load_model
from xplayers.optim import optimizer_names

REPO = Path(__file__).resolve().parents[1]


def test_train_writes_report_and_model_then_evaluate(tmp_path, capsys):
    pytest.importorskip("sklearn")  # the digits data set
    report, model = tmp_path / "report.json", tmp_path / "model.npz"
    status = main(["train", "--epochs", "4", "--quiet", "--device", "cpu",
                   "--report", str(report), "--save", str(model)])
    assert status == 0
    out = capsys.readouterr().out
    assert "device cpu:" in out and "test" in out
    summary = json.loads(report.read_text())
    for key in ("device", "epochs", "seconds", "train_accuracy", "val_accuracy",
                "test_accuracy", "final_loss"):
        assert key in summary
    assert summary["device"] == "cpu" and summary["epochs"] == 4
    assert summary["test_accuracy"] > 0.8  # ten classes: chance is 0.1
    assert summary["seconds"] > 0 and summary["final_loss"] < 1.0
    assert len(summary["val_acc_history"]) == 5

    loaded = load_model(model, device="cpu")
    assert isinstance(loaded, FullyConnectedNet)
    assert main(["evaluate", str(model), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy {summary['test_accuracy']:.4f}" in out


def test_train_variants(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    for extra in (["--model", "two_layer", "--hidden-dims", "32", "--optimizer", "sgd_momentum",
                   "--lr", "0.05"],
                  ["--normalization", "layernorm", "--dropout", "0.2",
                   "--optimizer", "rmsprop", "--lr", "1e-3"],
                  ["--dataset", "synthetic", "--normalization", "none"]):
        report = tmp_path / "r.json"
        assert main(["train", "--epochs", "3", "--quiet", "--device", "cpu",
                     "--report", str(report), *extra]) == 0
        assert json.loads(report.read_text())["val_accuracy"] > 0.5, extra


@pytest.mark.parametrize("optimizer", optimizer_names())
def test_every_registered_optimizer_trains(tmp_path, optimizer):
    report = tmp_path / "r.json"
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", "--quiet", "--device",
                 "cpu", "--optimizer", optimizer, "--lr", "1e-3", "--report", str(report)]) == 0
    assert json.loads(report.read_text())["settings"]["optimizer"] == optimizer


def test_seeded_run_with_dropout_repeats(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    reports = []
    for seed in (3, 3, 4):
        report = tmp_path / f"r{len(reports)}.json"
        assert main(["train", "--epochs", "2", "--quiet", "--device", "cpu", "--dropout", "0.3",
                     "--seed", str(seed), "--report", str(report)]) == 0
        reports.append(json.loads(report.read_text()))
    assert reports[0]["loss_history"] == reports[1]["loss_history"]
    assert reports[0]["loss_history"] != reports[2]["loss_history"]


@pytest.mark.slow
def test_conv_model_trains_on_digits(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    report = tmp_path / "r.json"
    assert main(["train", "--model", "conv", "--epochs", "2", "--quiet", "--device", "cpu",
                 "--report", str(report)]) == 0
    assert json.loads(report.read_text())["test_accuracy"] > 0.5


def test_plot_is_written(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curves.png"
    assert main(["train", "--epochs", "1", "--quiet", "--device", "cpu",
                 "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_are_reported_with_status_2(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing.npz"), "--device", "cpu"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    assert main(["train", "--device", "tpu", "--quiet"]) == 2
    assert "device must be one of" in capsys.readouterr().err
    assert main(["train", "--dataset", "cifar10", "--quiet", "--device", "cpu"]) == 2
    assert "--data-dir" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--optimizer", "lbfgs"])


@pytest.mark.slow
def test_python_dash_m_entry_point(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    report = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XPLAYERS_DEVICE": "cpu"}
    result = subprocess.run([sys.executable, "-m", "xplayers", "train", "--epochs", "2",
                             "--report", str(report)], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "on device cpu" in result.stdout
    assert json.loads(report.read_text())["device"] == "cpu"


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_diverged_training_is_a_clean_error(capsys):
    status = main(["train", "--dataset", "synthetic", "--normalization", "none", "--lr", "1e10",
                   "--optimizer", "sgd", "--epochs", "3", "--quiet", "--device", "cpu"])
    assert status == 2
    assert "loss became" in capsys.readouterr().err


def test_evaluate_conv_model_saved_from_python(tmp_path, capsys):
    pytest.importorskip("sklearn")  # the digits data set
    from xplayers.models import ThreeLayerConvNet

    path = tmp_path / "conv.npz"
    ThreeLayerConvNet((1, 8, 8), num_filters=2, filter_size=3, hidden_dim=8, seed=0).save(path)
    assert main(["evaluate", str(path), "--dataset", "digits", "--device", "cpu"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["evaluate", str(path), "--dataset", "cifar10", "--device", "cpu"]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_written_files_get_ordinary_permissions(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    old = os.umask(0o022)
    try:
        report, model = tmp_path / "r.json", tmp_path / "m.npz"
        assert main(["train", "--epochs", "1", "--quiet", "--device", "cpu",
                     "--report", str(report), "--save", str(model)]) == 0
    finally:
        os.umask(old)
    assert report.stat().st_mode & 0o777 == 0o644
    assert model.stat().st_mode & 0o777 == 0o644
