"""Time conv-net layers (conv, max pool, spatial norms): xplayers against PyTorch, one process.

Each case is timed twice, forward only and forward + backward, in float32:

- conv: ``conv_forward`` + ``conv_backward`` (dx, dw and db) against ``F.conv2d`` and autograd
  (with ``requires_grad`` on x, w and b, so PyTorch computes the same three gradients);
- pool: ``max_pool_forward`` + ``max_pool_backward`` against ``F.max_pool2d`` and autograd;
- sbn / gn: spatial batch norm (training mode) and group norm (4 groups), forward + backward
  (dx, dgamma, dbeta), against ``F.batch_norm`` / ``F.group_norm`` and autograd.

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
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import (
    add_common_arguments,
    alternate,
    copy_floor,
    device_setup,
    environment,
    matmul_floor,
    pin_threads,
    print_environment,
    run_devices,
    summary,
)

from xplayers.layers import (
    conv_backward,
    conv_forward,
    max_pool_backward,
    max_pool_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)


@dataclass(frozen=True)
class Case:
    """One layer on one input shape."""

    name: str
    op: str  # "conv", "pool", "sbn" (spatial batch norm) or "gn" (group norm, 4 groups)
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
        if self.op == "pool":
            return f"{x}, {self.pool}x{self.pool} max pool, stride {self.stride}"
        return f"{x}, " + ("spatial batch norm" if self.op == "sbn" else "group norm, G=4")


CASES = (
    Case("conv-c3", "conv", (64, 3, 32, 32), (32, 3, 3, 3), stride=1, pad=1),
    Case("conv-c32", "conv", (64, 32, 16, 16), (64, 32, 3, 3), stride=1, pad=1),
    Case("pool-32", "pool", (64, 32, 32, 32), stride=2, pool=2),
    Case("pool-64", "pool", (64, 64, 16, 16), stride=2, pool=2),
    Case("sbn-32", "sbn", (64, 32, 32, 32)),
    Case("gn-32", "gn", (64, 32, 32, 32)),
)
GROUPS = 4


# -- environment ---------------------------------------------------------------------------
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
    elif case.op == "pool":
        n, c, h, w = case.x_shape
        out_shape = (n, c, 1 + (h - case.pool) // case.stride, 1 + (w - case.pool) // case.stride)
    else:  # gamma and beta under the names PyTorch's leaves are collected by
        arrays["w"] = (1.0 + 0.1 * rng.standard_normal(case.x_shape[1])).astype(np.float32)
        arrays["b"] = (0.1 * rng.standard_normal(case.x_shape[1])).astype(np.float32)
        out_shape = case.x_shape
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
    elif case.op == "pool":
        pool_param = {"pool_height": case.pool, "pool_width": case.pool, "stride": case.stride}

        def forward() -> Any:
            return max_pool_forward(a["x"], pool_param)

        def both() -> list[Any]:
            out, cache = forward()
            return [out, max_pool_backward(a["dout"], cache)]
    elif case.op == "sbn":
        def forward() -> Any:
            return spatial_batchnorm_forward(a["x"], a["w"], a["b"], {"mode": "train"})

        def both() -> list[Any]:
            out, cache = forward()
            return [out, *spatial_batchnorm_backward(a["dout"], cache)]
    else:
        def forward() -> Any:
            return spatial_groupnorm_forward(a["x"], a["w"], a["b"], GROUPS)

        def both() -> list[Any]:
            out, cache = forward()
            return [out, *spatial_groupnorm_backward(a["dout"], cache)]

    return {"forward": forward, "forward+backward": both}, both


def torch_steps(case: Case, device: str) -> tuple[Steps, Callable[[], list[Any]]]:
    import torch
    import torch.nn.functional as F

    host = host_inputs(case)
    t = {name: torch.from_numpy(v).to(device) for name, v in host.items()}
    leaves = [t[name].requires_grad_() for name in ("x", "w", "b") if name in t]

    running = [torch.zeros(case.x_shape[1], device=device),
               torch.ones(case.x_shape[1], device=device)]

    def run() -> Any:
        if case.op == "conv":
            return F.conv2d(t["x"], t["w"], t["b"], stride=case.stride, padding=case.pad)
        if case.op == "pool":
            return F.max_pool2d(t["x"], case.pool, stride=case.stride)
        if case.op == "sbn":
            return F.batch_norm(t["x"], *running, t["w"], t["b"], training=True)
        return F.group_norm(t["x"], GROUPS, t["w"], t["b"])

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


# -- floor -----------------------------------------------------------------------------------
def floor_step(case: Case, mode: str) -> Callable[[int], None]:
    """What the layer cannot avoid: the conv's im2col products (bias folded in, rows at the
    padded width, as the NumPy path runs them), or for the memory-bound layers a copy of the
    bytes they must read and write (pool: x in, out out, then dout in, dx out; the norms: x in,
    out out, then dout and x in, dx out)."""
    n, c, h, w = case.x_shape
    size = n * c * h * w
    backward = mode == "forward+backward"
    if case.op == "conv":
        f, _, hh, ww = case.w_shape
        k = c * hh * ww
        ho = 1 + (h + 2 * case.pad - hh) // case.stride
        width = w + 2 * case.pad if case.stride == 1 else 1 + (w + 2 * case.pad - ww) // case.stride
        pixels = n * ho * width
        products = [((f, k + 1), (k + 1, pixels), "")]
        if backward:
            products += [((k + 1, pixels), (pixels, f), "b"), ((k, f), (f, pixels), "")]
        return matmul_floor(products)
    if case.op == "pool":
        out = size // (case.pool * case.pool)
        moved = (size + out) * (2 if backward else 1)
    else:
        moved = 2 * size + (3 * size if backward else 0)
    return copy_floor([moved // 2])  # a copy reads and writes its size


# -- timing ----------------------------------------------------------------------------------


def max_rel_diff(ours: list[Any], theirs: list[Any]) -> float:
    """Largest ``|a - b| / max|b|`` over the paired outputs (float32 sums in other orders)."""
    from xplayers import to_numpy

    worst = 0.0
    for a, b in zip(ours, theirs, strict=False):
        a = np.asarray(to_numpy(a), dtype=np.float64)
        b = b.detach().cpu().numpy().astype(np.float64)
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)))
    return worst


def run_device(device: str, args: argparse.Namespace) -> list[dict[str, Any]] | str:
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
            steps = {"xplayers": lambda i, f=xpl[mode]: f(),
                     "torch": lambda i, f=tor[mode]: f()}
            if device == "cpu":
                steps["floor"] = floor_step(case, mode)
            times = alternate(steps, sync, args)
            results.append({"case": case.name, "description": case.description,
                            "device": device, "mode": mode, **summary(times),
                            # outputs and gradients against PyTorch's, relative to their max
                            "max_rel_diff": diff})
            print(_row(results[-1]), flush=True)
    return results


HEADER = (f"{'device':<6} {'case':<9} {'input':<48} {'pass':<16} {'xplayers ms':>11} "
          f"{'torch ms':>9} {'xpl/torch':>9} {'(min)':>6} {'xpl/floor':>9}  {'rel diff':>8}")


def _row(r: dict[str, Any]) -> str:
    return (f"{r['device']:<6} {r['case']:<9} {r['description']:<48} {r['mode']:<16} "
            f"{r['xplayers_ms']:>11.3f} {r['torch_ms']:>9.3f} {r['ratio']:>9.2f} "
            f"{r['xplayers_min_ms'] / r['torch_min_ms']:>6.2f} "
            f"{r['floor_ratio'] if 'floor_ratio' in r else float('nan'):>9.2f}  "
            f"{r['max_rel_diff']:>8.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, device="all", warmup=5, number=10, rounds=3,
                         cases=[c.name for c in CASES])
    args = parser.parse_args(argv)
    limiter = pin_threads(args.threads)
    env = environment()
    print_environment(env)
    print(f"float32; median over {args.rounds} rounds x {args.repeats} repeats x {args.number} "
          f"calls, each block after {args.warmup} warm-up calls; '(min)' = ratio of the fastest "
          "repeats; 'rel diff' = max |xplayers - torch| / max |torch| over out and gradients; "
          "'xpl/floor' = xplayers / the layer's matrix products alone (conv) or a copy of the "
          "bytes it must read and write (pool, norms)\n")
    print(HEADER)
    print("-" * len(HEADER))
    run_devices(args, env, {}, run_device)
    del limiter
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
