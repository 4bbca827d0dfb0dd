"""benchmarks/record.py writes a record of several runs per case, and render_results.py quotes
only such records; nothing here is a timing claim (tiny cases, quick settings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_train
import record
import render_results


def test_record_runs_each_case_three_times_and_renders(tmp_path, monkeypatch):
    tiny = bench_train.Case("tiny", 16, (20, 32, 10), rules=("sgd", "adam"))
    monkeypatch.setattr(bench_train, "CASES", (tiny,))
    monkeypatch.setattr(record, "load_average", lambda: [0.1, 0.2, 0.3])
    data = record.record(runs=3, threads=1, quick=True, benchmarks=["bench_train"])
    assert {"date", "machine", "load_before", "load_after", "threads", "versions"} <= set(data)
    assert data["machine"]["cores"] >= 1 and data["versions"]["numpy"]
    assert "OPENBLAS_NUM_THREADS" in data["threads"]["env"]
    assert [c["detail"] for c in data["cases"]] == ["sgd", "adam"]
    for case in data["cases"]:
        assert len(case["ratios"]) == 3
        assert case["ratio_min"] == min(case["ratios"]) <= case["ratio_max"] == max(case["ratios"])

    path = tmp_path / "cpu-2026-01-01.json"
    path.write_text(json.dumps(data))
    text = render_results.render([path])
    assert "cpu-2026-01-01.json" in text and "busy machine" not in text
    row = next(line for line in text.splitlines() if "| adam |" in line)
    adam = data["cases"][1]
    assert f"{adam['ratio_min']:.2f}-{adam['ratio_max']:.2f}" in row


def test_render_marks_a_busy_record_and_says_when_there_is_none(tmp_path):
    assert "No benchmark has been recorded" in render_results.render([])
    busy = {"date": "2026-01-01", "machine": {"cpu": "x", "cores": 2, "platform": "p"},
            "load_before": [2.5, 2.0, 1.0], "load_after": [2.4, 2.0, 1.0],
            "threads": {"env": {}, "threadpools": [], "torch_num_threads": 1},
            "versions": {"numpy": "2", "torch": "2", "xplayers": "0", "python": "3"},
            "settings": {"runs": 3, "threads": 1, "quick": False},
            "cases": [{"benchmark": "bench_train", "case": "c", "detail": "adam",
                       "ratio_min": 0.9, "ratio_max": 1.1}]}
    path = tmp_path / "cpu-2026-01-01.json"
    path.write_text(json.dumps(busy))
    assert "busy machine" in render_results.render([path])


def test_record_refuses_fewer_than_three_runs_for_a_record(capsys):
    with pytest.raises(SystemExit):
        record.main(["--runs", "2"])
    assert "--runs must be at least 3" in capsys.readouterr().err
