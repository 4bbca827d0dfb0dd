"""First-order update rules, as in the course: ``next_w, config = rule(w, dw, config)``.

Every rule takes the weights ``w`` and their gradient ``dw`` (same shape, dtype and device) and
a ``config`` dict holding hyperparameters and state between calls. Missing keys get the
defaults listed in each docstring; the state arrays (``velocity``, ``cache``, ``m``, ``v``) are
created with ``zeros_like(w)``, so they live on ``w``'s device in ``w``'s dtype.

``config`` is validated completely and the new state computed before anything is written, so a
call that raises leaves the dict untouched. A successful call updates the same dict in place and
returns it. ``w``, ``dw`` and the old state arrays are never modified (the in-place mode,
``config['in_place']``, was removed: passing it raises a ``ValueError``).

Each rule is one :class:`~xplayers.optim.specs.UpdateSpec` (its formula written once); the
engines of :mod:`xplayers.optim.kernels` run it (portable body, blocked NumPy, numba, one CuPy
``ElementwiseKernel``), all giving the same bits. :data:`OPTIMIZERS` is the registry.

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

from ..backend.checks import as_integer, as_real, check_floating, check_same_dtype
from ..backend.namespace import get_array_module, is_array
from .kernels import formula_of, update
from .specs import FRACTION, NON_NEGATIVE, POSITIVE, SPECS, UpdateSpec

Config = MutableMapping[str, Any]
UpdateRule = Callable[[Any, Any, "Config | None"], "tuple[Any, Config]"]


def _begin(
    func: str, w: Any, dw: Any, config: Config | None, state_names: tuple[str, ...],
    zeros: bool = True,
) -> tuple[ModuleType, Config, dict[str, Any]]:
    """Check ``w``, ``dw`` and the state arrays in ``config``; return ``(xp, config, states)``.

    ``states`` maps each name in ``state_names`` to the array found in ``config``, or, when
    absent, to zeros like ``w`` (on its device), or None if not ``zeros``.
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
    return xp, config, {name: xp.zeros_like(w) if value is None and zeros else value
                        for name, value in states.items()}


_EXPECTED = {POSITIVE: "a positive finite number", FRACTION: "a number in [0, 1)",
             NON_NEGATIVE: "a finite number >= 0"}
_ACCEPTS = {POSITIVE: lambda x: math.isfinite(x) and x > 0, FRACTION: lambda x: 0 <= x < 1,
            NON_NEGATIVE: lambda x: math.isfinite(x) and x >= 0}


def _number(func: str, config: Config, key: str, default: float, kind: str) -> float:
    """``config[key]`` (or ``default``) as a Python float, checked against ``kind``.

    ``kind`` is one of :mod:`xplayers.optim.specs`' validation kinds. A Python float keeps
    float32 arithmetic in float32 on every backend.
    """
    value = config.get(key, default)
    number = as_real(value)
    if number is None:
        raise TypeError(
            f"{func}: config[{key!r}] must be {_EXPECTED[kind]}, "
            f"got {type(value).__name__} {value!r}"
        )
    if not _ACCEPTS[kind](number):
        raise ValueError(f"{func}: config[{key!r}] must be {_EXPECTED[kind]}, got {value!r}")
    return number


def _finish(config: Config, defaults: dict[str, float], new_state: dict[str, Any]) -> Config:
    """Write the defaults of missing hyperparameters and the new state into ``config``."""
    for key, value in defaults.items():
        config.setdefault(key, value)
    config.update(new_state)
    return config


Prepared = tuple[ModuleType, Config, tuple[Any, ...], tuple[float, ...], dict[str, Any]]


def prepare(spec: UpdateSpec, w: Any, dw: Any, config: Config | None,
            zeros: bool = True) -> Prepared:
    """Check one call of ``spec``'s rule; nothing is written.

    Returns ``(xp, config, arrays, scalars, extra)``: the namespace, the config dict,
    ``(w, dw, *state)`` (absent state as zeros like ``w``, or None if not ``zeros``), the
    formula's host scalars, and the entries to store on success (``t`` for rules that count
    steps).
    """
    func = spec.name
    xp, config, states = _begin(func, w, dw, config, tuple(key for key, _ in spec.state),
                                zeros)
    if "in_place" in config:
        raise ValueError(
            f"{func}: config['in_place'] was removed (updates always return new arrays and "
            f"leave w and the state untouched); drop the key, got {config['in_place']!r}")
    hyper = {h.key: _number(func, config, h.key, h.default, h.kind)
             for h in spec.hyperparameters}
    extra: dict[str, Any] = {}
    t = 0
    if spec.counts_steps:
        t = config.get("t", 0)
        if as_integer(t) is None:
            raise TypeError(
                f"{func}: config['t'] must be a non-negative integer (steps taken), "
                f"got {type(t).__name__} {t!r}"
            )
        if t < 0:
            raise ValueError(f"{func}: config['t'] must be a non-negative integer, got {t!r}")
        t = extra["t"] = int(t) + 1
    derived = spec.scalars(hyper, t)
    scalars = tuple(derived[name] for name in formula_of(spec).scalars)
    return xp, config, (w, dw, *states.values()), scalars, extra


def finish(spec: UpdateSpec, config: Config, new_state: tuple[Any, ...],
           extra: dict[str, Any]) -> Config:
    """Store defaults, the new state arrays (in ``spec.state`` order) and ``extra``."""
    state = dict(zip((key for key, _ in spec.state), new_state, strict=True))
    return _finish(config, spec.defaults, {**state, **extra})


def _apply(name: str, w: Any, dw: Any, config: Config | None) -> tuple[Any, Config]:
    """Run the registered rule ``name`` once (see the module docstring)."""
    spec = SPEC_BY_NAME[name]
    xp, config, arrays, scalars, extra = prepare(spec, w, dw, config)
    next_w, *new_state = update(xp, spec, arrays, scalars)
    return next_w, finish(spec, config, tuple(new_state), extra)


SPEC_BY_NAME: dict[str, UpdateSpec] = {spec.name: spec for spec in SPECS}
OPTIMIZERS: dict[str, UpdateRule] = {}
"""The registry: each public rule by name, in :data:`~xplayers.optim.specs.SPECS` order."""


def _registered(rule: UpdateRule) -> UpdateRule:
    """Decorator: list the public function of the spec of the same name in :data:`OPTIMIZERS`."""
    name = rule.__name__
    if name not in SPEC_BY_NAME:
        raise ValueError(f"no UpdateSpec named {name!r} in xplayers.optim.specs.SPECS")
    OPTIMIZERS[name] = rule
    order = list(SPEC_BY_NAME)
    for key in sorted(OPTIMIZERS, key=order.index):
        OPTIMIZERS[key] = OPTIMIZERS.pop(key)
    return rule


@_registered
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
    return _apply("sgd", w, dw, config)


@_registered
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
    return _apply("sgd_momentum", w, dw, config)


@_registered
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
    return _apply("sgd_nesterov_momentum", w, dw, config)


@_registered
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
    return _apply("rmsprop", w, dw, config)


@_registered
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
    return _apply("adam", w, dw, config)


@_registered
def adamw(w: Any, dw: Any, config: Config | None = None) -> tuple[Any, Config]:
    """AdamW: Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Each step first decays the weights, then takes Adam's step (see :func:`adam`)::

        w = w * (1 - learning_rate * weight_decay)

    Parameters
    ----------
    w : array, any shape
    dw : array, shape of ``w``
    config : dict, optional
        Those of :func:`adam` and ``weight_decay`` (1e-2, finite and >= 0).

    Returns
    -------
    next_w : array, shape of ``w``
    config : dict
        The same dict, with new ``m``, ``v`` and ``t``.
    """
    return _apply("adamw", w, dw, config)


def optimizer_names() -> tuple[str, ...]:
    """The registered rules' names (the CLI's and the sweep's optimizer choices)."""
    return tuple(OPTIMIZERS)


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


__all__ = ["OPTIMIZERS", "get_optimizer", "optimizer_names", *OPTIMIZERS]
