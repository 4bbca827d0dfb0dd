"""Record the benchmarks for the documentation: each one run several times in one process,
beside PyTorch, into one JSON file with the machine, its load and the thread settings.

Usage::

    python benchmarks/record.py                      # 3 runs of bench_train and bench_conv
    python benchmarks/record.py --runs 5 --threads 1 --name cpu-1thread
    python benchmarks/record.py --quick --out /tmp/bench-dev   # a small end-to-end check

writes ``OUT/<name>-<YYYY-MM-DD>.json`` (``OUT`` defaults to ``benchmarks/results/``): the
date, the processor and its core count, the 1/5/15-minute load average before and after, the
BLAS/OpenMP environment variables and threadpoolctl's view of the thread pools, the Python,
NumPy, PyTorch and xplayers versions, and per case the ratio xplayers / PyTorch of every run
with its range (min-max). The docs' benchmarks page and ``benchmarks/render_results.py``
quote only such files. Run it on an idle machine (load average below about 0.3): ratios on a
busy one say little, and the page marks such files as busy.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

IDLE_LOAD = 0.3
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "XPLAYERS_BLAS_THREADS",
                    "XPLAYERS_NUMBA")
QUICK = ["--warmup", "1", "--repeats", "2", "--number", "2", "--rounds", "1"]


def machine() -> dict[str, Any]:
    """The processor's model name, its core count and the platform."""
    from _harness import cpu_name

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform()}


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (None where the system has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def thread_settings() -> dict[str, Any]:
    """The thread-related environment variables, threadpoolctl's pools and PyTorch's count."""
    settings: dict[str, Any] = {"env": {k: os.environ.get(k) for k in THREAD_VARIABLES}}
    try:
        import threadpoolctl

        settings["threadpools"] = [
            {k: info.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                      "architecture", "threading_layer")}
            for info in threadpoolctl.threadpool_info()]
    except ImportError:
        settings["threadpools"] = "threadpoolctl not installed"
    import torch

    settings["torch_num_threads"] = torch.get_num_threads()
    return settings


def versions() -> dict[str, str]:
    import numpy
    import torch

    import xplayers

    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__, "xplayers": xplayers.__version__}


def case_key(benchmark: str, row: dict[str, Any]) -> str:
    """A case's name in the record: benchmark, case and the rule or pass it timed."""
    detail = row.get("rule") or row.get("mode") or ""
    return f"{benchmark}/{row['case']}/{detail}"


def run_benchmark(module: Any, argv: list[str], runs: int) -> list[list[dict[str, Any]]]:
    """``runs`` runs of ``module.main(argv)`` in this process; each run's result rows."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            path = Path(tmp) / f"run{i}.json"
            with contextlib.redirect_stdout(io.StringIO()):
                module.main([*argv, "--json", str(path)])
            out.append(json.loads(path.read_text())["results"])
            print(f"  {module.__name__} run {i + 1}/{runs} done", flush=True)
    return out


def summarise_runs(benchmark: str, runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per case: the ratio xplayers / PyTorch of each run (medians within a run) and the range."""
    cases: dict[str, dict[str, Any]] = {}
    for rows in runs:
        for row in rows:
            key = case_key(benchmark, row)
            case = cases.setdefault(key, {
                "benchmark": benchmark, "case": row["case"], "device": row["device"],
                "detail": row.get("rule") or row.get("mode"),
                "description": row.get("description", ""),
                "ratios": [], "xplayers_ms": [], "torch_ms": []})
            case["ratios"].append(round(row["ratio"], 4))
            case["xplayers_ms"].append(round(row["xplayers_ms"], 4))
            case["torch_ms"].append(round(row["torch_ms"], 4))
    for case in cases.values():
        case["ratio_min"], case["ratio_max"] = min(case["ratios"]), max(case["ratios"])
    return list(cases.values())


def record(*, runs: int, threads: int | None, quick: bool, benchmarks: list[str],
           cases: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Run the benchmarks and return the record (see the module's docstring)."""
    import importlib

    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    common = ["--device", "cpu"] + (["--threads", str(threads)] if threads else [])
    common += QUICK if quick else []
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "load_before": load_average(),
        "threads": thread_settings(), "versions": versions(),
        "settings": {"runs": runs, "threads": threads, "quick": quick,
                     "argv": common, "ratio": "xplayers / PyTorch (below 1: xplayers faster)"},
        "cases": []}
    for name in benchmarks:
        module = importlib.import_module(name)
        chosen = (cases or {}).get(name)
        argv = common + (["--cases", *chosen] if chosen else [])
        result["cases"] += summarise_runs(name, run_benchmark(module, argv, runs))
    result["load_after"] = load_average()
    result["threads_after"] = thread_settings()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each benchmark (>= 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="pin NumPy's BLAS and PyTorch to N threads (0: as they are)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny timing blocks: checks the pipeline, measures nothing")
    parser.add_argument("--benchmarks", nargs="*", default=["bench_train", "bench_conv"],
                        choices=["bench_train", "bench_conv"])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--name", default="cpu", help="the file name's prefix")
    args = parser.parse_args(argv)
    if not args.quick and args.runs < 3:
        parser.error(f"--runs must be at least 3 for a record, got {args.runs}")
    data = record(runs=args.runs, threads=args.threads or None, quick=args.quick,
                  benchmarks=args.benchmarks)
    busy = data["load_before"] is not None and data["load_before"][0] >= IDLE_LOAD
    if busy:
        print(f"note: load average {data['load_before'][0]} at the start (>= {IDLE_LOAD}): "
              "the docs mark this record as from a busy machine")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.name}-{data['date'][:10]}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
