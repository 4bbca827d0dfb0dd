"""What the benchmarks share: the machine's description, thread pinning, devices, timing
in alternating blocks, the common command-line options and the JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

Sync = Callable[[], None]


def blas_summary() -> list[dict[str, Any]]:
    """NumPy's BLAS: threadpoolctl's view when installed, else ``np.show_config``'s."""
    try:
        import threadpoolctl
    except ImportError:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return [{"source": "np.show_config", "name": blas.get("name"),
                 "version": blas.get("version"),
                 "openblas configuration": blas.get("openblas configuration")}]
    return [
        {key: info.get(key) for key in ("internal_api", "version", "architecture",
                                        "num_threads", "threading_layer", "prefix")}
        for info in threadpoolctl.threadpool_info()
    ]


def pin_threads(threads: int | None) -> Any:
    """Limit NumPy's BLAS and PyTorch to ``threads`` threads; returns what keeps the limit."""
    if threads is None:
        return None
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl is not installed: NumPy's BLAS keeps its own thread count "
              "(set OPENBLAS_NUM_THREADS instead)")
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """Versions, processor, thread pools and the BLAS-related environment variables."""
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": cpu_name(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "blas": blas_summary(),
        "env": {key: os.environ.get(key) for key in (
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def print_environment(env: dict[str, Any]) -> None:
    print(f"numpy {env['numpy']}, torch {env['torch']} "
          f"(torch.get_num_threads() = {env['torch_num_threads']}), "
          f"{env['cpu_count']} CPUs: {env['processor']}")
    for lib in env["blas"]:
        print("  threadpool: " + ", ".join(f"{k}={v}" for k, v in lib.items() if v is not None))
    print("  " + ", ".join(f"{k}={v if v is not None else '(unset)'}"
                           for k, v in env["env"].items()))


def device_setup(device: str) -> tuple[str, str, Sync] | str:
    """``(xplayers device, torch device, sync)``, or the reason the device is unusable."""
    if device == "cpu":
        return "cpu", "cpu", lambda: None
    import torch

    from xplayers.backend.cuda import cuda_status

    usable, reason = cuda_status()
    if not usable:
        return f"skipped: xplayers cannot use the GPU: {reason}"
    if not torch.cuda.is_available():
        return "skipped: PyTorch has no CUDA device"
    import cupy

    def sync() -> None:
        cupy.cuda.Device().synchronize()
        torch.cuda.synchronize()

    return "cuda:0", "cuda:0", sync


def time_block(step: Callable[[int], Any], sync: Sync, *, warmup: int, repeats: int,
               number: int) -> list[float]:
    """Seconds per call of each of ``repeats`` timed runs of ``number`` calls ``step(i)``."""
    for i in range(warmup):
        step(i)
    sync()
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(number):
            step(i)
        sync()
        per_call.append((time.perf_counter() - start) / number)
    return per_call


def alternate(steps: dict[str, Callable[[int], Any]], sync: Sync,
              args: argparse.Namespace) -> dict[str, list[float]]:
    """Time each library in blocks, alternating them for ``args.rounds`` rounds, so that drift
    on a shared machine hits both alike; returns every repeat's seconds per call."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            times[name] += time_block(step, sync, warmup=args.warmup, repeats=args.repeats,
                                      number=args.number)
    return times


def summary(times: dict[str, list[float]]) -> dict[str, Any]:
    """Median and fastest milliseconds per call, the ratios xplayers / torch and (when a
    ``"floor"`` was timed) xplayers / floor, and all repeats."""
    xpl, tor = statistics.median(times["xplayers"]), statistics.median(times["torch"])
    out = {"xplayers_ms": 1e3 * xpl, "torch_ms": 1e3 * tor, "ratio": xpl / tor,
           "xplayers_min_ms": 1e3 * min(times["xplayers"]),
           "torch_min_ms": 1e3 * min(times["torch"]),
           "xplayers_repeats_ms": [1e3 * t for t in times["xplayers"]],
           "torch_repeats_ms": [1e3 * t for t in times["torch"]]}
    if "floor" in times:
        floor = statistics.median(times["floor"])
        out.update({"floor_ms": 1e3 * floor, "floor_ratio": xpl / floor,
                    "floor_repeats_ms": [1e3 * t for t in times["floor"]]})
    return out


def matmul_floor(products: Iterable[tuple[tuple[int, int], tuple[int, int], str]],
                 dtype: Any = np.float32, seed: int = 0) -> Callable[[int], None]:
    """A step that runs just the matrix products ``(m, k) @ (k, n)`` of ``products``, each into
    a preallocated output: the floor under a compute-bound layer or training step.

    The third item of each product says which operands are transposed views of C arrays, as
    in the layer itself (``""``, ``"a"``, ``"b"`` or ``"ab"``): BLAS speed depends on it.
    """
    rng = np.random.default_rng(seed)
    prepared = []
    for (m, k), (k2, n), transposed in products:
        if k != k2:
            raise ValueError(f"inner dimensions differ: ({m}, {k}) @ ({k2}, {n})")
        a = rng.standard_normal((k, m) if "a" in transposed else (m, k), dtype=dtype)
        b = rng.standard_normal((n, k) if "b" in transposed else (k, n), dtype=dtype)
        prepared.append((a.T if "a" in transposed else a, b.T if "b" in transposed else b,
                         np.empty((m, n), dtype)))

    def step(i: int) -> None:
        for a, b, out in prepared:
            np.matmul(a, b, out=out)

    return step


def copy_floor(sizes: Iterable[int], dtype: Any = np.float32) -> Callable[[int], None]:
    """A step that copies arrays of ``sizes`` elements into preallocated outputs: the bytes a
    memory-bound layer must read once and write once, at memory speed."""
    pairs = [(np.ones(n, dtype), np.empty(n, dtype)) for n in sizes]

    def step(i: int) -> None:
        for src, dst in pairs:
            np.copyto(dst, src)

    return step


def peak_host_memory(prepare: Callable[[], Callable[[int], Any]], warm_steps: int = 2) -> int:
    """Peak bytes traced by ``tracemalloc`` during one step, counting everything ``prepare()``
    built (model, data, optimizer state after ``warm_steps`` steps). NumPy reports its buffers
    to tracemalloc; CuPy and PyTorch do not."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        step = prepare()
        for i in range(warm_steps):
            step(i)
        tracemalloc.reset_peak()
        step(warm_steps)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def add_common_arguments(parser: argparse.ArgumentParser, *, device: str, warmup: int,
                         number: int, rounds: int, cases: Iterable[str]) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default=device,
                        help="all: the CPU, and the GPU when CuPy and PyTorch can use one")
    parser.add_argument("--warmup", type=int, default=warmup,
                        help="untimed calls before each block")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per block")
    parser.add_argument("--number", type=int, default=number, help="calls per timed repeat")
    parser.add_argument("--rounds", type=int, default=rounds,
                        help="alternating blocks per library (median over all repeats)")
    parser.add_argument("--threads", type=int, default=None,
                        help="pin NumPy's BLAS and PyTorch to this many threads (default: as is)")
    parser.add_argument("--cases", nargs="*", choices=list(cases),
                        help="only these cases (default: all)")
    parser.add_argument("--json", type=Path, help="write the results and environment here")


def run_devices(args: argparse.Namespace, env: dict[str, Any], settings: dict[str, Any],
                run_device: Callable[[str, argparse.Namespace], list[Any] | str]) -> None:
    """Run every requested device, print skips, and write the JSON file if asked."""
    devices = ("cpu", "cuda") if args.device == "all" else (args.device,)
    out: dict[str, Any] = {"environment": env, "settings": {
        "warmup": args.warmup, "repeats": args.repeats, "number": args.number,
        "rounds": args.rounds, "threads": args.threads, "dtype": "float32", **settings},
        "results": [], "skipped": {}}
    for device in devices:
        results = run_device(device, args)
        if isinstance(results, str):
            print(f"{device:<6} {results}")
            out["skipped"][device] = results
            continue
        out["results"].extend(results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {args.json}")
