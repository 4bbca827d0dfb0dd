"""Update rules against hand-computed steps, a plain-Python reference and ``torch.optim``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from backends import assert_close, dtype_name, tolerance

from xplayers.backend import array_library, device_of
from xplayers.optim import (
    OPTIMIZERS,
    adam,
    adamw,
    get_optimizer,
    optimizer_names,
    rmsprop,
    sgd,
    sgd_momentum,
    sgd_nesterov_momentum,
)
from xplayers.optim.rules import SPEC_BY_NAME

# --- The test table: one row per registered rule ------------------------------------------
# Each row: the state keys, whether config['t'] counts steps, the learning rate of the
# reference test, one step of a plain-Python reference (w, state, g, t, lr) -> (w, state), and
# the torch.optim equivalent. Adding a rule adds a row here and nothing else in the tests.


def _ref_sgd(w, s, g, t, lr):
    return w - lr * g, s


def _ref_momentum(w, s, g, t, lr):
    v = 0.9 * s[0] - lr * g
    return w + v, [v]


def _ref_nesterov(w, s, g, t, lr):
    v = 0.9 * s[0] - lr * g
    return w + (-0.9 * s[0] + 1.9 * v), [v]


def _ref_rmsprop(w, s, g, t, lr):
    c = 0.99 * s[0] + 0.01 * g * g
    return w - lr * g / (math.sqrt(c) + 1e-8), [c]


def _ref_adam(w, s, g, t, lr, weight_decay=0.0):
    w -= lr * weight_decay * w  # decoupled (AdamW); nothing for Adam
    m, v = 0.9 * s[0] + 0.1 * g, 0.999 * s[1] + 0.001 * g * g
    m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
    return w - lr * m_hat / (math.sqrt(v_hat) + 1e-8), [m, v]


def _torch(kind, **kwargs):
    def make(param, lr):
        torch = pytest.importorskip("torch")
        return getattr(torch.optim, kind)([param], lr=lr, **kwargs)
    return make


TABLE = {
    "sgd": ((), False, 1e-2, _ref_sgd, _torch("SGD")),
    # torch's buffer b = mu*b + g, w -= lr*b; ours v = -lr*b (equal for a constant lr)
    "sgd_momentum": (("velocity",), False, 1e-2, _ref_momentum, _torch("SGD", momentum=0.9)),
    "sgd_nesterov_momentum": (("velocity",), False, 1e-2, _ref_nesterov,
                              _torch("SGD", momentum=0.9, nesterov=True)),
    "rmsprop": (("cache",), False, 1e-2, _ref_rmsprop,
                _torch("RMSprop", alpha=0.99, eps=1e-8)),
    "adam": (("m", "v"), True, 1e-3, _ref_adam,
             _torch("Adam", betas=(0.9, 0.999), eps=1e-8)),
    "adamw": (("m", "v"), True, 1e-3, lambda *a: _ref_adam(*a, weight_decay=0.01),
              _torch("AdamW", betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
}
STATE_KEYS = {name: row[0] for name, row in TABLE.items()}
COUNTS_STEPS = [name for name, row in TABLE.items() if row[1]]


def test_the_table_covers_every_registered_rule():
    assert list(TABLE) == list(optimizer_names()) == list(OPTIMIZERS)


def host(x):
    return np.asarray(x, dtype=np.float64)


# --- Steps worked out by hand ------------------------------------------------------------


def test_sgd_by_hand(backend):
    w = backend.asarray([1.0, -2.0], np.float64)
    dw = backend.asarray([0.5, 0.25], np.float64)
    next_w, config = sgd(w, dw, {"learning_rate": 0.1})
    assert_close(next_w, host([0.95, -2.025]))
    assert config == {"learning_rate": 0.1}


def test_sgd_momentum_by_hand(backend):
    # v = 0.9*0.2 - 0.1*0.5 = 0.13, w = 1.13; then v = 0.9*0.13 + 0.1 = 0.217, w = 1.347
    config = {"learning_rate": 0.1, "momentum": 0.9,
              "velocity": backend.asarray([0.2], np.float64)}
    w, config = sgd_momentum(backend.asarray([1.0], np.float64),
                             backend.asarray([0.5], np.float64), config)
    assert_close(w, host([1.13]))
    assert_close(config["velocity"], host([0.13]))
    w, config = sgd_momentum(w, backend.asarray([-1.0], np.float64), config)
    assert_close(w, host([1.347]))
    assert_close(config["velocity"], host([0.217]))


def test_nesterov_by_hand(backend):
    # v = 0.9*0.2 - 0.1*0.5 = 0.13; w = 1 + 0.13 + 0.9*(0.13 - 0.2) = 1.067
    config = {"learning_rate": 0.1, "velocity": backend.asarray([0.2], np.float64)}
    w, config = sgd_nesterov_momentum(backend.asarray([1.0], np.float64),
                                      backend.asarray([0.5], np.float64), config)
    assert_close(w, host([1.067]))
    assert_close(config["velocity"], host([0.13]))
    assert config["momentum"] == 0.9


def test_rmsprop_by_hand(backend):
    # cache = 0.25*2**2 = 1, w = 1 - 0.1*2/(1 + 0.5) = 13/15;
    # cache = 0.75*1 + 0.25*1**2 = 1, w = 13/15 - 0.1*1/1.5 = 0.8
    config = {"learning_rate": 0.1, "decay_rate": 0.75, "epsilon": 0.5}
    w, config = rmsprop(backend.asarray([1.0], np.float64),
                        backend.asarray([2.0], np.float64), config)
    assert_close(w, host([13 / 15]))
    assert_close(config["cache"], host([1.0]))
    w, config = rmsprop(w, backend.asarray([1.0], np.float64), config)
    assert_close(w, host([0.8]))


def test_adam_by_hand(backend):
    # t=1: m = 0.5*2 = 1, v = 0.25*4 = 1, m_hat = 2, v_hat = 4, w = 1 - 0.1*2/2.25 = 41/45
    # t=2: m = 0.5 + 2 = 2.5, v = 0.75 + 4 = 4.75, m_hat = 2.5/0.75, v_hat = 4.75/0.4375 = 76/7
    config = {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75, "epsilon": 0.25}
    w, config = adam(backend.asarray([1.0], np.float64), backend.asarray([2.0], np.float64),
                     config)
    assert config["t"] == 1
    assert_close(w, host([41 / 45]))
    assert_close(config["m"], host([1.0]))
    assert_close(config["v"], host([1.0]))
    w, config = adam(w, backend.asarray([4.0], np.float64), config)
    assert config["t"] == 2
    assert_close(w, host([41 / 45 - 0.1 * (10 / 3) / (math.sqrt(76 / 7) + 0.25)]))


def test_adam_first_step_moves_by_learning_rate(backend):
    # With zero moments the first corrected step is lr * g / (|g| + eps) ~ lr * sign(g).
    w = backend.asarray([1.0, 1.0], np.float64)
    dw = backend.asarray([3.0, -0.5], np.float64)
    next_w, config = adam(w, dw, {"learning_rate": 0.01})
    assert_close(next_w, host([0.99, 1.01]), rtol=0, atol=1e-9)
    assert (config["beta1"], config["beta2"], config["epsilon"]) == (0.9, 0.999, 1e-8)


def test_adamw_by_hand(backend):
    # decay: w = 1 * (1 - 0.1*0.5) = 0.95; then Adam's first step as above: - 0.1*2/2.25
    config = {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75, "epsilon": 0.25,
              "weight_decay": 0.5}
    w, config = adamw(backend.asarray([1.0], np.float64), backend.asarray([2.0], np.float64),
                      config)
    assert config["t"] == 1
    assert_close(w, host([0.95 - 0.1 * 2 / 2.25]))
    assert_close(config["m"], host([1.0]))
    assert_close(config["v"], host([1.0]))


def test_adamw_without_weight_decay_is_adam(rng):
    w, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a, ca = adam(w, g, {"learning_rate": 0.1})
    b, cb = adamw(w, g, {"learning_rate": 0.1, "weight_decay": 0.0})
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca["v"], cb["v"])


def test_adam_increments_t_before_bias_correction():
    # Resuming at t=4 corrects with beta**5: m_hat = (0.1*g) / (1 - 0.9**5).
    g = 2.0
    next_w, config = adam(np.array([0.0]), np.array([g]), {"t": 4, "learning_rate": 1.0})
    m_hat = 0.1 * g / (1 - 0.9**5)
    v_hat = 0.001 * g * g / (1 - 0.999**5)
    assert config["t"] == 5
    np.testing.assert_allclose(next_w, [-m_hat / (math.sqrt(v_hat) + 1e-8)], rtol=1e-12)


# --- A plain-Python reference over several steps -----------------------------------------


def reference_steps(name, w, grads, config):
    """The course's formulas element by element in Python floats; returns (w, state...)."""
    lr, step = config["learning_rate"], TABLE[name][3]
    w = [float(a) for a in w]
    n, keys = len(w), STATE_KEYS[name]
    state = [[0.0] * len(keys) for _ in range(n)]
    for t, g in enumerate(grads, start=1):
        for i in range(n):
            w[i], state[i] = step(w[i], state[i], float(g[i]), t, lr)
    return w, *([s[k] for s in state] for k in range(len(keys)))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_plain_python_reference(backend, name, dtype):
    n, d = 4, 5
    w0 = np.linspace(-0.4, 0.6, num=n * d).reshape(n, d)
    grads = [np.linspace(-0.6, 0.4, num=n * d).reshape(n, d) * k for k in (1.0, -0.5, 2.0)]
    lr = TABLE[name][2]
    ref_w, *ref_state = reference_steps(name, w0.ravel(), [g.ravel() for g in grads],
                                        {"learning_rate": lr})
    w = backend.asarray(w0, dtype)
    config = {"learning_rate": lr}
    for g in grads:
        w, config = OPTIMIZERS[name](w, backend.asarray(g, dtype), config)
    assert dtype_name(w) == np.dtype(dtype).name
    assert_close(w, np.reshape(ref_w, (n, d)).astype(dtype), **tolerance(dtype))
    keys = STATE_KEYS[name]
    for key, ref in zip(keys, ref_state, strict=True):
        assert_close(config[key], np.reshape(ref, (n, d)).astype(dtype),
                     rtol=tolerance(dtype)["rtol"] * 10, atol=tolerance(dtype)["atol"])
    if name in COUNTS_STEPS:
        assert config["t"] == len(grads)
    else:
        assert "t" not in config


# --- Backends, devices, dtypes and purity ------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_lives_on_w_device_and_dtype(backend, rng, name):
    w = backend.asarray(rng.standard_normal((3, 2)), np.float32)
    dw = backend.asarray(rng.standard_normal((3, 2)), np.float32)
    next_w, config = OPTIMIZERS[name](w, dw)
    next_w, config = OPTIMIZERS[name](next_w, dw, config)
    for x in [next_w] + [config[key] for key in STATE_KEYS[name]]:
        assert array_library(x) == array_library(w)
        assert device_of(x) == device_of(w)
        assert dtype_name(x) == "float32"
        assert tuple(x.shape) == (3, 2)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_inputs_are_not_modified(backend, rng, name):
    w_host, dw_host = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    w, dw = backend.asarray(w_host), backend.asarray(dw_host)
    _, config = OPTIMIZERS[name](w, dw)
    old_state = {key: backend.to_numpy(config[key]).copy() for key in STATE_KEYS[name]}
    kept = {key: config[key] for key in STATE_KEYS[name]}
    _, returned = OPTIMIZERS[name](w, dw, config)
    assert returned is config
    np.testing.assert_array_equal(backend.to_numpy(w), w_host)
    np.testing.assert_array_equal(backend.to_numpy(dw), dw_host)
    for key, array in kept.items():
        np.testing.assert_array_equal(backend.to_numpy(array), old_state[key])


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_blocked_numpy_path_equals_portable_path(rng, dtype, name):
    # Big C-contiguous NumPy arrays take a blocked fast path; array_api_strict (NumPy
    # underneath) takes the portable body: the two must agree bit for bit, state and all.
    strict = pytest.importorskip("array_api_strict")
    shape = (700, 300)  # more than two blocks, and not a whole number of them
    w, m = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    v = np.abs(rng.standard_normal(shape)).astype(dtype)
    config = {"learning_rate": 3e-3, "m": m, "v": v, "t": 6}
    strict_config = {"learning_rate": 3e-3, "m": strict.asarray(m), "v": strict.asarray(v),
                     "t": 6}
    w_np, w_strict = w, strict.asarray(w)
    for _ in range(2):
        dw = rng.standard_normal(shape).astype(dtype)
        w_np, config = OPTIMIZERS[name](w_np, dw, config)
        w_strict, strict_config = OPTIMIZERS[name](w_strict, strict.asarray(dw), strict_config)
    for key, ours in (("w", w_np), ("m", config["m"]), ("v", config["v"])):
        theirs = w_strict if key == "w" else strict_config[key]
        assert ours.dtype == dtype and ours.shape == shape, key
        np.testing.assert_array_equal(ours, np.asarray(theirs), err_msg=key)
    assert config["t"] == strict_config["t"] == 8


def test_defaults_are_filled_in():
    w, dw = np.ones(2), np.ones(2)
    assert sgd(w, dw)[1] == {"learning_rate": 1e-2}
    config = sgd_momentum(w, dw)[1]
    assert (config["learning_rate"], config["momentum"]) == (1e-2, 0.9)
    config = rmsprop(w, dw)[1]
    assert (config["learning_rate"], config["decay_rate"], config["epsilon"]) == (
        1e-2, 0.99, 1e-8)
    config = adam(w, dw)[1]
    assert (config["learning_rate"], config["t"]) == (1e-3, 1)
    config = adamw(w, dw)[1]
    assert (config["learning_rate"], config["weight_decay"], config["t"]) == (1e-3, 1e-2, 1)


def test_numpy_scalar_hyperparameters_keep_float32():
    w = np.ones(3, dtype=np.float32)
    config = {"learning_rate": np.float64(0.1), "momentum": np.float64(0.5)}
    next_w, config = sgd_momentum(w, w, config)
    assert next_w.dtype == np.float32
    assert config["velocity"].dtype == np.float32


# --- torch.optim in float64 --------------------------------------------------------------


def torch_optimizer(name, param, lr):
    return TABLE[name][4](param, lr)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_matches_torch_optim(rng, name):
    torch = pytest.importorskip("torch")
    lr = 1e-2
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(6)]
    param = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = torch_optimizer(name, param, lr)
    w, config = w0.copy(), {"learning_rate": lr}
    for g in grads:
        param.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        w, config = OPTIMIZERS[name](w, g, config)
    np.testing.assert_allclose(w, param.detach().numpy(), rtol=1e-12, atol=1e-14)
    if name == "sgd_momentum":
        buf = opt.state[param]["momentum_buffer"].numpy()
        np.testing.assert_allclose(config["velocity"], -lr * buf, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_optim_on_every_backend(backend, rng, name, dtype):
    torch = pytest.importorskip("torch")
    lr = 1e-2
    w0 = rng.standard_normal((3, 4)).astype(dtype)
    grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(6)]
    param = torch.nn.Parameter(torch.tensor(w0))
    opt = torch_optimizer(name, param, lr)
    w, config = backend.asarray(w0, dtype), {"learning_rate": lr}
    for g in grads:
        param.grad = torch.tensor(g)
        opt.step()
        w, config = OPTIMIZERS[name](w, backend.asarray(g, dtype), config)
    assert dtype_name(w) == np.dtype(dtype).name
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    assert_close(w, param.detach().numpy().astype(np.float64), **tol)


# --- Errors, and a failed call leaves config alone ---------------------------------------


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_dw_shape_mismatch_names_both_shapes(name):
    with pytest.raises(ValueError, match=r"dw has shape \(2, 3\), expected w's shape \(3, 2\)"):
        OPTIMIZERS[name](np.ones((3, 2)), np.ones((2, 3)))


@pytest.mark.parametrize("name", ["sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"])
def test_state_shape_mismatch(name):
    key = STATE_KEYS[name][-1]
    config = {key: np.zeros(5)}
    with pytest.raises(ValueError, match=rf"config\['{key}'\] has shape \(5,\), expected w's"):
        OPTIMIZERS[name](np.ones((3, 2)), np.ones((3, 2)), config)
    assert list(config) == [key]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_finite(name, lr):
    with pytest.raises(ValueError, match=r"config\['learning_rate'\] must be a positive finite"):
        OPTIMIZERS[name](np.ones(2), np.ones(2), {"learning_rate": lr})


@pytest.mark.parametrize("lr", ["0.1", True, None, np.array(0.1)])
def test_learning_rate_must_be_a_number(lr):
    with pytest.raises(TypeError, match=r"config\['learning_rate'\] must be a positive finite"):
        sgd(np.ones(2), np.ones(2), {"learning_rate": lr})


@pytest.mark.parametrize(
    "name, key, value",
    [("sgd_momentum", "momentum", 1.0), ("sgd_nesterov_momentum", "momentum", -0.1),
     ("rmsprop", "decay_rate", 1.5), ("rmsprop", "epsilon", 0.0), ("adam", "beta1", 1.0),
     ("adam", "beta2", -0.5), ("adam", "epsilon", -1e-8), ("adamw", "weight_decay", -0.1),
     ("adamw", "weight_decay", float("nan")), ("adamw", "beta1", 1.5)],
)
def test_bad_hyperparameters(name, key, value):
    with pytest.raises(ValueError, match=rf"{name}: config\['{key}'\] must be"):
        OPTIMIZERS[name](np.ones(2), np.ones(2), {key: value})


@pytest.mark.parametrize("name", COUNTS_STEPS)
@pytest.mark.parametrize("t, error", [(-1, ValueError), (1.5, TypeError), ("3", TypeError)])
def test_adam_bad_t(t, error, name):
    with pytest.raises(error, match=r"config\['t'\] must be a non-negative integer"):
        OPTIMIZERS[name](np.ones(2), np.ones(2), {"t": t})


def test_dtype_mismatch_is_a_type_error():
    with pytest.raises(TypeError, match=r"w is float32, dw is float64"):
        sgd(np.ones(2, dtype=np.float32), np.ones(2))
    with pytest.raises(TypeError, match=r"config\['velocity'\] is float64"):
        sgd_momentum(np.ones(2, np.float32), np.ones(2, np.float32), {"velocity": np.zeros(2)})


def test_integer_weights_are_rejected():
    with pytest.raises(TypeError, match=r"w must be a floating-point array"):
        sgd(np.ones(2, dtype=np.int64), np.ones(2, dtype=np.int64))


def test_state_that_is_not_an_array():
    with pytest.raises(TypeError, match=r"config\['velocity'\] must be an array shaped like w"):
        sgd_momentum(np.ones(2), np.ones(2), {"velocity": [0.0, 0.0]})


def test_state_on_another_backend_is_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"config\['cache'\] is a torch array on device cpu"):
        rmsprop(np.ones(2), np.ones(2), {"cache": torch.zeros(2, dtype=torch.float64)})


def test_state_on_another_device_is_named():
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    w = strict.ones(2, dtype=strict.float64, device=dev)
    with pytest.raises(ValueError, match=r"config\['m'\] is an array_api_strict array on device"):
        adam(w, w, {"m": strict.zeros(2, dtype=strict.float64)})


def test_config_must_be_a_dict():
    with pytest.raises(TypeError, match="config must be a dict or None, got list"):
        sgd(np.ones(2), np.ones(2), [("learning_rate", 0.1)])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_failed_call_leaves_config_untouched(name):
    w, dw = np.ones((2, 2)), np.full((2, 2), 0.5)
    _, config = OPTIMIZERS[name](w, dw, {"learning_rate": 1e-2})
    saved = {key: np.copy(config[key]) for key in STATE_KEYS[name]}
    # A bad hyperparameter checked after the state (the rule's last one): nothing is written.
    config[SPEC_BY_NAME[name].hyperparameters[-1].key] = -1.0
    before = dict(config)
    with pytest.raises(ValueError):
        OPTIMIZERS[name](w, dw, config)
    assert config.keys() == before.keys()
    assert all(config[key] is before[key] for key in before)
    for key, array in saved.items():
        np.testing.assert_array_equal(config[key], array)
    # A bad dw shape on a fresh config: no defaults appear either.
    fresh = {"learning_rate": 1e-2}
    with pytest.raises(ValueError):
        OPTIMIZERS[name](w, np.ones(3), fresh)
    assert fresh == {"learning_rate": 1e-2}


def test_get_optimizer():
    assert get_optimizer("adam") is adam
    assert get_optimizer(sgd) is sgd

    def custom(w, dw, config=None):
        return w, config or {}

    assert get_optimizer(custom) is custom
    assert get_optimizer("adamw") is adamw
    with pytest.raises(ValueError, match=r"unknown update rule 'lbfgs'; valid names are: adam, "
                                         r"adamw, rmsprop, sgd, sgd_momentum, "
                                         r"sgd_nesterov_momentum"):
        get_optimizer("lbfgs")
    with pytest.raises(TypeError, match="got int"):
        get_optimizer(3)


# --- The removed in-place mode ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("value", [True, False, "yes"])
def test_in_place_was_removed(name, value):
    w, dw = np.ones((2, 2)), np.full((2, 2), 0.5)
    config = {"learning_rate": 1e-2, "in_place": value}
    with pytest.raises(ValueError, match=r"config\['in_place'\] was removed"):
        OPTIMIZERS[name](w, dw, config)
    assert config == {"learning_rate": 1e-2, "in_place": value}
    np.testing.assert_array_equal(w, np.ones((2, 2)))
