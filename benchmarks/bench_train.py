"""Time one full training step of small nets: xplayers against PyTorch.

A step is forward + backward + an update of every parameter (SGD, SGD with momentum or Adam),
in float32, exactly as the Solver runs it (``model.loss(X, y)``, then the update rule on each
parameter with a copy of its config, by :func:`xplayers.optim.update_all`, one launch for all
parameters on CuPy, then ``float(loss)`` for the loss history).
The PyTorch side is the equivalent ``nn.Sequential`` (Linear / BatchNorm1d / ReLU / Dropout,
or for the conv net Conv2d / ReLU / MaxPool2d / Flatten / Linear), ``F.cross_entropy``,
``torch.optim.SGD`` / ``SGD(momentum=0.9)`` / ``Adam`` with ``zero_grad(set_to_none=True)`` and
``loss.item()``. Both start from
the same weights and cycle through the same few minibatches, which already live on the device.

Beside PyTorch, each step is timed against its *floor*: just the matrix products the step
needs (forward, ``dW`` of every layer, ``dX`` of all but the first), NumPy ``matmul`` into
preallocated outputs, with the same thread settings. ``xpl/floor`` near 1 means everything
around the products costs little. On the CPU the peak host memory of one step (tracemalloc:
model, data, optimizer state and every temporary) is printed beside the theoretical need:
parameters + gradients + optimizer state + cached activations + the minibatch; on the GPU,
the bytes CuPy's memory pool holds after the steps.

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
    python benchmarks/bench_train.py --threads 1 --cases cifar-512 --optimizers adam

On machines where ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` are set (they pin OpenBLAS to an
older, slower kernel), compare with a run that unsets both for that command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py
"""

from __future__ import annotations

import argparse
import itertools
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
    device_setup,
    environment,
    matmul_floor,
    peak_host_memory,
    pin_threads,
    print_environment,
    run_devices,
    summary,
)

from xplayers.models import FullyConnectedNet, Model, ThreeLayerConvNet
from xplayers.optim import update_all

ALL_RULES = ("sgd", "sgd_momentum", "adam")

LEARNING_RATE = 1e-3
NUM_BATCHES = 4  # distinct minibatches cycled through, so no step sees cache-hot inputs only


@dataclass(frozen=True)
class Case:
    """One network and batch size to time: an MLP, or a ThreeLayerConvNet if ``image``."""

    name: str
    batch_size: int
    dims: tuple[int, ...]  # input, hidden..., classes
    normalization: str | None = None
    dropout: float = 0.0
    image: tuple[int, int, int] | None = None  # (C, H, W) of a conv net's input
    filters: int = 0
    filter_size: int = 0
    rules: tuple[str, ...] = ("adam",)  # update rules timed on this net

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.image or self.dims[:1]

    @property
    def description(self) -> str:
        if self.image:
            c, h, w = self.image
            return (f"N={self.batch_size}, {c}x{h}x{w}, conv {self.filters} "
                    f"{self.filter_size}x{self.filter_size}, pool, {self.dims[1]}, "
                    f"{self.dims[2]}")
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
    Case("cifar-512", 256, (3072, 512, 512, 10), rules=ALL_RULES),
    Case("mnist-512", 256, (784, 512, 512, 10), rules=ALL_RULES),
    Case("cifar-convnet", 64, (3 * 32 * 32, 100, 10), image=(3, 32, 32), filters=32,
         filter_size=7),
)


# -- environment ---------------------------------------------------------------------------
# -- the two steps -------------------------------------------------------------------------
def host_batches(case: Case, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((case.batch_size, *case.input_shape), dtype=np.float32),
         rng.integers(0, case.dims[-1], size=case.batch_size).astype(np.int64))
        for _ in range(NUM_BATCHES)
    ]


def make_xplayers(case: Case, device: str,
                  rule: str = "adam") -> tuple[Model, Callable[[int], float]]:
    """The model and a ``step(i) -> loss`` that trains on minibatch ``i % NUM_BATCHES``."""
    from xplayers import to_device

    model: Model
    if case.image:
        model = ThreeLayerConvNet(case.image, num_filters=case.filters,
                                  filter_size=case.filter_size, hidden_dim=case.dims[1],
                                  num_classes=case.dims[-1], weight_scale=5e-2,
                                  dtype=np.float32, seed=0)
    else:
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
        updated, new_configs = update_all(rule, model.params, grads, configs)  # as the Solver
        model.params.update(updated)
        configs.update(new_configs)
        return float(loss)

    return model, step


def make_torch(case: Case, device: str, model: Model,
               rule: str = "adam") -> Callable[[int], float]:
    """``step(i) -> loss`` of the equivalent PyTorch net, initialised with ``model``'s weights."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from xplayers import to_numpy

    params = to_numpy(model.params)
    layers = _torch_conv_layers(case, params) if case.image else _torch_mlp_layers(case, params)
    net = nn.Sequential(*layers).to(device).train()
    if rule == "adam":
        opt: Any = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    else:  # our velocity is -lr times torch's buffer: the same steps at a constant lr
        opt = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE,
                              momentum=0.9 if rule == "sgd_momentum" else 0.0)
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


def _torch_mlp_layers(case: Case, params: dict[str, np.ndarray]) -> list[Any]:
    import torch
    from torch import nn

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
    return layers


def _torch_conv_layers(case: Case, params: dict[str, np.ndarray]) -> list[Any]:
    import torch
    from torch import nn

    assert case.image is not None
    conv = nn.Conv2d(case.image[0], case.filters, case.filter_size,
                     padding=(case.filter_size - 1) // 2)
    hidden = nn.Linear(params["W2"].shape[0], case.dims[1])
    scores = nn.Linear(case.dims[1], case.dims[2])
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(params["W1"]))
        conv.bias.copy_(torch.from_numpy(params["b1"]))
        for linear, i in ((hidden, 2), (scores, 3)):
            linear.weight.copy_(torch.from_numpy(params[f"W{i}"].T.copy()))
            linear.bias.copy_(torch.from_numpy(params[f"b{i}"]))
    return [conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), hidden, nn.ReLU(), scores]


# -- floor and memory ----------------------------------------------------------------------
def layer_products(case: Case) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """The matrix products of one training step, with the operands' layouts of the layers:
    per layer ``X @ W``, ``X.T @ dZ`` and (all but the first layer) ``dZ @ W.T``; the conv
    layer as its im2col products ``W @ cols`` and ``cols @ dZ.T`` (no ``dx`` for the input)."""
    n = case.batch_size
    products: list[tuple[tuple[int, int], tuple[int, int], str]] = []
    dims = list(case.dims)
    if case.image:
        c, h, w = case.image
        k = c * case.filter_size**2 + 1  # the bias rides along as a row of ones
        pixels = n * h * (w + case.filter_size - 1)  # rows read at the padded width
        products += [((case.filters, k), (k, pixels), ""), ((k, pixels), (pixels, case.filters),
                                                          "b")]
        dims[0] = case.filters * (h // 2) * (w // 2)  # after the 2x2 pool
    for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
        products += [((n, d_in), (d_in, d_out), ""), ((d_in, n), (n, d_out), "a")]
        if i > 0 or case.image:
            products.append(((n, d_out), (d_out, d_in), "b"))
    return products


STATE_ARRAYS = {"sgd": 0, "sgd_momentum": 1, "adam": 2}


def theoretical_bytes(case: Case, rule: str, model: Model) -> int:
    """Parameters + gradients + optimizer state + cached activations + the minibatch."""
    itemsize = 4
    params = sum(int(np.prod(w.shape)) for w in model.params.values())
    n = case.batch_size
    batch = n * int(np.prod(case.input_shape)) + n * 2  # int64 labels
    if case.image:
        _, h, w = case.image
        # the conv output (pooled in place of its ReLU), the pooled map, hidden, scores
        acts = n * case.filters * h * w + n * case.filters * h * w // 4
        acts += n * case.dims[1] + n * case.dims[2]
    else:
        acts = n * sum(case.dims[1:])  # each hidden layer's output, the scores
        if case.dropout:
            acts += n * sum(case.dims[1:-1])  # the masks
    return itemsize * ((2 + STATE_ARRAYS[rule]) * params + acts + batch)


def peak_step_bytes(case: Case, device: str, rule: str) -> int | None:
    """Peak memory of one step: tracemalloc on the host, CuPy's pool on the GPU."""
    if device == "cpu":
        return peak_host_memory(lambda: make_xplayers(case, device, rule)[1])
    try:
        import cupy
    except ImportError:
        return None
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    _, step = make_xplayers(case, device, rule)
    for i in range(3):
        step(i)
    return int(pool.total_bytes())


# -- timing --------------------------------------------------------------------------------
def check_same_losses(case: Case, device: str, steps: int = 3,
                      rule: str = "adam") -> float | None:
    """Max relative difference of the first losses of both libraries (no dropout only)."""
    if case.dropout:
        return None
    model, xpl_step = make_xplayers(case, device, rule)
    torch_step = make_torch(case, device, model, rule)
    diffs = []
    for i in range(steps):
        a, b = xpl_step(i), torch_step(i)
        diffs.append(abs(a - b) / max(abs(b), 1e-12))
    return max(diffs)


def run_device(device: str, args: argparse.Namespace) -> list[dict[str, Any]] | str:
    setup = device_setup(device)
    if isinstance(setup, str):
        return setup
    xpl_device, torch_device, sync = setup
    results = []
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        for rule in case.rules:
            if args.optimizers and rule not in args.optimizers:
                continue
            model, xpl_step = make_xplayers(case, xpl_device, rule)
            steps = {"xplayers": xpl_step, "torch": make_torch(case, torch_device, model, rule)}
            if device == "cpu":
                steps["floor"] = matmul_floor(layer_products(case))
            times = alternate(steps, sync, args)
            results.append({
                "case": case.name, "description": case.description, "device": device,
                "rule": rule, **summary(times),
                "peak_bytes": peak_step_bytes(case, xpl_device, rule),
                "theoretical_bytes": theoretical_bytes(case, rule, model),
                "first_losses_max_rel_diff": check_same_losses(case, xpl_device, rule=rule)})
            print(_row(results[-1]), flush=True)
    return results


HEADER = (f"{'device':<6} {'case':<14} {'network':<46} {'rule':<12} {'xplayers ms':>11} "
          f"{'torch ms':>9} {'xpl/torch':>9} {'(min)':>6} {'xpl/floor':>9} "
          f"{'peak MB':>8} {'need MB':>8}  {'loss diff':>9}")


def _row(r: dict[str, Any]) -> str:
    diff = r["first_losses_max_rel_diff"]
    diff = "-" if diff is None else f"{diff:.1e}"
    floor = f"{r['floor_ratio']:.2f}" if "floor_ratio" in r else "-"
    peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f}"
    return (f"{r['device']:<6} {r['case']:<14} {r['description']:<46} {r['rule']:<12} "
            f"{r['xplayers_ms']:>11.3f} {r['torch_ms']:>9.3f} {r['ratio']:>9.2f} "
            f"{r['xplayers_min_ms'] / r['torch_min_ms']:>6.2f} {floor:>9} "
            f"{peak:>8} {r['theoretical_bytes'] / 2**20:>8.1f}  {diff:>9}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, device="cpu", warmup=20, number=40, rounds=2,
                         cases=[c.name for c in CASES])
    parser.add_argument("--optimizers", nargs="*", choices=ALL_RULES,
                        help="only these update rules (default: each case's own)")
    args = parser.parse_args(argv)
    limiter = pin_threads(args.threads)
    env = environment()
    print_environment(env)
    print(f"float32, lr={LEARNING_RATE}; per step: median over {args.rounds} rounds x "
          f"{args.repeats} repeats x {args.number} steps, each block after {args.warmup} "
          "warm-up steps; '(min)' = ratio of the fastest repeats; 'loss diff' = max relative "
          "difference of the first 3 losses (same init, no dropout); 'xpl/floor' = xplayers / "
          "the step's matrix products alone; 'peak MB' = peak of one step (tracemalloc or "
          "CuPy's pool), 'need MB' = params + grads + state + activations + batch\n")
    print(HEADER)
    print("-" * len(HEADER))
    run_devices(args, env, {"learning_rate": LEARNING_RATE}, run_device)
    del limiter
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
