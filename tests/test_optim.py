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
    get_optimizer,
    rmsprop,
    sgd,
    sgd_momentum,
    sgd_nesterov_momentum,
)

STATE_KEYS = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "sgd_nesterov_momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("m", "v"),
}


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
    """The course's formulas element by element in Python floats; returns (w, state)."""
    lr = config["learning_rate"]
    w = [float(a) for a in w]
    n = len(w)
    s1, s2 = [0.0] * n, [0.0] * n  # velocity / cache / m, and v
    t = 0
    for g in grads:
        t += 1
        for i in range(n):
            gi = float(g[i])
            if name == "sgd":
                w[i] -= lr * gi
            elif name == "sgd_momentum":
                s1[i] = 0.9 * s1[i] - lr * gi
                w[i] += s1[i]
            elif name == "sgd_nesterov_momentum":
                prev = s1[i]
                s1[i] = 0.9 * s1[i] - lr * gi
                w[i] += -0.9 * prev + 1.9 * s1[i]
            elif name == "rmsprop":
                s1[i] = 0.99 * s1[i] + 0.01 * gi * gi
                w[i] -= lr * gi / (math.sqrt(s1[i]) + 1e-8)
            else:
                s1[i] = 0.9 * s1[i] + 0.1 * gi
                s2[i] = 0.999 * s2[i] + 0.001 * gi * gi
                m_hat, v_hat = s1[i] / (1 - 0.9**t), s2[i] / (1 - 0.999**t)
                w[i] -= lr * m_hat / (math.sqrt(v_hat) + 1e-8)
    return w, s1, s2


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_plain_python_reference(backend, name, dtype):
    n, d = 4, 5
    w0 = np.linspace(-0.4, 0.6, num=n * d).reshape(n, d)
    grads = [np.linspace(-0.6, 0.4, num=n * d).reshape(n, d) * k for k in (1.0, -0.5, 2.0)]
    lr = 1e-3 if name == "adam" else 1e-2
    ref_w, ref_s1, ref_s2 = reference_steps(name, w0.ravel(), [g.ravel() for g in grads],
                                            {"learning_rate": lr})
    w = backend.asarray(w0, dtype)
    config = {"learning_rate": lr}
    for g in grads:
        w, config = OPTIMIZERS[name](w, backend.asarray(g, dtype), config)
    assert dtype_name(w) == np.dtype(dtype).name
    assert_close(w, np.reshape(ref_w, (n, d)).astype(dtype), **tolerance(dtype))
    keys = STATE_KEYS[name]
    for key, ref in zip(keys, (ref_s1, ref_s2)[: len(keys)], strict=True):
        assert_close(config[key], np.reshape(ref, (n, d)).astype(dtype),
                     rtol=tolerance(dtype)["rtol"] * 10, atol=tolerance(dtype)["atol"])
    if name == "adam":
        assert config["t"] == len(grads)


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_blocked_numpy_path_equals_portable_path(rng, dtype):
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
        w_np, config = adam(w_np, dw, config)
        w_strict, strict_config = adam(w_strict, strict.asarray(dw), strict_config)
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


def test_numpy_scalar_hyperparameters_keep_float32():
    w = np.ones(3, dtype=np.float32)
    config = {"learning_rate": np.float64(0.1), "momentum": np.float64(0.5)}
    next_w, config = sgd_momentum(w, w, config)
    assert next_w.dtype == np.float32
    assert config["velocity"].dtype == np.float32


# --- torch.optim in float64 --------------------------------------------------------------


def torch_optimizer(name, param, lr):
    torch = pytest.importorskip("torch")
    if name == "sgd":
        return torch.optim.SGD([param], lr=lr)
    if name == "sgd_momentum":
        # torch's buffer b = mu*b + g, w -= lr*b; ours v = -lr*b (equal for a constant lr)
        return torch.optim.SGD([param], lr=lr, momentum=0.9)
    if name == "sgd_nesterov_momentum":
        return torch.optim.SGD([param], lr=lr, momentum=0.9, nesterov=True)
    if name == "rmsprop":
        return torch.optim.RMSprop([param], lr=lr, alpha=0.99, eps=1e-8)
    return torch.optim.Adam([param], lr=lr, betas=(0.9, 0.999), eps=1e-8)


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
     ("adam", "beta2", -0.5), ("adam", "epsilon", -1e-8)],
)
def test_bad_hyperparameters(name, key, value):
    with pytest.raises(ValueError, match=rf"{name}: config\['{key}'\] must be"):
        OPTIMIZERS[name](np.ones(2), np.ones(2), {key: value})


@pytest.mark.parametrize("t, error", [(-1, ValueError), (1.5, TypeError), ("3", TypeError)])
def test_adam_bad_t(t, error):
    with pytest.raises(error, match=r"config\['t'\] must be a non-negative integer"):
        adam(np.ones(2), np.ones(2), {"t": t})


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
    # A bad hyperparameter checked after the state: nothing may be written.
    config["epsilon" if name in ("rmsprop", "adam") else "learning_rate"] = -1.0
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
    with pytest.raises(ValueError, match=r"unknown update rule 'adamw'; valid names are: adam, "
                                         r"rmsprop, sgd, sgd_momentum, sgd_nesterov_momentum"):
        get_optimizer("adamw")
    with pytest.raises(TypeError, match="got int"):
        get_optimizer(3)


# --- Fused kernels: the same numbers as the portable body --------------------------------

FUSED_SHAPE = (70, 130)  # above the fused-kernel threshold, not a whole number of blocks


def _random_state(rng, name, dtype):
    state = {}
    for key in STATE_KEYS[name]:
        value = rng.standard_normal(FUSED_SHAPE).astype(dtype)
        state[key] = np.abs(value) if key in ("v", "cache") else value
    if name == "adam":
        state["t"] = 4
    return state


@pytest.fixture(params=["numba", "numpy"])
def fused_engine(request):
    """Run the fused NumPy update with the numba kernels (opted in), then with the blocked
    NumPy bodies (the default)."""
    from xplayers import fast_paths
    from xplayers.backend.fast_paths import numba_enabled

    if request.param == "numba":
        pytest.importorskip("numba")
    with fast_paths(numba=request.param == "numba"):
        assert numba_enabled() == (request.param == "numba")
        yield request.param


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_numpy_equals_portable_body_bit_for_bit(rng, fused_engine, name, dtype, in_place):
    # array_api_strict (NumPy underneath) always takes the portable body.
    strict = pytest.importorskip("array_api_strict")
    state = _random_state(rng, name, dtype)
    w0 = rng.standard_normal(FUSED_SHAPE).astype(dtype)
    config = {"learning_rate": 3e-3, **{k: np.copy(v) if k != "t" else v
                                        for k, v in state.items()}, "in_place": in_place}
    strict_config = {"learning_rate": 3e-3,
                     **{k: strict.asarray(v) if k != "t" else v for k, v in state.items()}}
    w_np, w_strict = w0.copy(), strict.asarray(w0)
    for _ in range(3):
        dw = rng.standard_normal(FUSED_SHAPE).astype(dtype)
        before = w_np
        w_np, config = OPTIMIZERS[name](w_np, dw, config)
        assert (w_np is before) == in_place
        w_strict, strict_config = OPTIMIZERS[name](w_strict, strict.asarray(dw), strict_config)
    np.testing.assert_array_equal(w_np, np.asarray(w_strict))
    assert w_np.dtype == dtype
    for key in STATE_KEYS[name]:
        np.testing.assert_array_equal(config[key], np.asarray(strict_config[key]), err_msg=key)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_in_place_updates_w_and_state_where_they_are(backend, rng, name):
    w_host = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    expected, ref_config = OPTIMIZERS[name](backend.asarray(w_host), backend.asarray(g))
    expected, ref_config = OPTIMIZERS[name](expected, backend.asarray(g), ref_config)
    w = backend.asarray(w_host)
    next_w, config = OPTIMIZERS[name](w, backend.asarray(g), {"in_place": True})
    state = {key: config[key] for key in STATE_KEYS[name]}
    next_w, config = OPTIMIZERS[name](next_w, backend.asarray(g), config)
    assert next_w is w
    assert all(config[key] is array for key, array in state.items())
    assert_close(w, backend.to_numpy(expected), rtol=1e-12, atol=1e-15)
    for key in STATE_KEYS[name]:
        assert_close(config[key], backend.to_numpy(ref_config[key]), rtol=1e-12, atol=1e-15)


def test_in_place_must_be_a_bool():
    with pytest.raises(TypeError, match=r"config\['in_place'\] must be True or False, got str"):
        sgd(np.ones(2), np.ones(2), {"in_place": "yes"})


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cupy_kernel_formula_equals_portable_body(rng, name, dtype):
    # The CuPy ElementwiseKernel's body is valid Python: run the very string on NumPy arrays.
    from xplayers.optim.kernels import FORMULAS, SIGNATURES, run_formula

    strict = pytest.importorskip("array_api_strict")
    state = _random_state(rng, name, dtype)
    w = rng.standard_normal(FUSED_SHAPE).astype(dtype)
    dw = rng.standard_normal(FUSED_SHAPE).astype(dtype)
    lr, mu, decay, eps, b1, b2 = 3e-3, 0.9, 0.99, 1e-8, 0.9, 0.999
    t = state.get("t", 0) + 1
    root_c2 = math.sqrt(1.0 - b2**t)
    scalars = {"lr": lr, "mu": mu, "decay": decay, "one_minus_decay": 1.0 - decay, "eps": eps,
               "beta1": b1, "one_minus_beta1": 1.0 - b1, "beta2": b2,
               "one_minus_beta2": 1.0 - b2, "step_scale": lr * root_c2 / (1.0 - b1**t),
               "eps_scaled": eps * root_c2}
    inputs, outputs, names = SIGNATURES[name]
    assert all(f"{out} =" in FORMULAS[name] for out in outputs)
    arrays = dict(zip(inputs, [w, dw, *(state[k] for k in STATE_KEYS[name])], strict=True))
    typed = {key: dtype(scalars[key]) for key in names}  # the kernel's scalars are of type T
    ours = run_formula(name, np, arrays, typed)
    strict_config = {"learning_rate": lr, **{k: strict.asarray(v) if k != "t" else v
                                             for k, v in state.items()}}
    w_strict, strict_config = OPTIMIZERS[name](strict.asarray(w), strict.asarray(dw),
                                               strict_config)
    np.testing.assert_array_equal(ours["w_out"], np.asarray(w_strict))
    for out, key in zip(outputs[1:], STATE_KEYS[name], strict=True):
        np.testing.assert_array_equal(ours[out], np.asarray(strict_config[key]), err_msg=key)


def test_cupy_update_kernels_are_compiled_without_fma(monkeypatch):
    """Each rule's CuPy kernel is built with ``--fmad=false`` (bit-for-bit with the ufuncs)."""
    import sys
    import types

    from xplayers.optim import kernels as _optim_kernels

    built = []

    class FakeElementwiseKernel:
        def __init__(self, *args, **kwargs):
            built.append((args, kwargs))

    monkeypatch.setitem(sys.modules, "cupy",
                        types.SimpleNamespace(ElementwiseKernel=FakeElementwiseKernel))
    monkeypatch.setattr(_optim_kernels, "_CUPY_KERNELS", {})
    for rule in _optim_kernels.FORMULAS:
        _optim_kernels._cupy_kernel(rule)
    assert len(built) == len(_optim_kernels.FORMULAS)
    for _, kwargs in built:
        assert "--fmad=false" in kwargs.get("options", ())
