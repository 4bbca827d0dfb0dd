"""Time one full training step of small fully-connected nets: xplayers against PyTorch.

A step is forward + backward + an Adam update of every parameter, in float32, exactly as the
Solver runs it (``model.loss(X, y)``, then ``xplayers.optim.adam`` on each parameter with a copy
of its config, then ``float(loss)`` for the loss history). The PyTorch side is the equivalent
``nn.Sequential`` (Linear / BatchNorm1d / ReLU / Dropout), ``F.cross_entropy``,
``torch.optim.Adam`` with ``zero_grad(set_to_none=True)`` and ``loss.item()``. Both start from
the same weights and cycle through the same few minibatches, which already live on the device.

Each library is timed in blocks: warm-up steps, then several repeats of N steps; the blocks
alternate (xplayers, torch, xplayers, torch, ...) for ``--rounds`` rounds so that drift hits both
alike, while no repeat pays for the other library's thread pool winding down. The reported time
per step is the median repeat divided by N (the fastest repeat is kept in the JSON too).

Both libraries use their default thread pools unless ``--threads N`` pins NumPy's BLAS
(threadpoolctl) and PyTorch (``torch.set_num_threads``) to N threads; on a small or shared
machine ``--threads 1`` gives the steadier comparison.

Usage::

    python benchmarks/bench_train.py                       # CPU: NumPy vs PyTorch CPU
    python benchmarks/bench_train.py --device cuda         # CuPy vs PyTorch CUDA
    python benchmarks/bench_train.py --device all --json results.json
    python benchmarks/bench_train.py --threads 1 --cases digits-bn

On machines where ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` are set (they pin OpenBLAS to an
older, slower kernel), compare with a run that unsets both for that command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py
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

from xplayers.models import FullyConnectedNet
from xplayers.optim import adam

LEARNING_RATE = 1e-3
NUM_BATCHES = 4  # distinct minibatches cycled through, so no step sees cache-hot inputs only


@dataclass(frozen=True)
class Case:
    """One network and batch size to time."""

    name: str
    batch_size: int
    dims: tuple[int, ...]  # input, hidden..., classes
    normalization: str | None = None
    dropout: float = 0.0

    @property
    def description(self) -> str:
        extra = []
        if self.normalization:
            extra.append(self.normalization)
        if self.dropout:
            extra.append(f"dropout {self.dropout:g}")
        arch = " -> ".join(map(str, self.dims))
        return f"N={self.batch_size}, {arch}" + (f", {', '.join(extra)}" if extra else "")


CASES = (
    Case("digits-bn", 64, (64, 128, 64, 10), normalization="batchnorm"),
    Case("cifar-mlp", 128, (3072, 256, 10)),
    Case("mnist-dropout", 256, (784, 512, 512, 10), dropout=0.2),
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
                 "version": blas.get("version"), "openblas configuration":
                 blas.get("openblas configuration")}]
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

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "blas": blas_summary(),
        "env": {key: os.environ.get(key) for key in (
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# -- the two steps -------------------------------------------------------------------------
def host_batches(case: Case, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((case.batch_size, case.dims[0]), dtype=np.float32),
         rng.integers(0, case.dims[-1], size=case.batch_size).astype(np.int64))
        for _ in range(NUM_BATCHES)
    ]


def make_xplayers(case: Case, device: str) -> tuple[FullyConnectedNet, Callable[[int], float]]:
    """The model and a ``step(i) -> loss`` that trains on minibatch ``i % NUM_BATCHES``."""
    from xplayers import to_device

    model = FullyConnectedNet(
        list(case.dims[1:-1]), input_dim=case.dims[0], num_classes=case.dims[-1],
        dropout=case.dropout, normalization=case.normalization, weight_scale=5e-2,
        dtype=np.float32, init_seed=0,
    )
    model.to(device)
    batches = [(to_device(X, device), to_device(y, device)) for X, y in host_batches(case)]
    configs: dict[str, dict[str, Any]] = {
        name: {"learning_rate": LEARNING_RATE} for name in model.params
    }

    def step(i: int) -> float:
        X, y = batches[i % NUM_BATCHES]
        loss, grads = model.loss(X, y)
        updated = {}
        for name, w in model.params.items():  # as Solver._step does
            updated[name], configs[name] = adam(w, grads[name], dict(configs[name]))
        model.params.update(updated)
        return float(loss)

    return model, step


def make_torch(case: Case, device: str, model: FullyConnectedNet) -> Callable[[int], float]:
    """``step(i) -> loss`` of the equivalent PyTorch net, initialised with ``model``'s weights."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from xplayers import to_numpy

    params = to_numpy(model.params)
    layers: list[nn.Module] = []
    num_layers = len(case.dims) - 1
    for i in range(1, num_layers + 1):
        linear = nn.Linear(case.dims[i - 1], case.dims[i])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{i}"].T.copy()))
            linear.bias.copy_(torch.from_numpy(params[f"b{i}"]))
        layers.append(linear)
        if i == num_layers:
            break
        if case.normalization == "batchnorm":
            layers.append(nn.BatchNorm1d(case.dims[i], eps=1e-5, momentum=0.1))
        elif case.normalization == "layernorm":
            layers.append(nn.LayerNorm(case.dims[i], eps=1e-5))
        layers.append(nn.ReLU())
        if case.dropout:
            layers.append(nn.Dropout(case.dropout))
    net = nn.Sequential(*layers).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    batches = [(torch.from_numpy(X).to(device), torch.from_numpy(y).to(device))
               for X, y in host_batches(case)]

    def step(i: int) -> float:
        X, y = batches[i % NUM_BATCHES]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(X), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


# -- timing --------------------------------------------------------------------------------
def time_steps(
    step: Callable[[int], float], sync: Callable[[], None], *,
    warmup: int, repeats: int, number: int,
) -> list[float]:
    """Seconds per step of each of ``repeats`` timed runs of ``number`` steps."""
    for i in range(warmup):
        step(i)
    sync()
    per_step = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(number):
            step(i)
        sync()
        per_step.append((time.perf_counter() - start) / number)
    return per_step


def check_same_losses(case: Case, device: str, steps: int = 3) -> float | None:
    """Max relative difference of the first losses of both libraries (no dropout only)."""
    if case.dropout:
        return None
    model, xpl_step = make_xplayers(case, device)
    torch_step = make_torch(case, device, model)
    diffs = []
    for i in range(steps):
        a, b = xpl_step(i), torch_step(i)
        diffs.append(abs(a - b) / max(abs(b), 1e-12))
    return max(diffs)


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
    xplayers_ms: float
    torch_ms: float
    ratio: float  # xplayers / torch: below 1 means xplayers is faster
    xplayers_min_ms: float
    torch_min_ms: float
    xplayers_repeats_ms: list[float]
    torch_repeats_ms: list[float]
    first_losses_max_rel_diff: float | None


def run_device(device: str, args: argparse.Namespace) -> list[Result] | str:
    setup = device_setup(device)
    if isinstance(setup, str):
        return setup
    xpl_device, torch_device, sync = setup
    results = []
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        model, xpl_step = make_xplayers(case, xpl_device)
        steps = {"xplayers": xpl_step, "torch": make_torch(case, torch_device, model)}
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                times[name] += time_steps(step, sync, warmup=args.warmup,
                                          repeats=args.repeats, number=args.number)
        xpl, tor = statistics.median(times["xplayers"]), statistics.median(times["torch"])
        results.append(Result(
            case=case.name, description=case.description, device=device,
            xplayers_ms=1e3 * xpl, torch_ms=1e3 * tor, ratio=xpl / tor,
            xplayers_min_ms=1e3 * min(times["xplayers"]), torch_min_ms=1e3 * min(times["torch"]),
            xplayers_repeats_ms=[1e3 * t for t in times["xplayers"]],
            torch_repeats_ms=[1e3 * t for t in times["torch"]],
            first_losses_max_rel_diff=check_same_losses(case, xpl_device),
        ))
        print(_row(results[-1]), flush=True)
    return results


HEADER = (f"{'device':<6} {'case':<14} {'network':<46} {'xplayers ms':>11} {'torch ms':>9} "
          f"{'xpl/torch':>9} {'(min)':>6}  {'loss diff':>9}")


def _row(r: Result) -> str:
    diff = "-" if r.first_losses_max_rel_diff is None else f"{r.first_losses_max_rel_diff:.1e}"
    return (f"{r.device:<6} {r.case:<14} {r.description:<46} {r.xplayers_ms:>11.3f} "
            f"{r.torch_ms:>9.3f} {r.ratio:>9.2f} {r.xplayers_min_ms / r.torch_min_ms:>6.2f}  "
            f"{diff:>9}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="cpu")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before each block")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per block")
    parser.add_argument("--number", type=int, default=40, help="steps per timed repeat")
    parser.add_argument("--rounds", type=int, default=2,
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
    print(f"float32, Adam lr={LEARNING_RATE}; per step: median over {args.rounds} rounds x "
          f"{args.repeats} repeats x {args.number} steps, each block after {args.warmup} "
          "warm-up steps; '(min)' = ratio of the fastest repeats; 'loss diff' = max relative "
          "difference of the first 3 losses (same init, no dropout)\n")
    print(HEADER)
    print("-" * len(HEADER))

    devices = ("cpu", "cuda") if args.device == "all" else (args.device,)
    out: dict[str, Any] = {"environment": env, "settings": {
        "warmup": args.warmup, "repeats": args.repeats, "number": args.number,
        "rounds": args.rounds, "threads": args.threads, "learning_rate": LEARNING_RATE,
        "dtype": "float32"}, "results": [], "skipped": {}}
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
