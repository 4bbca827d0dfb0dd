"""Render the recorded benchmark files as Markdown: the only source of the numbers the docs quote.

Usage::

    python benchmarks/render_results.py                      # every benchmarks/results/*.json
    python benchmarks/render_results.py /tmp/bench-dev/*.json

The docs' benchmarks page includes this output (``docs/conf.py`` writes it at build time).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
IDLE_LOAD = 0.3


def _threads(record: dict[str, Any]) -> str:
    # the pools as the benchmarks left them (after --threads pinned them), else at the start
    threads = record.get("threads_after") or record["threads"]
    pools = threads.get("threadpools")
    blas = [p for p in pools if p.get("user_api") == "blas"] if isinstance(pools, list) else []
    parts = [f"BLAS {p.get('internal_api')} {p.get('version')} ({p.get('architecture')}), "
             f"{p.get('num_threads')} thread(s)" for p in blas[:1]]
    parts.append(f"PyTorch {threads.get('torch_num_threads')} thread(s)")
    env = {k: v for k, v in threads.get("env", {}).items() if v is not None}
    parts.append(", ".join(f"{k}={v}" for k, v in env.items()) or "no thread variables set")
    return "; ".join(parts)


def render_record(path: Path, record: dict[str, Any]) -> str:
    """One recorded file as a Markdown section: the conditions, then a table of ratio ranges."""
    load = record.get("load_before")
    busy = load is None or load[0] >= IDLE_LOAD
    machine, versions = record["machine"], record["versions"]
    lines = [f"### `{path.name}`", "",
             f"- {record['date']}, {machine['cpu']}, {machine['cores']} cores",
             f"- load average before {load}, after {record.get('load_after')}"
             + (" (**busy machine: do not quote**)" if busy else ""),
             f"- {_threads(record)}",
             f"- NumPy {versions['numpy']}, PyTorch {versions['torch']}, "
             f"xplayers {versions['xplayers']}, Python {versions['python']}",
             f"- {record['settings']['runs']} runs in one process, "
             f"`--threads {record['settings'].get('threads')}`"
             + (", quick settings (not a measurement)" if record["settings"].get("quick")
                else ""),
             "", "| benchmark | case | rule / pass | xplayers / PyTorch (min-max) |",
             "| --- | --- | --- | --- |"]
    for case in record["cases"]:
        lines.append(f"| {case['benchmark']} | {case['case']} | {case['detail']} | "
                     f"{case['ratio_min']:.2f}-{case['ratio_max']:.2f} |")
    return "\n".join(lines) + "\n"


def render(paths: list[Path]) -> str:
    """Every file of ``paths`` in name order, or a line saying there is none yet."""
    if not paths:
        return ("No benchmark has been recorded in `benchmarks/results/` yet: run "
                "`python benchmarks/record.py` on an idle machine.\n")
    return "\n".join(render_record(p, json.loads(p.read_text())) for p in sorted(paths))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] if args else sorted(RESULTS.glob("*.json"))
    print(render(paths), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
