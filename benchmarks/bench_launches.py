"""Kernel launches, allocations and device-to-host reads of one training step, counted on a CPU.

For each case of ``bench_train.py`` (and each of its update rules), one step of the Solver
(``Solver._step``: minibatch gather, ``model.loss``, the update of every parameter) runs on the
counting stand-in for CuPy (``tests/counting_cupy.py``: NumPy underneath, seen as CuPy, so the
library's CuPy code paths run) after one warm-up step; the stand-in counts each kernel CuPy
would launch, each cuBLAS call, each new array and each device-to-host read.

The PyTorch count is the same step in eager PyTorch (``bench_train.make_torch``'s net, loss and
optimizer, with ``foreach=True`` as PyTorch picks on a GPU, and without ``loss.item()``),
profiled by ``torch.profiler`` on the CPU. Counted as one launch each: every *leaf* ``aten::``
operator (one that dispatches no other launching ``aten::`` operator) except metadata and view
operators (``view``, ``reshape``, ``t``, ``transpose``, ``expand``, ``as_strided``, ``empty``,
``resolve_conj``... which launch nothing on a GPU), and every ``aten::_foreach_*`` operator
as one (a multi-tensor launch on a GPU; on the CPU it loops per tensor). ``allocations``
there counts ``aten::empty*``.

Usage::

    python benchmarks/bench_launches.py                  # print the table
    python benchmarks/bench_launches.py --json FILE      # and write {case: {...}}
    python benchmarks/bench_launches.py --gpu --json FILE  # on a GPU: measured there

With ``--gpu`` (a CUDA GPU, CuPy and PyTorch with CUDA) the same steps run on the real CuPy
and on PyTorch CUDA, and the kernels that reach the GPU are counted by ``torch.profiler``'s
CUDA activity (CUPTI sees every kernel of the process, CuPy's included): ``xplayers`` and
``torch`` are then kernels executed, ``host_reads`` device-to-host copies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# --gpu: count on a real GPU (CuPy and PyTorch CUDA) instead of the stand-in.
ON_GPU = "--gpu" in sys.argv[1:]
if not ON_GPU:
    import counting_cupy  # (before anything imports cupy)

    counting_cupy.install()

from bench_train import CASES, NUM_BATCHES, host_batches  # noqa: E402

from xplayers.models import FullyConnectedNet, ThreeLayerConvNet  # noqa: E402
from xplayers.training.solver import Solver  # noqa: E402

_NO_LAUNCH = {
    "aten::view", "aten::reshape", "aten::_reshape_alias", "aten::t", "aten::transpose",
    "aten::expand", "aten::as_strided", "aten::empty", "aten::empty_strided",
    "aten::empty_like", "aten::resize_", "aten::detach", "aten::detach_", "aten::alias",
    "aten::unsqueeze", "aten::squeeze", "aten::permute", "aten::select", "aten::slice",
    "aten::lift_fresh", "aten::result_type", "aten::numpy_T", "aten::flatten",
    "aten::_unsafe_view", "aten::unbind", "aten::split", "aten::chunk", "aten::narrow",
    "aten::is_nonzero", "aten::set_", "aten::_has_compatible_shallow_copy_type",
    "aten::resolve_conj", "aten::resolve_neg", "aten::to", "aten::linear", "aten::expand_as",
    "aten::view_as", "aten::contiguous",
}
_HOST_READ = {"aten::item", "aten::_local_scalar_dense"}


def case_names() -> list[str]:
    return [f"{c.name}/{rule}" for c in CASES for rule in c.rules]


def _model(case: Any) -> Any:
    if case.image:
        return ThreeLayerConvNet(case.image, num_filters=case.filters,
                                 filter_size=case.filter_size, hidden_dim=case.dims[1],
                                 num_classes=case.dims[-1], weight_scale=5e-2,
                                 dtype=np.float32, seed=0)
    return FullyConnectedNet(list(case.dims[1:-1]), input_dim=case.dims[0],
                             num_classes=case.dims[-1], dropout=case.dropout,
                             normalization=case.normalization, weight_scale=5e-2,
                             dtype=np.float32, init_seed=0)


def _solver(case: Any, rule: str) -> tuple[Any, list[Any]]:
    X, y = (np.concatenate(parts) for parts in zip(*host_batches(case), strict=True))
    data = {"X_train": X, "y_train": y, "X_val": X[:8], "y_val": y[:8]}
    solver = Solver(_model(case), data, update_rule=rule, optim_config={"learning_rate": 1e-3},
                    batch_size=case.batch_size, device="cuda", verbose=False, seed=0)
    rows = [np.arange(i * case.batch_size, (i + 1) * case.batch_size) for i in range(2)]
    return solver, [solver.train_data.xp.asarray(r) for r in rows]  # on the device


def count_xplayers(case: Any, rule: str) -> dict[str, int]:
    """Launches, cuBLAS calls, allocations and host reads of the second Solver step."""
    solver, indices = _solver(case, rule)
    solver._step(indices[0])  # warm-up: creates optimizer state
    if ON_GPU:
        return _gpu_counts(lambda: solver._step(indices[1]))
    counting_cupy.reset()
    solver._step(indices[1])
    counts = dict(counting_cupy.COUNTS)
    return {k: int(counts.get(k, 0)) for k in ("launches", "blas", "allocations", "host_reads")}


def _gpu_counts(step: Any) -> dict[str, int]:
    """Kernels and device-to-host copies ``step`` puts on the GPU, as CUPTI records them."""
    import cupy
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cupy.cuda.runtime.deviceSynchronize()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        step()
        cupy.cuda.runtime.deviceSynchronize()
        torch.cuda.synchronize()
    on_gpu = [e for e in prof.events() if e.device_type == DeviceType.CUDA]
    copies = [e for e in on_gpu if e.name.lower().startswith(("memcpy", "memset"))]
    kernels = [e for e in on_gpu if e not in copies]
    return {"launches": len(kernels),
            "blas": sum("gemm" in e.name.lower() or "cublas" in e.name.lower()
                        for e in kernels),
            "allocations": -1,  # not measured on the GPU
            "host_reads": sum("dtoh" in e.name.lower().replace(" ", "") for e in copies)}


def count_torch(case: Any, rule: str) -> dict[str, int]:
    """Launches and allocations of one eager PyTorch step (no ``loss.item()``)."""
    import bench_train
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile

    model = _model(case)

    params = {k: np.asarray(v) for k, v in model.params.items()}
    layers = (bench_train._torch_conv_layers(case, params) if case.image
              else bench_train._torch_mlp_layers(case, params))
    device = "cuda" if ON_GPU else "cpu"
    net = torch.nn.Sequential(*layers).to(device).train()
    if rule == "adam":
        opt: Any = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=True)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=1e-3, foreach=True,
                              momentum=0.9 if rule == "sgd_momentum" else 0.0)
    batches = [(torch.from_numpy(a).to(device), torch.from_numpy(b).to(device))
               for a, b in host_batches(case)]

    def step(i: int) -> None:
        Xb, yb = batches[i % NUM_BATCHES]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(Xb), yb)
        loss.backward()
        opt.step()

    step(0)
    if ON_GPU:
        return _gpu_counts(lambda: step(1))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(1)
    return _torch_counts(prof.events())


def _torch_counts(events: Any) -> dict[str, int]:
    children: dict[int, list] = {}
    for e in events:
        if e.cpu_parent is not None:
            children.setdefault(id(e.cpu_parent), []).append(e)
    counts = {"launches": 0, "blas": 0, "allocations": 0, "host_reads": 0}

    def inside_foreach(e: Any) -> bool:
        p = e.cpu_parent
        while p is not None:
            if p.name.startswith("aten::_foreach_"):
                return True
            p = p.cpu_parent
        return False

    def launches_below(e: Any) -> bool:
        return any((c.name.startswith("aten::") and c.name not in _NO_LAUNCH)
                   or launches_below(c) for c in children.get(id(e), []))

    for e in events:
        name = e.name
        if not name.startswith("aten::") or inside_foreach(e):
            continue
        if name.startswith("aten::empty"):
            counts["allocations"] += 1
        if name in _HOST_READ:
            counts["host_reads"] += 1
            continue
        if name.startswith("aten::_foreach_"):
            counts["launches"] += 1
            continue
        if name in _NO_LAUNCH or launches_below(e):
            continue  # launches nothing itself, or what it dispatches is counted
        counts["launches"] += 1
        if name in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"):
            counts["blas"] += 1
    return counts


def main(argv: list[str] | None = None) -> dict[str, dict[str, int]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the counts to this file")
    parser.add_argument("--cases", nargs="*", help="case/rule names (default: all)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch counts")
    parser.add_argument("--gpu", action="store_true",
                        help="count kernels on a real GPU (CuPy, PyTorch CUDA, torch.profiler)")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, int]] = {}
    print(f"{'case':<28}{'xplayers':>9}{'torch':>7}{'cuBLAS':>8}{'allocs':>8}{'reads':>7}")
    for case in CASES:
        for rule in case.rules:
            name = f"{case.name}/{rule}"
            if args.cases and name not in args.cases:
                continue
            ours = count_xplayers(case, rule)
            theirs = None if args.no_torch else count_torch(case, rule)
            results[name] = {"xplayers": ours["launches"],
                             "torch": theirs["launches"] if theirs else None,
                             "allocations": ours["allocations"], "host_reads": ours["host_reads"],
                             "cublas": ours["blas"],
                             "torch_allocations": theirs["allocations"] if theirs else None}
            r = results[name]
            print(f"{name:<28}{r['xplayers']:>9}{r['torch'] if theirs else '-':>7}"
                  f"{r['cublas']:>8}{r['allocations']:>8}{r['host_reads']:>7}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


if __name__ == "__main__":
    main()
