"""Sweeps with real worker processes on a real study storage: the embedded journal file and a
PostgreSQL server started for the test. Trials must add up (none lost, none duplicated), and a
worker killed mid-trial must cost only its trial."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("sklearn")

from postgres_server import postgres_bindir, postgres_server  # noqa: E402

from xplayers.sweep.storage import open_storage  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--param", "hidden_dims=16|32", "--param", "normalization=none|batchnorm",
        "--param", "batch_size=64|128", "--device", "cpu"]
FINISHED = ("COMPLETE", "PRUNED")


@pytest.fixture(scope="module")
def postgres_url():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (pg_config --bindir, "
                    "/usr/lib/postgresql/*/bin)")
    with postgres_server(bindir) as url:
        yield url


@pytest.fixture(params=["journal", "postgresql"])
def storage(request, tmp_path):
    if request.param == "journal":
        return str(tmp_path / "study.journal")
    return request.getfixturevalue("postgres_url")


def _sweep(args: list[str], **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "xplayers", "sweep", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)
    return output


def _trials(storage: str, name: str) -> list:
    backend = open_storage(storage)
    try:
        return optuna.load_study(study_name=name, storage=backend).get_trials()
    finally:  # polled many times a second: close the database connections each time
        engine = getattr(backend, "engine", None)
        if engine is not None:
            engine.dispose()


def test_two_workers_share_one_study(storage, tmp_path):
    name = f"two-workers-{os.getpid()}-{time.monotonic_ns()}"
    process = _sweep(["--trials", "6", "--workers", "2", "--param", "epochs=3", *TINY,
                      "--storage", storage, "--study-name", name, "--out", str(tmp_path)])
    output = _finish(process)
    assert process.returncode == 0, output

    trials = _trials(storage, name)
    assert sorted(t.number for t in trials) == list(range(6)), output
    assert all(t.state.name in FINISHED for t in trials), [t.state for t in trials]
    # Every trial was run by exactly one worker, and the workers' own counts add up.
    announced = [int(n) for n in re.findall(r"\[worker \d\] trial (\d+) ", output)]
    assert sorted(announced) == list(range(6)), output
    ran = [int(n) for n in re.findall(r"\[worker \d\] done: ran (\d+) trial", output)]
    assert len(ran) == 2 and sum(ran) == 6, output
    workers = {t.user_attrs["worker"] for t in trials}
    assert all(re.fullmatch(r".+:\d+", w) for w in workers)
    # The results cover every trial.
    assert (tmp_path / "trials.csv").read_text().count("\n") == 7
    assert (tmp_path / "best_model.npz").is_file()


def test_a_killed_worker_costs_only_its_trial(storage, tmp_path):
    name = f"kill-{os.getpid()}-{time.monotonic_ns()}"
    process = _sweep(["--trials", "4", "--workers", "2", "--pruner", "none", "--param",
                      "epochs=25", *TINY, "--storage", storage, "--study-name", name,
                      "--out", str(tmp_path)])
    victim = None
    try:
        while victim is None and process.poll() is None:
            try:
                running = [t for t in _trials(storage, name)  # a trial that is training
                           if t.state.name == "RUNNING" and t.intermediate_values]
            except KeyError:  # the study is not created yet
                running = []
            if running:
                victim = running[0]
                os.kill(int(victim.user_attrs["worker"].rpartition(":")[2]), signal.SIGKILL)
            time.sleep(0.02)
    finally:
        output = _finish(process)
    assert victim is not None, f"no trial was seen running:\n{output}"
    assert process.returncode == 0, output
    assert f"killed by signal {signal.SIGKILL}" in output

    trials = {t.number: t for t in _trials(storage, name)}
    assert sorted(trials) == list(range(4))
    assert trials[victim.number].state.name == "FAIL"
    others = [t for n, t in trials.items() if n != victim.number]
    assert all(t.state.name == "COMPLETE" for t in others), [t.state for t in others]


def test_the_claim_lock_excludes_other_workers(storage, tmp_path):
    from sqlalchemy import text

    from xplayers.sweep.claim import claim_lock

    backend = open_storage(storage)
    first = claim_lock(backend, storage, "claimed")
    second = claim_lock(open_storage(storage), storage, "claimed")
    first.acquire()
    try:
        if hasattr(backend, "engine"):  # another session cannot take the advisory lock
            def free() -> bool:
                with backend.engine.connect() as c:
                    got = c.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": first.key}).scalar()
                    if got:
                        c.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": first.key})
                    return bool(got)
        else:  # another process cannot flock the claim file
            def free() -> bool:
                probe = ("import fcntl, sys\nf = open(sys.argv[1], 'a')\ntry:\n"
                         "    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                         "except BlockingIOError:\n    sys.exit(1)\n")
                return subprocess.run([sys.executable, "-c", probe, str(first.path)],
                                      check=False).returncode == 0
        assert not free()
    finally:
        first.release()
    assert free()
    second.acquire()
    second.release()
