"""Ctrl-C keeps the work: a real SIGINT sent to ``python -m xplayers train`` (and ``sweep``)
mid-run leaves the best model, a report marked interrupted, the resume command, status 130
and no traceback."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xplayers.models import load_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "XPLAYERS_DEVICE": "cpu",
            "PYTHONUNBUFFERED": "1"}


def _interrupt_after(args: list[str], cwd: Path, marker: str, count: int = 1,
                     timeout: float = 240, then: Any = None) -> tuple[int, str, str]:
    """Start ``python -m xplayers ARGS``, send SIGINT once ``marker`` has appeared ``count``
    times on stdout (and ``then()`` has returned), and return (status, stdout, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "xplayers", *args], cwd=cwd, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if sum(marker in seen for seen in lines) >= count:
            break
        if time.monotonic() > deadline:
            break
    if then is not None:
        then()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, "".join(lines) + out, err


def test_ctrl_c_during_train_keeps_the_best_model_and_says_how_to_resume(tmp_path):
    pytest.importorskip("sklearn")
    status, out, err = _interrupt_after(
        ["train", "--epochs", "500", "--save", "m.npz", "--report", "out/r.json",
         "--checkpoint", "runs/a"], tmp_path, "(Epoch ", count=3)
    assert status == 130, (out, err)
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    stopped = [line for line in out.splitlines() if "interrupted during epoch" in line]
    assert len(stopped) == 1, out
    assert re.search(r"interrupted during epoch \d+ of 500, iteration \d+ of \d+", stopped[0])
    model = load_model(tmp_path / "m.npz")
    report = json.loads((tmp_path / "out" / "r.json").read_text())
    assert report["interrupted"] is True
    best = report["best_epoch"]
    assert best == int(np.argmax(report["val_acc_history"]))
    assert report["val_accuracy"] == max(report["val_acc_history"])
    assert f"(epoch {best}, val accuracy" in stopped[0]
    assert model.checkpoint_extra["report"]["interrupted"] is True
    resume = [line for line in out.splitlines() if line.startswith("resume with: ")]
    assert len(resume) == 1, out
    command = shlex.split(resume[0].removeprefix("resume with: "))
    last = command[command.index("--resume") + 1]
    assert (tmp_path / last).is_file()
    assert command[:2] == ["xplayers", "train"] and "--checkpoint" in command
    # The printed command runs (as python -m xplayers), continuing where the run stopped.
    done = int(re.search(r"_epoch_(\d+)\.npz$", last)[1])
    finish = [*command[1:], "--epochs", str(done + 1), "--quiet"]
    result = subprocess.run([sys.executable, "-m", "xplayers", *finish], cwd=tmp_path,
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"device cpu: 1 epoch (epochs {done + 1}-{done + 1}, resumed)" in result.stdout


def test_ctrl_c_before_training_starts_exits_quietly(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from xplayers.cli import main; "
         "import xplayers.training.command as c; "
         "c.run_training = lambda *a, **k: (print('ready', flush=True), time.sleep(60)); "
         "sys.exit(main(['train', '--dataset', 'synthetic', '--epochs', '1']))"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.strip().endswith("xplayers train: interrupted")


def test_ctrl_c_during_a_sweep_fails_the_trial_and_keeps_the_study(tmp_path):
    pytest.importorskip("sklearn")
    optuna = pytest.importorskip("optuna")

    def study():
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
            str(tmp_path / "s" / "study.journal")))
        return optuna.load_study(study_name="xplayers", storage=storage)

    def running():  # SIGINT once trial 0 (400 epochs) is under way
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(t.state.name == "RUNNING" for t in study().get_trials(deepcopy=False)):
                return
            time.sleep(0.2)

    status, out, err = _interrupt_after(
        ["sweep", "--trials", "3", "--out", "s", "--param", "epochs=400"], tmp_path,
        "xplayers sweep: study", then=running)
    assert status == 130, (out, err)
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert "failed" not in err  # Optuna's own warning
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("xplayers sweep: interrupted; the "
                                                      "running trial 0 was marked failed")]
    resume = [line for line in lines if line.startswith("resume with: ")]
    assert len(resume) == 1, (out, err)
    command = shlex.split(resume[0].removeprefix("resume with: "))
    assert command == ["xplayers", "sweep", "--resume", "--study-name", "xplayers", "--out",
                       "s", "--trials", "3"]
    states = [t.state.name for t in study().get_trials(deepcopy=False)]
    assert states == ["FAIL"]
