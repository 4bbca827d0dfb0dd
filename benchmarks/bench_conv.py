"""Time the convolutional layer and max pooling: xplayers against PyTorch, in one process.

Each case is timed twice, forward only and forward + backward, in float32:

- conv: ``conv_forward`` + ``conv_backward`` (dx, dw and db) against ``F.conv2d`` and autograd
  (with ``requires_grad`` on x, w and b, so PyTorch computes the same three gradients);
- pool: ``max_pool_forward`` + ``max_pool_backward`` against ``F.max_pool2d`` and autograd.

On the CPU xplayers gets NumPy arrays and PyTorch CPU tensors; with ``--device cuda`` (or
``all``) and a usable GPU, CuPy arrays against PyTorch CUDA tensors, with both libraries'
streams synchronised before each clock read. The inputs already live on the device.

Each library is timed in blocks (warm-up calls, then several repeats of N calls), and the
blocks alternate (xplayers, torch, xplayers, ...) for ``--rounds`` rounds so that drift on a
shared machine hits both alike. The reported time is the median repeat divided by N; the ratio
is xplayers / torch (below 1: xplayers faster); '(min)' is the ratio of the fastest repeats.

Usage::

    python benchmarks/bench_conv.py                          # CPU, and the GPU when usable
    python benchmarks/bench_conv.py --device cpu             # NumPy vs PyTorch CPU only
    python benchmarks/bench_conv.py --device all --json conv.json
    python benchmarks/bench_conv.py --cases conv-c3 conv-c32 --threads 1

OpenBLAS pinned to an older kernel (``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``) slows NumPy's
matrix products; compare with a run that unsets both for that command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_conv.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xplayers.layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward


@dataclass(frozen=True)
class Case:
    """One layer on one input shape."""

    name: str
    op: str  # "conv" or "pool"
    x_shape: tuple[int, int, int, int]
    w_shape: tuple[int, int, int, int] | None = None
    stride: int = 1
    pad: int = 0
    pool: int = 2

    @property
    def description(self) -> str:
        x = "x".join(map(str, self.x_shape))
        if self.op == "conv":
            f, _, hh, ww = self.w_shape
            return f"{x}, {f} {hh}x{ww} filters, stride {self.stride}, pad {self.pad}"
        return f"{x}, {self.pool}x{self.pool} max pool, stride {self.stride}"


CASES = (
    Case("conv-c3", "conv", (64, 3, 32, 32), (32, 3, 3, 3), stride=1, pad=1),
    Case("conv-c32", "conv", (64, 32, 16, 16), (64, 32, 3, 3), stride=1, pad=1),
    Case("pool-32", "pool", (64, 32, 32, 32), stride=2, pool=2),
    Case("pool-64", "pool", (64, 64, 16, 16), stride=2, pool=2),
)


# -- environment ---------------------------------------------------------------------------
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


def environment() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": cpu,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "blas": blas_summary(),
        "env": {key: os.environ.get(key) for key in (
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }


# -- the two sides ---------------------------------------------------------------------------
def host_inputs(case: Case, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(case.x_shape, dtype=np.float32)}
    if case.op == "conv":
        arrays["w"] = (0.1 * rng.standard_normal(case.w_shape)).astype(np.float32)
        arrays["b"] = rng.standard_normal(case.w_shape[0], dtype=np.float32)
        n, _, h, w = case.x_shape
        ho = 1 + (h + 2 * case.pad - case.w_shape[2]) // case.stride
        wo = 1 + (w + 2 * case.pad - case.w_shape[3]) // case.stride
        out_shape = (n, case.w_shape[0], ho, wo)
    else:
        n, c, h, w = case.x_shape
        out_shape = (n, c, 1 + (h - case.pool) // case.stride, 1 + (w - case.pool) // case.stride)
    arrays["dout"] = rng.standard_normal(out_shape, dtype=np.float32)
    return arrays


Steps = dict[str, Callable[[], Any]]  # "forward" / "forward+backward" -> call


def xplayers_steps(case: Case, device: str) -> tuple[Steps, Callable[[], list[Any]]]:
    """Timed calls and a function returning (out, dx) for the correctness check."""
    from xplayers import to_device

    a = {name: to_device(v, device) for name, v in host_inputs(case).items()}
    if case.op == "conv":
        conv_param = {"stride": case.stride, "pad": case.pad}

        def forward() -> Any:
            return conv_forward(a["x"], a["w"], a["b"], conv_param)

        def both() -> list[Any]:
            out, cache = forward()
            return [out, *conv_backward(a["dout"], cache)]
    else:
        pool_param = {"pool_height": case.pool, "pool_width": case.pool, "stride": case.stride}

        def forward() -> Any:
            return max_pool_forward(a["x"], pool_param)

        def both() -> list[Any]:
            out, cache = forward()
            return [out, max_pool_backward(a["dout"], cache)]

    return {"forward": forward, "forward+backward": both}, both


def torch_steps(case: Case, device: str) -> tuple[Steps, Callable[[], list[Any]]]:
    import torch
    import torch.nn.functional as F

    host = host_inputs(case)
    t = {name: torch.from_numpy(v).to(device) for name, v in host.items()}
    leaves = [t[name].requires_grad_() for name in ("x", "w", "b") if name in t]

    def run() -> Any:
        if case.op == "conv":
            return F.conv2d(t["x"], t["w"], t["b"], stride=case.stride, padding=case.pad)
        return F.max_pool2d(t["x"], case.pool, stride=case.stride)

    def forward() -> Any:
        with torch.no_grad():
            return run()

    def both() -> list[Any]:
        out = run()
        out.backward(t["dout"])
        grads = [leaf.grad for leaf in leaves]
        for leaf in leaves:
            leaf.grad = None
        return [out.detach(), *grads]

    return {"forward": forward, "forward+backward": both}, both


# -- timing --------------------------------------------------------------------------------
def time_calls(call: Callable[[], Any], sync: Callable[[], None], *,
               warmup: int, repeats: int, number: int) -> list[float]:
    """Seconds per call of each of ``repeats`` timed runs of ``number`` calls."""
    for _ in range(warmup):
        call()
    sync()
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        sync()
        per_call.append((time.perf_counter() - start) / number)
    return per_call


def max_rel_diff(ours: list[Any], theirs: list[Any]) -> float:
    """Largest ``|a - b| / max|b|`` over the paired outputs (float32 sums in other orders)."""
    from xplayers import to_numpy

    worst = 0.0
    for a, b in zip(ours, theirs, strict=False):
        a = np.asarray(to_numpy(a), dtype=np.float64)
        b = b.detach().cpu().numpy().astype(np.float64)
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)))
    return worst


def device_setup(device: str) -> tuple[str, str, Callable[[], None]] | str:
    """``(xplayers device, torch device, sync)`` or the reason the device is unusable."""
    if device == "cpu":
        return "cpu", "cpu", lambda: None
    import torch

    from xplayers._cuda import cuda_status

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


@dataclass
class Result:
    case: str
    description: str
    device: str
    mode: str  # "forward" or "forward+backward"
    xplayers_ms: float
    torch_ms: float
    ratio: float  # xplayers / torch: below 1 means xplayers is faster
    xplayers_min_ms: float
    torch_min_ms: float
    xplayers_repeats_ms: list[float]
    torch_repeats_ms: list[float]
    max_rel_diff: float  # outputs and gradients against PyTorch's, relative to their max


def run_device(device: str, args: argparse.Namespace) -> list[Result] | str:
    setup = device_setup(device)
    if isinstance(setup, str):
        return setup
    xpl_device, torch_device, sync = setup
    results = []
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        xpl, xpl_check = xplayers_steps(case, xpl_device)
        tor, tor_check = torch_steps(case, torch_device)
        diff = max_rel_diff(xpl_check(), tor_check())
        for mode in ("forward", "forward+backward"):
            times: dict[str, list[float]] = {"xplayers": [], "torch": []}
            for _ in range(args.rounds):
                for name, steps in (("xplayers", xpl), ("torch", tor)):
                    times[name] += time_calls(steps[mode], sync, warmup=args.warmup,
                                              repeats=args.repeats, number=args.number)
            x_ms = 1e3 * statistics.median(times["xplayers"])
            t_ms = 1e3 * statistics.median(times["torch"])
            results.append(Result(
                case=case.name, description=case.description, device=device, mode=mode,
                xplayers_ms=x_ms, torch_ms=t_ms, ratio=x_ms / t_ms,
                xplayers_min_ms=1e3 * min(times["xplayers"]),
                torch_min_ms=1e3 * min(times["torch"]),
                xplayers_repeats_ms=[1e3 * v for v in times["xplayers"]],
                torch_repeats_ms=[1e3 * v for v in times["torch"]],
                max_rel_diff=diff,
            ))
            print(_row(results[-1]), flush=True)
    return results


HEADER = (f"{'device':<6} {'case':<9} {'input':<48} {'pass':<16} {'xplayers ms':>11} "
          f"{'torch ms':>9} {'xpl/torch':>9} {'(min)':>6}  {'rel diff':>8}")


def _row(r: Result) -> str:
    return (f"{r.device:<6} {r.case:<9} {r.description:<48} {r.mode:<16} {r.xplayers_ms:>11.3f} "
            f"{r.torch_ms:>9.3f} {r.ratio:>9.2f} {r.xplayers_min_ms / r.torch_min_ms:>6.2f}  "
            f"{r.max_rel_diff:>8.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="default all: the CPU, and the GPU when CuPy and PyTorch can use one")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls before each block")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per block")
    parser.add_argument("--number", type=int, default=10, help="calls per timed repeat")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating blocks per library (median over all repeats)")
    parser.add_argument("--threads", type=int, default=None,
                        help="pin NumPy's BLAS and PyTorch to this many threads (default: as is)")
    parser.add_argument("--cases", nargs="*", choices=[c.name for c in CASES],
                        help="only these cases (default: all)")
    parser.add_argument("--json", type=Path, help="write the results and environment here")
    args = parser.parse_args(argv)
    limiter = pin_threads(args.threads)

    env = environment()
    print(f"numpy {env['numpy']}, torch {env['torch']} "
          f"(torch.get_num_threads() = {env['torch_num_threads']}), "
          f"{env['cpu_count']} CPUs: {env['processor']}")
    for lib in env["blas"]:
        print("  threadpool: " + ", ".join(f"{k}={v}" for k, v in lib.items() if v is not None))
    print("  " + ", ".join(f"{k}={v if v is not None else '(unset)'}"
                           for k, v in env["env"].items()))
    print(f"float32; median over {args.rounds} rounds x {args.repeats} repeats x {args.number} "
          f"calls, each block after {args.warmup} warm-up calls; '(min)' = ratio of the fastest "
          "repeats; 'rel diff' = max |xplayers - torch| / max |torch| over out and gradients\n")
    print(HEADER)
    print("-" * len(HEADER))

    devices = ("cpu", "cuda") if args.device == "all" else (args.device,)
    out: dict[str, Any] = {"environment": env, "settings": {
        "warmup": args.warmup, "repeats": args.repeats, "number": args.number,
        "rounds": args.rounds, "threads": args.threads, "dtype": "float32"},
        "results": [], "skipped": {}}
    for device in devices:
        results = run_device(device, args)
        if isinstance(results, str):
            print(f"{device:<6} {results}")
            out["skipped"][device] = results
            continue
        out["results"].extend(asdict(r) for r in results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    del limiter
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
