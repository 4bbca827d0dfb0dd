"""Kernel launches per training step, counted without a GPU, kept under a recorded budget.

``benchmarks/bench_launches.py`` runs one Solver step of every ``bench_train.py`` case on the
counting stand-in for CuPy (``tests/counting_cupy.py``); ``benchmarks/launch_budget.json``
records each case's launches (and PyTorch eager's count for the same step, for reference).
A change that adds kernel launches, or any device-to-host read, to a step fails here; one that
removes launches should lower the budget. Both run in fresh processes: the stand-in replaces
``cupy`` in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUDGET = json.loads((ROOT / "benchmarks" / "launch_budget.json").read_text())


def _run(*argv: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    out = tmp_path_factory.mktemp("launches") / "counts.json"
    _run("benchmarks/bench_launches.py", "--no-torch", "--json", str(out))
    return json.loads(out.read_text())


def test_every_benchmark_case_is_counted(counted):
    assert sorted(counted) == sorted(BUDGET)


@pytest.mark.parametrize("case", sorted(BUDGET))
def test_launches_per_step_stay_within_budget(counted, case):
    got, budget = counted[case], BUDGET[case]
    assert got["host_reads"] == 0, f"{case}: a training step read from the device"
    assert got["xplayers"] <= budget["xplayers"], (
        f"{case}: {got['xplayers']} kernel launches per step, budget {budget['xplayers']}")
    assert got["allocations"] <= budget["allocations"], (
        f"{case}: {got['allocations']} allocations per step, budget {budget['allocations']}")
    assert got["xplayers"] <= budget["torch_eager"], (
        f"{case}: {got['xplayers']} launches per step, more than eager PyTorch's "
        f"{budget['torch_eager']} (recorded by bench_launches.py)")


def test_fused_cupy_paths_on_the_standin_match_the_portable_bodies():
    results = json.loads(_run("tests/standin_checks.py"))
    assert len(results) == 17
    for name, r in results.items():
        assert r["is_cupy"], f"{name}: the CuPy path returned host arrays"
        tolerance = 1e-5 if name.endswith("float32") else 1e-10
        assert r["diff"] <= tolerance, f"{name}: differs from the portable body by {r['diff']}"
    # the fused kernel and one sum, as the Solver calls it (labels checked once beforehand)
    assert results["softmax_loss_trusted/float32"]["launches"] == 2
    assert results["relu_backward/float32"]["launches"] == 1
    assert results["affine_relu_forward/float32"]["launches"] == 2  # GEMM, bias + ReLU
    # zeros and ones for the missing running statistics, the forward kernel, and one update
    # of both statistics
    assert results["batchnorm_train/float32"]["launches"] == 4
