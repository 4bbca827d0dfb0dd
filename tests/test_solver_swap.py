"""The Solver's default step writes into spare buffers and swaps them in: same numbers as the
plain update-rule calls, no parameter or state allocation, and a failed step undone."""

from __future__ import annotations

import numpy as np
import pytest
from backends import Backend

import xplayers
from xplayers import optim
from xplayers._update_buffers import SwapUpdater
from xplayers.data import make_blobs
from xplayers.models import FullyConnectedNet
from xplayers.optim import OPTIMIZERS, STATE_KEYS
from xplayers.solver import Solver

RULES = sorted(OPTIMIZERS)
# One parameter big enough for the fused kernels, one small (a bias), one 4-d.
SHAPES = {"W": (96, 64), "b": (64,), "K": (4, 3, 3, 3)}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(num_classes=4, num_per_class=60, dim=5, seed=0)


def small_net(data, **kwargs):
    return FullyConnectedNet([64, 80], input_dim=data["X_train"].shape[1], num_classes=4,
                             weight_scale=0.1, init_seed=0, **kwargs)


def plain(rule):
    """The same rule as a course-style callable: the Solver's fallback path."""
    return lambda w, dw, config: rule(w, dw, config)


def host(arrays):
    return {k: np.array(xplayers.to_numpy(v)) for k, v in arrays.items()}


def assert_same_bits(a, b):
    a, b = np.asarray(xplayers.to_numpy(a)), np.asarray(xplayers.to_numpy(b))
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def draw(backend, rng, dtype):
    params = {k: backend.asarray(rng.standard_normal(s), dtype) for k, s in SHAPES.items()}
    grads = [{k: backend.asarray(rng.standard_normal(s), dtype) for k, s in SHAPES.items()}
             for _ in range(4)]
    return params, grads


@pytest.mark.parametrize("fast", [True, False], ids=["fast_paths", "portable"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", RULES)
def test_swapped_steps_equal_plain_rule_calls_bit_for_bit(backend, rng, rule, dtype, fast):
    params, grads = draw(backend, rng, dtype)
    config = {"learning_rate": 1e-2}
    with xplayers.fast_paths(fast):
        ref_params, ref_configs = dict(params), {k: dict(config) for k in params}
        for g in grads:
            for k in params:
                ref_params[k], ref_configs[k] = OPTIMIZERS[rule](ref_params[k], g[k],
                                                                dict(ref_configs[k]))
        swap_params, swap_configs = dict(params), {k: dict(config) for k in params}
        updater = SwapUpdater(OPTIMIZERS[rule])
        for g in grads:
            updated, configs = updater.compute(swap_params, g, swap_configs)
            updater.commit(swap_params, swap_configs, updated, configs)
    for k in params:
        assert_same_bits(swap_params[k], ref_params[k])
        for key in STATE_KEYS[rule]:
            assert_same_bits(swap_configs[k][key], ref_configs[k][key])
        assert swap_configs[k].get("t") == ref_configs[k].get("t")


@pytest.mark.parametrize("rule", RULES)
def test_steady_state_reuses_the_replaced_arrays(rng, rule):
    params, grads = draw(Backend("numpy", np, "cpu"), rng, np.float32)
    configs = {k: {} for k in params}
    updater = SwapUpdater(OPTIMIZERS[rule])
    seen = []
    for g in grads:
        updated, new = updater.compute(params, g, configs)
        updater.commit(params, configs, updated, new)
        seen.append({k: (id(params[k]), *(id(configs[k][s]) for s in STATE_KEYS[rule]))
                     for k in params})
    # From the third step on, each step's results live in the arrays of two steps before.
    for k in params:
        assert seen[3][k] == seen[1][k]
        assert seen[2][k] != seen[1][k]


@pytest.mark.parametrize("rule", RULES)
def test_solver_default_step_equals_the_callable_path(blobs, rule):
    runs = {}
    for label, update_rule in (("default", rule), ("callable", plain(OPTIMIZERS[rule]))):
        model = small_net(blobs, normalization="batchnorm", dtype=np.float32)
        solver = Solver(model, blobs, update_rule=update_rule,
                        optim_config={"learning_rate": 1e-2}, num_epochs=2, batch_size=16,
                        verbose=False, device="cpu", seed=0)
        for indices in solver.sampler.epoch()[:6]:
            solver._step(indices)
        runs[label] = (host(model.params), host(model.state()),
                       {k: host({s: c[s] for s in STATE_KEYS[rule]})
                        for k, c in solver.optim_configs.items()})
    (p, s, c), (p_ref, s_ref, c_ref) = runs["default"], runs["callable"]
    for k in p_ref:
        assert_same_bits(p[k], p_ref[k])
        for key in c_ref[k]:
            assert_same_bits(c[k][key], c_ref[k][key])
    for k in s_ref:
        assert_same_bits(s[k], s_ref[k])


class Interrupt(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("fail_at", [1, 3, 5])
@pytest.mark.parametrize("rule", ["adam", "sgd_momentum", "sgd"])
def test_interrupted_update_loop_leaves_everything_as_it_was(blobs, monkeypatch, rule,
                                                             fail_at):
    model = small_net(blobs, normalization="batchnorm", dtype=np.float32)
    solver = Solver(model, blobs, update_rule=rule, num_epochs=1, batch_size=16,
                    verbose=False, device="cpu", seed=0)
    batches = solver.sampler.epoch()
    for indices in batches[:3]:  # steady state: every parameter has spares
        solver._step(indices)
    params_before = dict(model.params)
    params_values = host(model.params)
    state_values = host(model.state())
    configs_before = {k: dict(c) for k, c in solver.optim_configs.items()}
    config_values = {k: host({s: c[s] for s in STATE_KEYS[rule]})
                     for k, c in solver.optim_configs.items()}

    real_update, calls = optim._update, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == fail_at:
            raise Interrupt
        return real_update(*args, **kwargs)

    monkeypatch.setattr(optim, "_update", interrupted)
    with pytest.raises(Interrupt):
        solver._step(batches[3])
    monkeypatch.setattr(optim, "_update", real_update)

    assert all(model.params[k] is params_before[k] for k in params_before)
    for k, v in params_values.items():
        assert_same_bits(model.params[k], v)
    for k, v in state_values.items():
        assert_same_bits(model.state()[k], v)
    for k, c in solver.optim_configs.items():
        assert c == configs_before[k]
        for key, v in config_values[k].items():
            assert_same_bits(c[key], v)

    # The next step gives what an uninterrupted run gives.
    solver._step(batches[3])
    reference = small_net(blobs, normalization="batchnorm", dtype=np.float32)
    ref_solver = Solver(reference, blobs, update_rule=plain(OPTIMIZERS[rule]), num_epochs=1,
                        batch_size=16, verbose=False, device="cpu", seed=0)
    for indices in batches[:4]:
        ref_solver._step(indices)
    for k in reference.params:
        assert_same_bits(model.params[k], reference.params[k])


def test_tied_parameters_never_share_a_spare(blobs):
    runs = []
    for rule in ("adam", plain(optim.adam)):
        model = FullyConnectedNet([64, 64], input_dim=5, num_classes=4, weight_scale=0.1,
                                  init_seed=0, dtype=np.float32)
        solver = Solver(model, blobs, update_rule=rule, num_epochs=1, batch_size=16,
                        verbose=False, device="cpu", seed=0)
        for i, indices in enumerate(solver.sampler.epoch()[:6]):
            if i == 2:  # tie two biases: the array they share is replaced twice by this step
                model.params["b2"] = model.params["b1"]
            solver._step(indices)
        runs.append(host(model.params))
    for k in runs[1]:
        assert_same_bits(runs[0][k], runs[1][k])


def test_an_array_put_back_into_params_is_not_written_by_a_failed_step(blobs, monkeypatch):
    model = small_net(blobs, dtype=np.float32)
    solver = Solver(model, blobs, update_rule="adam", num_epochs=1, batch_size=16,
                    verbose=False, device="cpu", seed=0)
    batches = solver.sampler.epoch()
    for indices in batches[:2]:
        solver._step(indices)
    older = model.params["W1"]
    solver._step(batches[2])  # ``older`` is now the spare of W1
    model.params["W1"] = older  # the user goes back to it
    saved = older.copy()
    real_update = optim._update

    def fails_after_the_first(xp, rule, arrays, *rest):
        if arrays[0] is not older:
            raise Interrupt
        return real_update(xp, rule, arrays, *rest)

    monkeypatch.setattr(optim, "_update", fails_after_the_first)
    with pytest.raises(Interrupt):
        solver._step(batches[3])
    assert model.params["W1"] is older
    assert_same_bits(older, saved)


def test_an_array_taken_from_params_is_reused_two_steps_later(blobs):
    model = small_net(blobs, dtype=np.float32)
    solver = Solver(model, blobs, update_rule="adam", num_epochs=1, batch_size=16,
                    verbose=False, device="cpu", seed=0)
    batches = solver.sampler.epoch()
    for indices in batches[:2]:
        solver._step(indices)
    held = model.params["W1"]
    solver._step(batches[2])
    solver._step(batches[3])
    assert model.params["W1"] is held  # documented: take a copy to keep it


def test_in_place_config_keeps_working(blobs):
    model = small_net(blobs, dtype=np.float32)
    reference = small_net(blobs, dtype=np.float32)
    solvers = [Solver(m, blobs, update_rule=r, optim_config=c, num_epochs=1, batch_size=16,
                      verbose=False, device="cpu", seed=0)
               for m, r, c in ((model, "adam", {"in_place": True}),
                               (reference, plain(optim.adam), {}))]
    for indices in solvers[0].sampler.epoch()[:4]:
        for s in solvers:
            s._step(indices)
    for k in reference.params:
        assert_same_bits(model.params[k], reference.params[k])


@pytest.mark.parametrize("rule", RULES)
def test_out_equals_fresh_results_on_every_backend(backend, rng, rule):
    count = 1 + len(STATE_KEYS[rule])
    for shape in ((64, 80), (7,)):
        w = backend.asarray(rng.standard_normal(shape), np.float32)
        g = backend.asarray(rng.standard_normal(shape), np.float32)
        state = {k: backend.asarray(rng.random(shape), np.float32) for k in STATE_KEYS[rule]}
        config = {"learning_rate": 1e-2, **state}
        w_host = host({"w": w, **state})
        out = tuple(backend.xp.zeros_like(w) for _ in range(count))
        expected_w, expected = OPTIMIZERS[rule](w, g, dict(config))
        next_w, new = OPTIMIZERS[rule](w, g, dict(config), out=out)
        assert next_w is out[0]
        assert_same_bits(next_w, expected_w)
        for i, key in enumerate(STATE_KEYS[rule], start=1):
            assert new[key] is out[i]
            assert_same_bits(new[key], expected[key])
        for key, value in w_host.items():  # inputs untouched
            assert_same_bits(w if key == "w" else state[key], value)


def test_out_none_entries_are_allocated():
    w, g = np.ones(8, np.float32), np.full(8, 0.5, np.float32)
    m_out = np.zeros(8, np.float32)
    next_w, config = optim.adam(w, g, {}, out=(None, m_out, None))
    assert config["m"] is m_out
    assert_same_bits(next_w, optim.adam(w, g, {})[0])


@pytest.mark.parametrize("out, error, message", [
    ((np.zeros(3),), TypeError, r"adam: out must be None or a tuple of 3 arrays"),
    ("no", TypeError, r"adam: out must be .* got str"),
    ((np.zeros(3), np.zeros(3), [0.0]), TypeError, r"adam: out\[2\] must be an array"),
    ((np.zeros(4), None, None), ValueError, r"adam: out\[0\] has shape \(4,\)"),
    ((np.zeros(3, np.float32), None, None), ValueError, r"dtype float32, expected w's"),
])
def test_bad_out_is_named_and_config_untouched(out, error, message):
    config = {"learning_rate": 1e-3}
    with pytest.raises(error, match=message):
        optim.adam(np.ones(3), np.ones(3), config, out=out)
    assert config == {"learning_rate": 1e-3}


def test_out_and_in_place_exclude_each_other():
    with pytest.raises(ValueError, match=r"sgd: out and config\['in_place'\] = True"):
        optim.sgd(np.ones(3), np.ones(3), {"in_place": True}, out=(np.zeros(3),))
