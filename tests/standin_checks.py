"""Run in a fresh process by tests/test_launch_budget.py: the library's CuPy fast paths on the
counting stand-in (tests/counting_cupy.py) against the portable bodies on NumPy.

Prints one JSON object: for each check, the largest absolute difference and the launches the
CuPy path took.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import counting_cupy

cupy = counting_cupy.install()

import numpy as np  # noqa: E402

import xplayers  # noqa: E402
from xplayers.backend.trusted_labels import labels_checked  # noqa: E402
from xplayers.layer_utils import affine_relu_backward, affine_relu_forward  # noqa: E402
from xplayers.layers import (  # noqa: E402
    batchnorm_backward_alt,
    batchnorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


def _host(a):
    return a.get() if isinstance(a, cupy.ndarray) else np.asarray(a)


def _check(name, func, *host_args):
    with xplayers.fast_paths(False):
        want = func(*host_args)
    counting_cupy.reset()
    got = func(*(cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in host_args))
    launches = counting_cupy.COUNTS["launches"]
    flat_want = [w for w in (want if isinstance(want, tuple) else (want,))
                 if not isinstance(w, tuple)]
    flat_got = [g for g in (got if isinstance(got, tuple) else (got,))
                if not isinstance(g, tuple)]
    diff = max(float(np.max(np.abs(_host(g).astype(np.float64) - np.asarray(w, np.float64))))
               for g, w in zip(flat_got, flat_want, strict=True))
    return name, {"diff": diff, "launches": launches,
                  "is_cupy": all(isinstance(g, cupy.ndarray) for g in flat_got)}


def main() -> None:
    rng = np.random.default_rng(0)
    results = {}
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((33, 10)).astype(dtype) * 5
        y = rng.integers(0, 10, 33)
        a = rng.standard_normal((9, 7)).astype(dtype)
        a4 = rng.standard_normal((12, 4)).astype(dtype) * 3 + 1
        w = rng.standard_normal((7, 5)).astype(dtype)
        b = rng.standard_normal(5).astype(dtype)
        dout = rng.standard_normal((9, 5)).astype(dtype)
        for name, func, args in [
            ("softmax_loss", softmax_loss, (x, y)),
            ("softmax_loss_trusted", trusted_softmax_loss, (x, y)),
            ("relu_backward", lambda d, c: relu_backward(d, c), (dout, dout[::-1].copy())),
            ("relu_forward", lambda v: relu_forward(v)[0], (a,)),
            ("affine_relu_forward", lambda *v: affine_relu_forward(*v)[0], (a, w, b)),
            ("batchnorm_train", batchnorm_train, (a4, b[:4] + 1, b[1:].copy())),
            ("batchnorm_roundtrip", batchnorm_roundtrip, (a4, b[:4] + 1, b[1:].copy())),
            ("affine_relu_roundtrip",
             lambda *v: affine_relu_backward(dout_like(v), affine_relu_forward(*v)[1]),
             (a, w, b)),
        ]:
            key, value = _check(name, func, *args)
            results[f"{key}/{np.dtype(dtype).name}"] = value
    results["solver_steps"] = solver_steps()
    print(json.dumps(results))


def solver_steps() -> dict:
    """Three Adam steps of a batch-norm net and of a conv net through the Solver, on the
    stand-in (every CuPy path of the step) and on NumPy: the largest parameter difference."""
    from xplayers.models import FullyConnectedNet, ThreeLayerConvNet
    from xplayers.training.solver import Solver

    rng = np.random.default_rng(1)
    worst, launches = 0.0, 0
    for make, shape in (
        (lambda: FullyConnectedNet([16, 12], input_dim=10, num_classes=5,
                                   normalization="batchnorm", dtype=np.float64, init_seed=0),
         (40, 10)),
        (lambda: ThreeLayerConvNet((3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                                   num_classes=5, dtype=np.float64, seed=0), (40, 3, 8, 8)),
    ):
        X = rng.standard_normal(shape)
        y = rng.integers(0, 5, shape[0])
        data = {"X_train": X, "y_train": y, "X_val": X[:8], "y_val": y[:8]}
        params = {}
        for device in ("cpu", "cuda"):
            model = make()
            solver = Solver(model, data, update_rule="adam", batch_size=10, device=device,
                            verbose=False, seed=0, optim_config={"learning_rate": 1e-2})
            counting_cupy.reset()
            for i in range(3):
                solver._step(np.arange(i * 10, i * 10 + 10))
            if device == "cuda":
                launches += counting_cupy.COUNTS["launches"]
            params[device] = {k: _host(v) for k, v in model.params.items()}
        worst = max(worst, *(float(np.max(np.abs(params["cpu"][k] - params["cuda"][k])))
                             for k in params["cpu"]))
    return {"diff": worst, "launches": launches, "is_cupy": True}


def batchnorm_train(x, gamma, beta):
    """Output and both running statistics after one training-mode call."""
    param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    return out, param["running_mean"], param["running_var"]


def batchnorm_roundtrip(x, gamma, beta):
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return batchnorm_backward_alt(out * out, cache)


def trusted_softmax_loss(x, y):
    """As the Solver calls it: labels checked once when the data moved to the device."""
    with labels_checked(10):
        return softmax_loss(x, y)


def dout_like(args):
    x, w, _ = args
    xp = xplayers.get_array_module(x)
    return xp.ones((x.shape[0], w.shape[1]), dtype=x.dtype)


if __name__ == "__main__":
    main()
