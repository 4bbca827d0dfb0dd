"""First-order update rules, as in the course: ``next_w, config = rule(w, dw, config)``.

Every rule takes the weights ``w`` and their gradient ``dw`` (same shape, dtype and device) and
a ``config`` dict holding hyperparameters and state between calls. Missing keys get the
defaults listed in each docstring; the state arrays (``velocity``, ``cache``, ``m``, ``v``) are
created with ``zeros_like(w)``, so they live on ``w``'s device in ``w``'s dtype.

``config`` is validated completely and the new state computed before anything is written, so a
call that raises leaves the dict untouched. A successful call updates the same dict in place and
returns it. ``w`` and ``dw`` are never modified in place.

>>> import numpy as np
>>> next_w, config = sgd(np.ones(2), np.full(2, 0.5), {"learning_rate": 0.1})
>>> next_w
array([0.95, 0.95])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, MutableMapping
from types import ModuleType
from typing import Any

import numpy as np

from ._checks import check_floating, check_same_dtype
from .backend import get_array_module, is_array

__all__ = [
    "OPTIMIZERS",
    "adam",
    "get_optimizer",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "sgd_nesterov_momentum",
]

Config = MutableMapping[str, Any]
UpdateRule = Callable[[Any, Any, "Config | None"], "tuple[Any, Config]"]


def _begin(
    func: str, w: Any, dw: Any, config: Config | None, state_names: tuple[str, ...]
) -> tuple[ModuleType, Config, dict[str, Any]]:
    """Check ``w``, ``dw`` and the state arrays in ``config``; return ``(xp, config, states)``.

    ``states`` maps each name in ``state_names`` to the array found in ``config`` or ``None``.
    """
    if config is None:
        config = {}
    elif type(config) is not dict and not isinstance(config, MutableMapping):
        raise TypeError(f"{func}: config must be a dict or None, got {type(config).__name__}")
    states = {name: config.get(name) for name in state_names}
    for name, value in states.items():
        if value is not None and not is_array(value):
            raise TypeError(
                f"{func}: config[{name!r}] must be an array shaped like w or absent, "
                f"got {type(value).__name__}"
            )
    labelled = {f"config[{name!r}]": value for name, value in states.items()}
    xp = get_array_module(w=w, dw=dw, **labelled)
    check_floating(func, "w", w, xp)
    check_same_dtype(func, xp, w=w, dw=dw, **labelled)
    shape = tuple(w.shape)
    if tuple(dw.shape) != shape:
        raise ValueError(f"{func}: dw has shape {tuple(dw.shape)}, expected w's shape {shape}")
    for name, value in states.items():
        if value is not None and tuple(value.shape) != shape:
            raise ValueError(
                f"{func}: config[{name!r}] has shape {tuple(value.shape)}, "
                f"expected w's shape {shape}"
            )
    return xp, config, states


_EXPECTED = {"positive": "a positive finite number", "fraction": "a number in [0, 1)"}


def _number(func: str, config: Config, key: str, default: float, kind: str) -> float:
    """``config[key]`` (or ``default``) as a Python float, checked against ``kind``.

    ``kind`` is ``'positive'`` (finite and > 0) or ``'fraction'`` (0 <= value < 1).
    A Python float keeps float32 arithmetic in float32 on every backend.
    """
    value = config.get(key, default)
    if type(value) is not float and (isinstance(value, bool)
                                     or not isinstance(value, numbers.Real)):
        raise TypeError(
            f"{func}: config[{key!r}] must be {_EXPECTED[kind]}, "
            f"got {type(value).__name__} {value!r}"
        )
    number = float(value)
    ok = (math.isfinite(number) and number > 0) if kind == "positive" else 0 <= number < 1
    if not ok:
        raise ValueError(f"{func}: config[{key!r}] must be {_EXPECTED[kind]}, got {value!r}")
    return number


def _finish(config: Config, defaults: dict[str, float], new_state: dict[str, Any]) -> Config:
    """Write the defaults of missing hyperparameters and the new state into ``config``."""
    for key, value in defaults.items():
        config.setdefault(key, value)
    config.update(new_state)
    return config


def sgd(w: Any, dw: Any, config: Config | None = None) -> tuple[Any, Config]:
    """Vanilla stochastic gradient descent: ``next_w = w - learning_rate * dw``.

    Parameters
    ----------
    w : array, any shape
        Weights (floating dtype).
    dw : array, shape of ``w``
        Gradient of the loss with respect to ``w``; same dtype and device as ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-2).

    Returns
    -------
    next_w : array, shape of ``w``
    config : dict
        The same dict, with defaults filled in.
    """
    _, config, _ = _begin("sgd", w, dw, config, ())
    defaults = {"learning_rate": 1e-2}
    lr = _number("sgd", config, "learning_rate", defaults["learning_rate"], "positive")
    next_w = w - lr * dw
    return next_w, _finish(config, defaults, {})


def sgd_momentum(w: Any, dw: Any, config: Config | None = None) -> tuple[Any, Config]:
    """SGD with momentum: ``v = momentum * v - learning_rate * dw``; ``next_w = w + v``.

    With a constant learning rate this equals ``torch.optim.SGD(momentum=mu)``, whose buffer
    is ``-v / learning_rate``.

    Parameters
    ----------
    w : array, any shape
    dw : array, shape of ``w``
    config : dict, optional
        ``learning_rate`` (1e-2), ``momentum`` (0.9, in [0, 1)), ``velocity`` (array shaped
        like ``w``; zeros on ``w``'s device when absent).

    Returns
    -------
    next_w : array, shape of ``w``
    config : dict
        The same dict, with ``velocity`` replaced by the new velocity.
    """
    func = "sgd_momentum"
    xp, config, states = _begin(func, w, dw, config, ("velocity",))
    defaults = {"learning_rate": 1e-2, "momentum": 0.9}
    lr = _number(func, config, "learning_rate", defaults["learning_rate"], "positive")
    mu = _number(func, config, "momentum", defaults["momentum"], "fraction")
    v = states["velocity"]
    if v is None:
        v = xp.zeros_like(w)
    v = mu * v - lr * dw
    next_w = w + v
    return next_w, _finish(config, defaults, {"velocity": v})


def sgd_nesterov_momentum(w: Any, dw: Any, config: Config | None = None) -> tuple[Any, Config]:
    """SGD with Nesterov momentum, in the course's form (``dw`` taken at ``w``)::

        v_prev = v
        v = momentum * v - learning_rate * dw
        next_w = w + v + momentum * (v - v_prev)

    This is the change of variables of Sutskever et al. that tracks the look-ahead point, so
    the gradient is the one at the current weights; with a constant learning rate it equals
    ``torch.optim.SGD(momentum=mu, nesterov=True)``.

    Parameters
    ----------
    w : array, any shape
    dw : array, shape of ``w``
    config : dict, optional
        ``learning_rate`` (1e-2), ``momentum`` (0.9, in [0, 1)), ``velocity`` (zeros like ``w``).

    Returns
    -------
    next_w : array, shape of ``w``
    config : dict
        The same dict, with ``velocity`` replaced by the new velocity.
    """
    func = "sgd_nesterov_momentum"
    xp, config, states = _begin(func, w, dw, config, ("velocity",))
    defaults = {"learning_rate": 1e-2, "momentum": 0.9}
    lr = _number(func, config, "learning_rate", defaults["learning_rate"], "positive")
    mu = _number(func, config, "momentum", defaults["momentum"], "fraction")
    v_prev = states["velocity"]
    if v_prev is None:
        v_prev = xp.zeros_like(w)
    v = mu * v_prev - lr * dw
    next_w = w + v + mu * (v - v_prev)
    return next_w, _finish(config, defaults, {"velocity": v})


def rmsprop(w: Any, dw: Any, config: Config | None = None) -> tuple[Any, Config]:
    """RMSProp: a moving average of squared gradients scales each weight's step::

        cache = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Equals ``torch.optim.RMSprop(alpha=decay_rate, eps=epsilon)``.

    Parameters
    ----------
    w : array, any shape
    dw : array, shape of ``w``
    config : dict, optional
        ``learning_rate`` (1e-2), ``decay_rate`` (0.99, in [0, 1)), ``epsilon`` (1e-8),
        ``cache`` (zeros like ``w``).

    Returns
    -------
    next_w : array, shape of ``w``
    config : dict
        The same dict, with ``cache`` replaced by the new cache.
    """
    func = "rmsprop"
    xp, config, states = _begin(func, w, dw, config, ("cache",))
    defaults = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
    lr = _number(func, config, "learning_rate", defaults["learning_rate"], "positive")
    decay = _number(func, config, "decay_rate", defaults["decay_rate"], "fraction")
    eps = _number(func, config, "epsilon", defaults["epsilon"], "positive")
    cache = states["cache"]
    if cache is None:
        cache = xp.zeros_like(w)
    cache = decay * cache + (1.0 - decay) * (dw * dw)
    next_w = w - lr * dw / (xp.sqrt(cache) + eps)
    return next_w, _finish(config, defaults, {"cache": cache})


def adam(w: Any, dw: Any, config: Config | None = None) -> tuple[Any, Config]:
    """Adam with bias correction; ``t`` is incremented BEFORE the correction::

        t += 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)

    Equals ``torch.optim.Adam(betas=(beta1, beta2), eps=epsilon)``.

    Parameters
    ----------
    w : array, any shape
    dw : array, shape of ``w``
    config : dict, optional
        ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon`` (1e-8),
        ``m`` and ``v`` (zeros like ``w``), ``t`` (0, a non-negative integer: steps taken).

    Returns
    -------
    next_w : array, shape of ``w``
    config : dict
        The same dict, with new ``m``, ``v`` and ``t``.
    """
    func = "adam"
    xp, config, states = _begin(func, w, dw, config, ("m", "v"))
    defaults = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    lr = _number(func, config, "learning_rate", defaults["learning_rate"], "positive")
    beta1 = _number(func, config, "beta1", defaults["beta1"], "fraction")
    beta2 = _number(func, config, "beta2", defaults["beta2"], "fraction")
    eps = _number(func, config, "epsilon", defaults["epsilon"], "positive")
    t = config.get("t", 0)
    if type(t) is not int and (isinstance(t, bool) or not isinstance(t, numbers.Integral)):
        raise TypeError(
            f"{func}: config['t'] must be a non-negative integer (steps taken), "
            f"got {type(t).__name__} {t!r}"
        )
    if t < 0:
        raise ValueError(f"{func}: config['t'] must be a non-negative integer, got {t!r}")
    m, v = states["m"], states["v"]
    if m is None:
        m = xp.zeros_like(w)
    if v is None:
        v = xp.zeros_like(w)
    t = int(t) + 1
    # lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded into two scalars,
    # as torch.optim.Adam does: step_scale * m / (sqrt(v) + eps_scaled).
    root_c2 = math.sqrt(1.0 - beta2**t)
    step_scale = lr * root_c2 / (1.0 - beta1**t)
    eps_scaled = eps * root_c2
    if _chunked_numpy(w, dw, m, v):
        next_w, m, v = _adam_numpy(w, dw, m, v, beta1, beta2, step_scale, eps_scaled)
    else:
        # In-place operators only ever touch arrays created here, never w, dw or the old state.
        m_next = beta1 * m
        m_next += (1.0 - beta1) * dw
        v_next = dw * dw
        v_next *= 1.0 - beta2
        v_next += beta2 * v
        m, v = m_next, v_next
        denom = xp.sqrt(v)
        denom += eps_scaled
        step = m / denom
        step *= step_scale
        next_w = w - step
    return next_w, _finish(config, defaults, {"m": m, "v": v, "t": t})


# Elements per block of the NumPy Adam: a block of each of the eight operands stays in the
# L2 cache, so the dozen elementwise passes of an update read main memory about once.
_BLOCK_BYTES = 1 << 18


def _chunked_numpy(*arrays: Any) -> bool:
    """True when blocking pays: C-contiguous NumPy arrays bigger than two blocks."""
    for a in arrays:
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            return False
    first = arrays[0]
    return first.size > 2 * (_BLOCK_BYTES // first.itemsize)


def _adam_numpy(
    w: np.ndarray, dw: np.ndarray, m_old: np.ndarray, v_old: np.ndarray,
    beta1: float, beta2: float, step_scale: float, eps_scaled: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam's update block by block, with the same operations (and results) as the portable code.

    Large weight matrices make the update memory-bound: the portable body streams a dozen
    arrays of w's size through main memory; here each block's temporaries stay in the cache.
    """
    next_w, m, v = np.empty_like(w), np.empty_like(w), np.empty_like(w)
    flat = [a.reshape(-1) for a in (w, dw, m_old, v_old, next_w, m, v)]
    w_f, g_f, m_old_f, v_old_f, next_f, m_f, v_f = flat
    size, block = w.size, _BLOCK_BYTES // w.itemsize
    buf = np.empty(block, dtype=w.dtype)
    for start in range(0, size, block):
        stop = min(start + block, size)
        g, m_b, v_b, tmp = g_f[start:stop], m_f[start:stop], v_f[start:stop], buf[: stop - start]
        np.multiply(m_old_f[start:stop], beta1, out=m_b)
        np.multiply(g, 1.0 - beta1, out=tmp)
        m_b += tmp
        np.multiply(g, g, out=v_b)
        v_b *= 1.0 - beta2
        np.multiply(v_old_f[start:stop], beta2, out=tmp)
        v_b += tmp
        np.sqrt(v_b, out=tmp)
        tmp += eps_scaled
        np.divide(m_b, tmp, out=tmp)
        tmp *= step_scale
        np.subtract(w_f[start:stop], tmp, out=next_f[start:stop])
    return next_w, m, v


OPTIMIZERS: dict[str, UpdateRule] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "sgd_nesterov_momentum": sgd_nesterov_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def get_optimizer(name_or_callable: str | UpdateRule) -> UpdateRule:
    """The update rule called ``name_or_callable`` in :data:`OPTIMIZERS`, or the callable itself.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    TypeError
        For anything that is neither a string nor callable.
    """
    if callable(name_or_callable):
        return name_or_callable
    if not isinstance(name_or_callable, str):
        raise TypeError(
            "update rule must be a name or a callable (w, dw, config) -> (next_w, config), "
            f"got {type(name_or_callable).__name__}"
        )
    try:
        return OPTIMIZERS[name_or_callable]
    except KeyError:
        valid = ", ".join(sorted(OPTIMIZERS))
        raise ValueError(
            f"unknown update rule {name_or_callable!r}; valid names are: {valid}"
        ) from None
