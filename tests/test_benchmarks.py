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


def test_sgd_and_momentum_benchmark_nets_match() -> None:
    case = next(c for c in bench_train.CASES if c.name == "mnist-512")
    for rule in ("sgd", "sgd_momentum"):
        diff = bench_train.check_same_losses(case, "cpu", steps=3, rule=rule)
        assert diff is not None and diff < 1e-4, f"{rule}: first losses differ by {diff:.1e}"


def test_floor_products_are_those_of_the_mlp_step() -> None:
    case = bench_train.Case("tiny", 8, (5, 7, 3))
    assert bench_train.layer_products(case) == [
        ((8, 5), (5, 7), ""), ((5, 8), (8, 7), "a"),                        # layer 1: no dX
        ((8, 7), (7, 3), ""), ((7, 8), (8, 3), "a"), ((8, 3), (3, 7), "b"),  # layer 2
    ]


def test_theoretical_memory_counts_params_grads_state_activations_batch() -> None:
    case = bench_train.Case("tiny", 8, (5, 7, 3))
    model, _ = bench_train.make_xplayers(case, "cpu", "adam")
    params = 5 * 7 + 7 + 7 * 3 + 3
    expected = 4 * ((2 + 2) * params + 8 * (7 + 3) + 8 * 5 + 8 * 2)
    assert bench_train.theoretical_bytes(case, "adam", model) == expected


def test_train_benchmark_runs_and_writes_json(tmp_path, monkeypatch) -> None:
    import json

    tiny = bench_train.Case("tiny", 16, (20, 32, 10), rules=("sgd", "adam"))
    monkeypatch.setattr(bench_train, "CASES", (tiny,))
    out = tmp_path / "train.json"
    assert bench_train.main(["--device", "cpu", "--warmup", "1", "--repeats", "2", "--number",
                             "2", "--rounds", "1", "--threads", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["rule"] for r in results] == ["sgd", "adam"]
    for r in results:
        assert r["floor_ms"] > 0 and r["floor_ratio"] > 0 and r["ratio"] > 0
        assert r["peak_bytes"] >= r["theoretical_bytes"] // 2 > 0
        assert r["first_losses_max_rel_diff"] < 1e-4


def test_conv_benchmark_runs_with_floors(tmp_path, monkeypatch) -> None:
    import json

    import bench_conv

    tiny = tuple(bench_conv.Case(f"{op}-tiny", op, (2, 4, 8, 8), (3, 4, 3, 3) if op == "conv"
                                 else None, stride=1 if op == "conv" else 2,
                                 pad=1 if op == "conv" else 0)
                 for op in ("conv", "pool", "sbn", "gn"))
    monkeypatch.setattr(bench_conv, "CASES", tiny)
    out = tmp_path / "conv.json"
    assert bench_conv.main(["--device", "cpu", "--warmup", "1", "--repeats", "1", "--number",
                            "1", "--rounds", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert len(results) == 8
    for r in results:
        assert r["floor_ms"] > 0 and r["max_rel_diff"] < 1e-4, r["case"]
