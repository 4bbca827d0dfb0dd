"""A training step reads nothing back from the device: host reads counted on array_api_strict.

array_api_strict stands in for a GPU library: every way a value can reach the host
(``bool()``, ``float()``, ``int()``, ``operator.index``, ``complex()``, NumPy conversion,
DLPack, the buffer protocol) is wrapped to count calls. The Solver's steps in the steady
state must count zero; the loss is read only at print / epoch boundaries.
"""

from __future__ import annotations

import numpy as np
import pytest

from xplayers import to_numpy
from xplayers.data import make_blobs
from xplayers.models import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet
from xplayers.solver import Solver, TrainingDiverged
from xplayers.training import batches as _sampling

strict = pytest.importorskip("array_api_strict")

HOST_READS = ("__bool__", "__float__", "__int__", "__index__", "__complex__", "__array__",
              "__dlpack__", "__buffer__", "tolist", "item")


@pytest.fixture
def host_reads(monkeypatch):
    """A list that gets one entry per host read of any array_api_strict array."""
    reads: list[str] = []
    array_class = strict._array_object.Array
    for name in HOST_READS:
        original = getattr(array_class, name, None)
        if original is None:
            continue

        def counted(self, *args, _name=name, _original=original, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(array_class, name, counted)
    return reads


@pytest.fixture
def strict_solver(monkeypatch):
    """A Solver whose model and data live on array_api_strict's non-default device."""
    device = strict.Device("device1")

    def to_strict(x, target=None):
        if isinstance(x, np.ndarray):
            return strict.asarray(x, device=device)
        return x

    monkeypatch.setattr(_sampling, "to_device", to_strict)

    def make(model=None, data=None, **kwargs):
        if data is None:
            data = make_blobs(num_classes=4, num_per_class=40, dim=5, seed=0)
        if model is None:
            model = FullyConnectedNet([16, 8], input_dim=5, num_classes=4, weight_scale=0.1,
                                      normalization="batchnorm", dropout=0.1, dropout_seed=2,
                                      reg=1e-3, init_seed=0)
        model.params = {k: to_strict(v) for k, v in model.params.items()}
        model.to = lambda target: model  # stays on the strict device
        settings = {"update_rule": "adam", "batch_size": 16, "num_epochs": 2,
                    "verbose": False, "device": "cpu", "seed": 0, **kwargs}
        return Solver(model, data, **settings)

    return make


def images(num_classes=3, n=24, seed=0):
    rng = np.random.default_rng(seed)
    split = {}
    for name in ("train", "val"):
        split[f"X_{name}"] = rng.standard_normal((n, 1, 6, 6)).astype(np.float32)
        split[f"y_{name}"] = rng.integers(0, num_classes, size=n)
    return split


MODELS = {
    "fc batchnorm dropout": lambda: (None, None),
    "fc layernorm": lambda: (FullyConnectedNet([8], input_dim=5, num_classes=4,
                                               normalization="layernorm", init_seed=0), None),
    "two layer": lambda: (TwoLayerNet(5, 8, 4, weight_scale=0.1, reg=0.1, seed=0), None),
    "conv": lambda: (ThreeLayerConvNet((1, 6, 6), num_filters=2, filter_size=3, hidden_dim=4,
                                       num_classes=3, seed=0), images()),
}


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop",
                                  "adam"])
@pytest.mark.parametrize("kind", MODELS)
def test_steps_read_nothing_from_the_device(strict_solver, host_reads, kind, rule):
    model, data = MODELS[kind]()
    solver = strict_solver(model=model, data=data, update_rule=rule, batch_size=8)
    batches = solver.sampler.epoch()
    solver._step(batches[0])  # warm-up: first-use set-up may read
    solver._flush_losses()
    del host_reads[:]
    for indices in batches[1:]:
        solver._step(indices)
    assert host_reads == []
    assert len(solver._pending_losses) == len(batches) - 1
    # The boundary reads them all at once: the counter sees reads where they happen.
    solver._flush_losses()
    assert host_reads != []
    assert len(solver.loss_history) == len(batches)
    assert all(type(v) is float and np.isfinite(v) for v in solver.loss_history)


def test_training_reads_the_loss_only_at_boundaries(strict_solver, host_reads):
    solver = strict_solver(print_every=10**6, num_train_samples=None)
    per_epoch = solver.sampler.batches_per_epoch
    steps = []
    original_step = solver._step

    def step(indices):
        before = len(host_reads)
        original_step(indices)
        steps.append(len(host_reads) - before)

    solver._step = step
    solver.train()
    assert steps[1:] == [0] * (2 * per_epoch - 1)
    assert len(solver.loss_history) == 2 * per_epoch
    assert all(type(v) is float for v in solver.loss_history)
    assert len(solver.val_loss_history) == 3


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_found_at_the_boundary_restores_best_params_and_stats(strict_solver):
    solver = strict_solver(optim_config={"learning_rate": 1e30}, update_rule="sgd",
                           print_every=10**6)
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at iteration \d+"):
        solver.train()
    for name, value in solver.model.params.items():
        np.testing.assert_array_equal(to_numpy(value), to_numpy(solver.best_params[name]))
        assert np.all(np.isfinite(to_numpy(value))), name
    state = solver.model.state()
    assert set(state) == set(solver.best_state)
    for name, value in state.items():
        np.testing.assert_array_equal(to_numpy(value), to_numpy(solver.best_state[name]))
    assert all(np.isfinite(v) for v in solver.loss_history)
