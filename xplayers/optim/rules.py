"""First-order update rules, as in the course: ``next_w, config = rule(w, dw, config)``.

Every rule takes the weights ``w`` and their gradient ``dw`` (same shape, dtype and device) and
a ``config`` dict holding hyperparameters and state between calls. Missing keys get the
defaults listed in each docstring; the state arrays (``velocity``, ``cache``, ``m``, ``v``) are
created with ``zeros_like(w)``, so they live on ``w``'s device in ``w``'s dtype.

``config`` is validated completely and the new state computed before anything is written, so a
call that raises leaves the dict untouched. A successful call updates the same dict in place and
returns it. ``w``, ``dw`` and the old state arrays are never modified in place, unless
``config['in_place']`` is True (default False): then ``next_w`` is ``w`` itself and the state
arrays are updated where they are, as ``torch.optim`` does, with no allocation per step (the
caller keeps copies if it may have to undo a step).

Each rule's arithmetic is written once as a portable body (:data:`_PORTABLE`); big NumPy
arrays and CuPy arrays take fused kernels beside it (:mod:`xplayers._optim_kernels`: one pass
over each parameter's memory, blocked NumPy or numba on the CPU, one ``ElementwiseKernel`` on
the GPU), chosen by :mod:`xplayers._fast_paths`; they give the portable body's numbers bit for
bit.

>>> import numpy as np
>>> next_w, config = sgd(np.ones(2), np.full(2, 0.5), {"learning_rate": 0.1})
>>> next_w
array([0.95, 0.95])
"""

from __future__ import annotations

import math
from collections.abc import Callable, MutableMapping
from types import ModuleType
from typing import Any

import numpy as np

from ..backend.checks import as_integer, as_real, check_floating, check_same_dtype
from ..backend.fast_paths import FastPaths
from ..backend.namespace import get_array_module, is_array
from . import kernels as _optim_kernels

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

    ``states`` maps each name in ``state_names`` to the array found in ``config``, or to
    zeros like ``w`` (on its device) when absent.
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
    return xp, config, {name: xp.zeros_like(w) if value is None else value
                        for name, value in states.items()}


_EXPECTED = {"positive": "a positive finite number", "fraction": "a number in [0, 1)"}


def _number(func: str, config: Config, key: str, default: float, kind: str) -> float:
    """``config[key]`` (or ``default``) as a Python float, checked against ``kind``.

    ``kind`` is ``'positive'`` (finite and > 0) or ``'fraction'`` (0 <= value < 1).
    A Python float keeps float32 arithmetic in float32 on every backend.
    """
    value = config.get(key, default)
    number = as_real(value)
    if number is None:
        raise TypeError(
            f"{func}: config[{key!r}] must be {_EXPECTED[kind]}, "
            f"got {type(value).__name__} {value!r}"
        )
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
    xp, config, _ = _begin("sgd", w, dw, config, ())
    defaults = {"learning_rate": 1e-2}
    lr = _number("sgd", config, "learning_rate", defaults["learning_rate"], "positive")
    (next_w,) = _update(xp, "sgd", (w, dw), (lr,), _in_place("sgd", config))
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
    return _momentum_rule("sgd_momentum", w, dw, config)


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
    return _momentum_rule("sgd_nesterov_momentum", w, dw, config)


def _momentum_rule(func: str, w: Any, dw: Any, config: Config | None) -> tuple[Any, Config]:
    """Checks and state of both momentum rules; the arithmetic is ``func``'s own."""
    xp, config, states = _begin(func, w, dw, config, ("velocity",))
    defaults = {"learning_rate": 1e-2, "momentum": 0.9}
    lr = _number(func, config, "learning_rate", defaults["learning_rate"], "positive")
    mu = _number(func, config, "momentum", defaults["momentum"], "fraction")
    next_w, v = _update(xp, func, (w, dw, states["velocity"]), (mu, lr), _in_place(func, config))
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
    next_w, cache = _update(xp, func, (w, dw, cache), (lr, decay, 1.0 - decay, eps),
                            _in_place(func, config))
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
    if as_integer(t) is None:
        raise TypeError(
            f"{func}: config['t'] must be a non-negative integer (steps taken), "
            f"got {type(t).__name__} {t!r}"
        )
    if t < 0:
        raise ValueError(f"{func}: config['t'] must be a non-negative integer, got {t!r}")
    m, v = states["m"], states["v"]
    t = int(t) + 1
    # lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded into two scalars,
    # as torch.optim.Adam does: step_scale * m / (sqrt(v) + eps_scaled).
    root_c2 = math.sqrt(1.0 - beta2**t)
    step_scale = lr * root_c2 / (1.0 - beta1**t)
    eps_scaled = eps * root_c2
    next_w, m, v = _update(
        xp, func, (w, dw, m, v),
        (beta1, 1.0 - beta1, beta2, 1.0 - beta2, step_scale, eps_scaled), _in_place(func, config))
    return next_w, _finish(config, defaults, {"m": m, "v": v, "t": t})


def _in_place(func: str, config: Config) -> bool:
    """``config['in_place']`` (default False), checked to be a bool."""
    value = config.get("in_place", False)
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{func}: config['in_place'] must be True or False, "
                        f"got {type(value).__name__} {value!r}")
    return bool(value)


# -- the arithmetic of each rule, once: portable bodies ----------------------------------
# Arguments: the arrays (w, dw, old state) then the scalars of _optim_kernels.SIGNATURES;
# results: next_w then the new state. Python float scalars keep float32 in float32.


def _sgd(xp: ModuleType, w: Any, dw: Any, lr: float) -> tuple:
    return (w - lr * dw,)


def _sgd_momentum(xp: ModuleType, w: Any, dw: Any, v: Any, mu: float, lr: float) -> tuple:
    v_next = mu * v - lr * dw
    return w + v_next, v_next


def _sgd_nesterov_momentum(xp: ModuleType, w: Any, dw: Any, v_prev: Any, mu: float,
                           lr: float) -> tuple:
    v = mu * v_prev - lr * dw
    return w + v + mu * (v - v_prev), v


def _rmsprop(xp: ModuleType, w: Any, dw: Any, cache: Any, lr: float, decay: float,
             one_minus_decay: float, eps: float) -> tuple:
    c_next = decay * cache + one_minus_decay * (dw * dw)
    return w - lr * dw / (xp.sqrt(c_next) + eps), c_next


def _adam(xp: ModuleType, w: Any, dw: Any, m: Any, v: Any, beta1: float,
          one_minus_beta1: float, beta2: float, one_minus_beta2: float, step_scale: float,
          eps_scaled: float) -> tuple:
    # In-place operators only ever touch arrays created here, never w, dw or the old state.
    m_next = beta1 * m
    m_next += one_minus_beta1 * dw
    v_next = dw * dw
    v_next *= one_minus_beta2
    v_next += beta2 * v
    denom = xp.sqrt(v_next)
    denom += eps_scaled
    step = m_next / denom
    step *= step_scale
    return w - step, m_next, v_next


_PORTABLE: dict[str, Callable[..., tuple]] = {
    "sgd": _sgd,
    "sgd_momentum": _sgd_momentum,
    "sgd_nesterov_momentum": _sgd_nesterov_momentum,
    "rmsprop": _rmsprop,
    "adam": _adam,
}


def _portable_update(xp: ModuleType, rule: str, arrays: tuple[Any, ...],
                     scalars: tuple[float, ...], in_place: bool) -> tuple:
    """``rule``'s outputs (next_w, new state) by its portable body; with ``in_place`` copied
    into ``w`` and the old state arrays, which are returned."""
    news = _PORTABLE[rule](xp, *arrays, *scalars)
    if not in_place:
        return news
    olds = (arrays[0], *arrays[2:])
    for old, new in zip(olds, news, strict=True):
        old[...] = new
    return olds


_update = FastPaths(_portable_update, numba_auto=True, numpy=_optim_kernels.numpy_update,
                    numba=_optim_kernels.numba_update, cupy=_optim_kernels.cupy_update)
"""``_update(xp, rule, (w, dw, *state), scalars, in_place) -> (next_w, *new_state)``."""


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
