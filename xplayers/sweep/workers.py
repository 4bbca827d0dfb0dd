"""Worker processes: one study, many processes, each bound to one device.

A worker is ``python -m xplayers sweep --worker ...``: it loads the study, draws settings
with its own sampler seed, and trains trials until the study holds its target number of
trials (or the time runs out). The coordinator starts the workers, waits for them, and marks
the running trial of a worker that crashed or was killed as failed; the study goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .. import config
from .claim import ClaimLock
from .storage import fail_dead_local_trials

__all__ = ["WorkerPlan", "plan_workers", "run_worker_loop", "run_workers"]

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
MAX_CPU_WORKERS = 8
STORAGE_ENV = config.ENVIRONMENT_VARIABLES["sweep_storage"]


@dataclass(frozen=True)
class WorkerPlan:
    """One worker: its index, its device and its BLAS threads (None: the library's default)."""

    index: int
    device: str
    threads: int | None = None


def usable_cpus() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan_workers(workers: str | int, device: str = "auto") -> list[WorkerPlan]:
    """Decide the worker processes for ``--workers`` and ``--device``.

    ``'auto'``: one worker per usable GPU (``cuda:0..N-1``) when the device is ``auto`` or
    ``cuda`` and GPUs exist; otherwise CPU workers, up to one per core (at most
    :data:`MAX_CPU_WORKERS`), the cores split evenly between their BLAS thread pools. A number
    ``N``: ``N`` workers, spread over the GPUs round robin, or on the CPU with the cores split.
    """
    from ..backend.devices import available_devices

    if isinstance(workers, str) and workers != "auto":
        try:
            workers = int(workers)
        except ValueError:
            raise ValueError(f"--workers must be 'auto' or a positive integer, got {workers!r}"
                             ) from None
    if workers != "auto" and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"--workers must be 'auto' or a positive integer, got {workers!r}")
    gpus: list[str] = []
    if device.startswith("cuda:"):
        gpus = [device]
    elif device in ("auto", "cuda"):
        gpus = [d for d in available_devices() if d.startswith("cuda")]
        if not gpus and device == "cuda":
            gpus = ["cuda"]  # the worker says why the GPU is not usable
    if gpus:
        count = len(gpus) if workers == "auto" else cast(int, workers)
        return [WorkerPlan(i, gpus[i % len(gpus)]) for i in range(count)]
    cores = usable_cpus()
    count = min(cores, MAX_CPU_WORKERS) if workers == "auto" else cast(int, workers)
    threads = max(1, cores // count)
    return [WorkerPlan(i, "cpu", threads) for i in range(count)]


def _trials_left(study: Any, target: int) -> bool:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    waiting = any(t.state == TrialState.WAITING for t in trials)
    return waiting or len(trials) < target


def run_worker_loop(study: Any, objective: Any, target: int, deadline: float | None,
                    label: str, claim: ClaimLock | None = None) -> int:
    """Run trials of ``study`` until it holds ``target`` trials or ``deadline`` (a
    ``time.time()``) passes; returns how many trials this worker ran.

    ``claim`` is held from the check for a trial left until that trial exists, so that
    workers together create exactly ``target`` trials.
    """
    from .results import trial_line

    claim = claim or ClaimLock()

    def announce(study: Any, trial: Any) -> None:
        print(f"{label} {trial_line(trial, study)}", flush=True)

    def claimed(trial: Any) -> float:
        claim.release()  # the trial exists now: the others may count it
        return objective(trial)

    ran = 0
    while deadline is None or time.time() < deadline:
        claim.acquire()
        try:
            if not _trials_left(study, target):
                break
            study.optimize(claimed, n_trials=1, catch=(Exception,), callbacks=[announce],
                           gc_after_trial=False)
        finally:
            claim.release()
        ran += 1
    print(f"{label} done: ran {ran} trial(s)", flush=True)
    return ran


def _worker_command(plan: WorkerPlan, study_name: str, out: Path,
                    deadline: float | None) -> list[str]:
    # The storage URL (it may hold a password) goes by environment, not the process list.
    command = [sys.executable, "-m", "xplayers", "sweep", "--worker", str(plan.index),
               "--study-name", study_name, "--device", plan.device, "--out", str(out)]
    if deadline is not None:
        command += ["--deadline", repr(deadline)]
    return command


def _worker_env(plan: WorkerPlan, storage: str) -> dict[str, str]:
    env = dict(os.environ)
    env[STORAGE_ENV] = storage
    if plan.threads is not None:  # read by the BLAS libraries when numpy is first imported
        env.update({name: str(plan.threads) for name in BLAS_THREAD_VARIABLES})
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")] if p)
    return env


def run_workers(plans: list[WorkerPlan], study: Any, storage: str, out: Path,
                deadline: float | None) -> list[str]:
    """Start one process per plan, wait for all, and fail the trials of those that died.

    Returns one line per worker that did not exit cleanly.
    """
    processes = [subprocess.Popen(_worker_command(p, study.study_name, out, deadline),
                                  env=_worker_env(p, storage)) for p in plans]
    problems = []
    try:
        for plan, process in zip(plans, processes, strict=True):
            code = process.wait()
            if code == 0:
                continue
            failed = fail_dead_local_trials(study, pids={process.pid})
            how = (f"was killed by signal {-code}" if code < 0 else f"exited with status {code}")
            lost = (f"; its trial {', '.join(map(str, failed))} was marked failed" if failed
                    else "")
            problems.append(f"worker {plan.index} ({plan.device}, pid {process.pid}) {how}{lost}")
    except BaseException:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        fail_dead_local_trials(study, pids={p.pid for p in processes})
        raise
    return problems
