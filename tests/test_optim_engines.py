"""The update engines derived from each rule's one formula: the same bits on every engine, the
CuPy kernel run on the host as a GPU would (outputs written to memory at once, aliased or not),
declining rules an engine cannot run, and one multi-tensor update for all parameters."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import xplayers
from xplayers.backend.fast_paths import PORTABLE
from xplayers.kernels.definitions import KERNEL_MODULES, all_definitions
from xplayers.optim import OPTIMIZERS, multi_tensor, optimizer_names, update_all
from xplayers.optim import kernels as engines
from xplayers.optim.formula import parse
from xplayers.optim.rules import SPEC_BY_NAME, prepare
from xplayers.optim.specs import SPECS, Hyperparameter, UpdateSpec

FUSED_SHAPE = (70, 130)  # above the fused-kernel threshold, not a whole number of blocks
NAMES = list(optimizer_names())


def _state(rng, spec, dtype, shape=FUSED_SHAPE):
    config = {}
    for key, _ in spec.state:
        value = rng.standard_normal(shape).astype(dtype)
        config[key] = np.abs(value) if key in ("v", "cache") else value
    if spec.counts_steps:
        config["t"] = 4
    return config


def _arrays_and_scalars(rng, name, dtype, shape=FUSED_SHAPE):
    spec = SPEC_BY_NAME[name]
    w = rng.standard_normal(shape).astype(dtype)
    dw = rng.standard_normal(shape).astype(dtype)
    _, _, arrays, scalars, _ = prepare(spec, w, dw, {"learning_rate": 3e-3,
                                                     **_state(rng, spec, dtype, shape)})
    return spec, arrays, scalars


def _portable(spec, arrays, scalars):
    strict = pytest.importorskip("array_api_strict")
    name, outs = engines.update.run(strict, spec, tuple(strict.asarray(a) for a in arrays),
                                    scalars)
    assert name == PORTABLE
    return [np.asarray(o) for o in outs]


# --- Every engine, the same bits ---------------------------------------------------------


@pytest.fixture(params=["numba", "numpy"])
def fused_engine(request):
    """The fused NumPy update with the numba loop (switched on), then the blocked body."""
    if request.param == "numba":
        pytest.importorskip("numba")
    with xplayers.fast_paths(numba=request.param == "numba"):
        yield request.param


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_numpy_equals_portable_body_bit_for_bit(rng, fused_engine, name, dtype):
    spec, arrays, scalars = _arrays_and_scalars(rng, name, dtype)
    kept = [a.copy() for a in arrays]
    ran, outs = engines.update.run(np, spec, arrays, scalars)
    assert ran == fused_engine
    for ours, theirs in zip(outs, _portable(spec, arrays, scalars), strict=True):
        assert ours.dtype == dtype
        assert ours.tobytes() == theirs.tobytes()
    for a, b in zip(arrays, kept, strict=True):  # inputs only read
        np.testing.assert_array_equal(a, b)


def test_small_arrays_take_the_portable_body(rng):
    spec, arrays, scalars = _arrays_and_scalars(rng, "adam", np.float64, (3, 4))
    with xplayers.fast_paths(numba=True):
        assert engines.update.run(np, spec, arrays, scalars)[0] == PORTABLE


# --- The CuPy kernel, run on the host with writes going to memory at once ----------------


def run_operation(operation, memory, scalars):
    """Run an ElementwiseKernel's operation as CUDA would: each parameter name is a reference
    to memory (``memory[name]``; aliased names share one array), ``T`` locals are registers,
    statements run in order, each write lands in memory before the next statement reads.
    Elementwise statements run vectorised over all elements, which is the same."""
    registers = {}
    for statement in filter(None, (s.strip() for s in operation.split(";"))):
        target, expression = (part.strip() for part in statement.split("=", 1))
        value = eval(expression, {"__builtins__": {}, "sqrt": np.sqrt},
                     {**memory, **scalars, **registers})
        declared = re.fullmatch(r"(?:const\s+)?T\s+(\w+)", target)
        if declared:
            registers[declared.group(1)] = np.array(value, copy=True)
        else:
            memory[target][...] = value


def _kernel_on_host(definition, spec, arrays, scalars, aliased):
    formula = engines.formula_of(spec)
    typed = {n: arrays[0].dtype.type(s) for n, s in zip(formula.scalars, scalars, strict=True)}
    memory = {name: a.copy() for name, a in zip(formula.inputs, arrays, strict=True)}
    for out, source in zip(formula.outputs, formula.inputs[:1] + formula.inputs[2:],
                           strict=True):
        memory[out] = memory[source] if aliased else np.empty_like(arrays[0])
    run_operation(definition.operation, memory, typed)
    return [memory[out] for out in formula.outputs]


@pytest.mark.parametrize("aliased", [False, True])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cupy_kernel_on_the_host_equals_portable_body(rng, name, dtype, aliased):
    spec, arrays, scalars = _arrays_and_scalars(rng, name, dtype)
    definition = engines.kernel_definition(spec)
    ours = _kernel_on_host(definition, spec, arrays, scalars, aliased)
    for a, b in zip(ours, _portable(spec, arrays, scalars), strict=True):
        assert a.tobytes() == b.tobytes()


def test_the_host_run_catches_the_old_nesterov_kernel_in_place(rng):
    # The kernel before this change wrote v_out, then read v: aliased (as in place), v is
    # already the new velocity and the step is plain momentum.
    old = engines.kernel_definition(SPEC_BY_NAME["sgd_nesterov_momentum"])
    old = types.SimpleNamespace(operation="v_out = mu * v - lr * g; "
                                          "w_out = (w + v_out) + mu * (v_out - v);")
    spec, arrays, scalars = _arrays_and_scalars(rng, "sgd_nesterov_momentum", np.float64)
    expected = _portable(spec, arrays, scalars)
    apart = _kernel_on_host(old, spec, arrays, scalars, aliased=False)
    assert apart[0].tobytes() == expected[0].tobytes()
    in_place = _kernel_on_host(old, spec, arrays, scalars, aliased=True)
    assert not np.allclose(in_place[0], expected[0])
    momentum = _portable(SPEC_BY_NAME["sgd_momentum"], arrays, scalars)
    np.testing.assert_allclose(in_place[0], momentum[0], rtol=1e-12)


def test_numba_loop_is_correct_with_outputs_aliased_to_inputs(rng):
    pytest.importorskip("numba")
    for name in NAMES:
        spec, arrays, scalars = _arrays_and_scalars(rng, name, np.float64)
        expected = _portable(spec, arrays, scalars)
        mem = [a.copy().reshape(-1) for a in arrays]
        outs = [mem[0], *mem[2:]]
        engines._numba_kernel(spec)(*mem, *outs, *(np.float64(s) for s in scalars))
        for a, b in zip(outs, expected, strict=True):
            assert a.tobytes() == b.reshape(-1).tobytes(), name


def test_every_rule_declares_its_cupy_kernel_without_fma(monkeypatch):
    assert "xplayers.optim.kernels" in KERNEL_MODULES
    declared = {d.name: d for d in all_definitions()}
    built = []

    class FakeElementwiseKernel:
        def __init__(self, *args, **kwargs):
            built.append((args, kwargs))

    monkeypatch.setitem(sys.modules, "cupy",
                        types.SimpleNamespace(ElementwiseKernel=FakeElementwiseKernel))
    engines._cupy_kernel.cache_clear()
    try:
        for spec in SPECS:
            definition = declared[f"xplayers_{spec.name}"]
            assert definition.options == ("--fmad=false",) and definition.aliases == ()
            assert "T w" in definition.in_params and "T w_out" in definition.out_params
            engines._cupy_kernel(spec)
    finally:
        engines._cupy_kernel.cache_clear()
    assert len(built) == len(SPECS)
    assert all("--fmad=false" in kwargs["options"] for _, kwargs in built)


# --- A rule an engine cannot run is declined ---------------------------------------------

MADE_UP = UpdateSpec("made_up", (), (Hyperparameter("learning_rate", 1e-2),),
                     lambda h, t: {"lr": h["learning_rate"]}, "w_out = w - lr * tanh(g)")


def test_engines_decline_a_rule_calling_a_function_they_lack(rng, monkeypatch):
    w, g = (rng.standard_normal(FUSED_SHAPE) for _ in range(2))
    expected = w - 0.1 * np.tanh(g)
    for numba in (False, True):
        with xplayers.fast_paths(numba=numba):
            name, (out,) = engines.update.run(np, MADE_UP, (w, g), (0.1,))
        assert name == PORTABLE
        np.testing.assert_array_equal(out, expected)
    for engine in (engines._numpy, engines._numba, engines._cupy):
        assert engine(np, MADE_UP, (w, g), (0.1,)) is NotImplemented
    monkeypatch.setattr(engines, "library_of", lambda xp: "cupy")  # the multi-tensor kernel
    assert engines.gather_update(np, MADE_UP, [g], (w,), (0.1,)) is NotImplemented
    outs = multi_tensor.fused_update(np, MADE_UP, [(w, g), (w[:3], g[:3])], (0.1,))
    np.testing.assert_array_equal(outs[0][0], expected)  # declined: the portable body ran


@pytest.mark.parametrize("formula, message", [
    ("w_out = w ** 2", r"formula may use names"),
    ("w_out = w - lr * g; w_out = w", r"'w_out' is assigned twice"),
    ("v_out = w", r"never assigns \['w_out'\]"),
    ("w_out = w - x_out", r"'x_out' is used before it is assigned"),
])
def test_bad_formulas_are_named(formula, message):
    with pytest.raises(ValueError, match=rf"update rule 'bad': .*{message}"):
        parse("bad", formula, ())


def test_each_spec_names_exactly_its_scalars():
    for spec in SPECS:
        formula = engines.formula_of(spec)
        hyper = spec.defaults
        assert set(spec.scalars(hyper, 1)) == set(formula.scalars), spec.name


def test_each_formula_is_written_once_in_the_package():
    sources = [p.read_text() for p in Path(xplayers.__file__).parent.rglob("*.py")]
    for spec in SPECS:
        last = spec.formula.split(";")[-1].strip()
        assert sum(s.count(last) for s in sources) == 1, spec.name


# --- One update for all parameters -------------------------------------------------------

SHAPES = {"W1": (6, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 3), "b3": (3,)}


def _model(rng, dtype):
    params = {n: rng.standard_normal(s).astype(dtype) for n, s in SHAPES.items()}
    return params, [{n: rng.standard_normal(s).astype(dtype) for n, s in SHAPES.items()}
                    for _ in range(3)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("library", ["numpy", "array_api_strict"])
def test_update_all_fused_equals_one_call_per_parameter(rng, name, dtype, library):
    xp = np if library == "numpy" else pytest.importorskip("array_api_strict")
    params, grads = _model(rng, dtype)
    fused = {n: xp.asarray(w) for n, w in params.items()}
    each = dict(params)
    fused_configs = {n: {"learning_rate": 1e-2} for n in params}
    each_configs = {n: {"learning_rate": 1e-2} for n in params}
    for step_grads in grads:
        fused, fused_configs = update_all(name, fused, {n: xp.asarray(g) for n, g in
                                                        step_grads.items()},
                                          fused_configs, fuse=True)
        for n, w in each.items():
            each[n], each_configs[n] = OPTIMIZERS[name](w, step_grads[n], dict(each_configs[n]))
    for n in params:
        assert tuple(fused[n].shape) == SHAPES[n]
        assert np.asarray(fused[n]).tobytes() == each[n].tobytes(), n
        assert fused_configs[n].keys() == each_configs[n].keys()
        for key, value in each_configs[n].items():
            ours = fused_configs[n][key]
            assert (np.asarray(ours).tobytes() == value.tobytes()
                    if isinstance(value, np.ndarray) else ours == value), (n, key)


class RawArray:
    """A ``raw T`` kernel argument: indexed by the kernel itself (out-of-range reads of the
    branch XP_SELECT does not take are clipped, as the GPU never makes them)."""

    def __init__(self, array):
        self.array = np.asarray(array).reshape(-1)

    def __getitem__(self, index):
        return np.take(self.array, index, mode="clip")


def _fake_gather_kernel(launches):
    """Stand-in for CuPy building :func:`gather_definition`: runs its operation on the host."""

    def build(spec, count):
        definition = engines.gather_definition(spec, count)
        params = [p.split() for p in definition.in_params.split(",")]
        outs = [p.split()[-1] for p in definition.out_params.split(",")]

        def launch(*args):
            launches.append(definition.name)
            names = {}
            for (*kind, name), value in zip(params, args, strict=True):
                names[name] = RawArray(value) if kind[0] == "raw" else value
            memory = {n: v for n, v in names.items() if isinstance(v, np.ndarray)}
            memory.update({o: np.empty_like(memory["w"]) for o in outs})
            others = {n: v for n, v in names.items() if n not in memory}
            run_operation(definition.operation, memory,
                          {**others, "i": np.arange(memory["w"].size),
                           "XP_SELECT": np.where})
            return tuple(memory[o] for o in outs)

        return launch

    return build


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_gather_launch_per_step_equals_one_call_per_parameter(rng, monkeypatch, name,
                                                                  dtype):
    # CuPy's path, run on the host: the multi-tensor kernel as generated, one launch a step.
    launches, concats = [], []
    monkeypatch.setattr(engines, "_cupy_gather_kernel", _fake_gather_kernel(launches))
    monkeypatch.setattr(engines, "library_of", lambda xp: "cupy")
    monkeypatch.setattr(multi_tensor, "update", None)  # never reached on CuPy
    real_concat = np.concat
    monkeypatch.setattr(np, "concat", lambda arrays: concats.append(1) or real_concat(arrays))
    params, grads = _model(rng, dtype)
    fused, each = dict(params), dict(params)
    fused_configs = {n: {"learning_rate": 1e-2} for n in params}
    each_configs = {n: {"learning_rate": 1e-2} for n in params}
    for step, step_grads in enumerate(grads):
        fused, fused_configs = update_all(name, fused, step_grads, fused_configs, fuse=True)
        assert len(launches) == step + 1  # one launch per step for all six parameters
        assert len(concats) == 1  # the weights, laid end to end on the first step only
        for n, w in each.items():
            each[n], each_configs[n] = OPTIMIZERS[name](w, step_grads[n], dict(each_configs[n]))
    assert set(launches) == {f"xplayers_{name}_x6"}
    for n in params:
        assert fused[n].tobytes() == each[n].tobytes(), n
        for key, _ in SPEC_BY_NAME[name].state:
            assert fused_configs[n][key].tobytes() == each_configs[n][key].tobytes(), (n, key)


def test_update_all_launches_one_update_per_step(rng, monkeypatch):
    # On CuPy each `update` call on arrays is one ElementwiseKernel launch.
    calls = {"update": 0, "concatenate": 0, "zeros": 0}
    real_update = multi_tensor.update

    def counting_update(xp, spec, arrays, scalars):
        calls["update"] += 1
        return real_update(xp, spec, arrays, scalars)

    class CountingNumpy(types.ModuleType):
        def __getattr__(self, attr):
            key = "concatenate" if attr == "concat" else attr
            if key in calls:
                calls[key] += 1
            return getattr(np, attr)

    monkeypatch.setattr(multi_tensor, "update", counting_update)
    xp = CountingNumpy("numpy")
    params, grads = _model(rng, np.float32)
    spec = SPEC_BY_NAME["adam"]
    arrays = [prepare(spec, params[n], grads[0][n], {}, zeros=False)[2] for n in params]
    assert all(a[2:] == (None, None) for a in arrays)
    scalars = prepare(spec, params["W1"], grads[0]["W1"], {})[3]
    outs = multi_tensor.fused_update(xp, spec, arrays, scalars)
    assert calls == {"update": 1, "concatenate": 2, "zeros": 2}  # w and g laid end to end
    calls.update(update=0, concatenate=0, zeros=0)
    again = [(out[0], grads[1][n], *out[1:]) for n, out in zip(params, outs, strict=True)]
    multi_tensor.fused_update(xp, spec, again, scalars)
    assert calls == {"update": 1, "concatenate": 1, "zeros": 0}  # only the gradients


def test_update_all_is_on_by_default_only_for_cupy(rng, monkeypatch):
    seen = []
    monkeypatch.setattr(multi_tensor, "fused_update",
                        lambda *args, **kwargs: seen.append(args) or None)
    params, grads = _model(rng, np.float64)
    update_all("adam", params, grads[0], {n: {} for n in params})
    assert seen == []
    monkeypatch.setattr(multi_tensor, "FUSED_LIBRARIES", frozenset({"numpy"}))
    with pytest.raises(TypeError):  # our stand-in returns None: it was called
        update_all("adam", params, grads[0], {n: {} for n in params})
    assert len(seen) == 1


def test_update_all_writes_nothing_and_raises_on_a_bad_config(rng):
    params, grads = _model(rng, np.float64)
    configs = {n: {"learning_rate": 1e-2} for n in params}
    _, configs = update_all("adam", params, grads[0], configs, fuse=True)
    saved = {n: {k: np.copy(v) for k, v in c.items()} for n, c in configs.items()}
    kept = {n: w.copy() for n, w in params.items()}
    configs["W3"] = {**configs["W3"], "beta1": 2.0}
    with pytest.raises(ValueError, match=r"adam: config\['beta1'\] must be"):
        update_all("adam", params, grads[1], configs, fuse=True)
    for n, w in params.items():
        np.testing.assert_array_equal(w, kept[n])
        for key, value in saved[n].items():
            if n != "W3" or key != "beta1":
                np.testing.assert_array_equal(configs[n][key], value)


def test_update_all_calls_a_custom_rule_per_parameter(rng):
    params, grads = _model(rng, np.float64)
    seen = []

    def custom(w, dw, config):
        seen.append(config.get("k"))
        return w - dw, {**config, "k": 1}

    new, configs = update_all(custom, params, grads[0], {n: {} for n in params})
    assert seen == [None] * len(params) and all(c == {"k": 1} for c in configs.values())
    np.testing.assert_array_equal(new["W2"], params["W2"] - grads[0]["W2"])
