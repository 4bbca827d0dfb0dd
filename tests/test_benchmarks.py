"""The benchmarks time equivalent networks: PyTorch's copy must train exactly like xplayers'.

Nothing is timed here; a benchmark whose PyTorch side drifted from the xplayers model would
report meaningless ratios, so its first losses are compared on the same weights and batches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_train


@pytest.mark.parametrize("case", [c for c in bench_train.CASES if not c.dropout],
                         ids=lambda c: c.name)
def test_training_step_benchmark_nets_match(case: bench_train.Case) -> None:
    diff = bench_train.check_same_losses(case, "cpu", steps=3)
    assert diff is not None and diff < 1e-4, f"{case.name}: first losses differ by {diff:.1e}"
