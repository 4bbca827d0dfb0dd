"""Every runtime switch of xplayers in one place.

The environment is read once, when xplayers is imported, into a frozen :class:`Settings`
(:func:`environment`; :func:`reload` reads it again). Code changes a switch for a block with
:func:`using` (per thread: context variables), or for the whole process with the older
functions built on it (:func:`xplayers.fast_paths`, :func:`xplayers.layers.set_blas_threads`).
What a switch is now: :func:`current` (or :func:`get` for one of them).

==========================  ==================================================================
``XPLAYERS_DEVICE``         ``auto`` (default), ``cpu``, ``cuda`` or ``cuda:N``: the device new
                            work goes to (:func:`xplayers.default_device`)
``XPLAYERS_NUMBA``          ``1`` on, anything else off (default): numba's kernels, each used
                            only on calls big enough to pay
``XPLAYERS_BLAS_THREADS``   a positive integer: BLAS threads for every product (default: the
                            policy of :mod:`xplayers.backend.blas_threads`)
``XPLAYERS_SWEEP_STORAGE``  the Optuna storage URL of ``xplayers sweep``'s worker processes
==========================  ==================================================================

The table in ``docs/configuration.md`` lists the same switches with everything that sets them.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["AUTO", "DATA_FOLDER_VARIABLES", "ENVIRONMENT_VARIABLES", "Settings", "current",
           "environment", "get", "origin", "parse_device", "read_environment", "reload",
           "set_process_default", "using"]

AUTO = "auto"

ENVIRONMENT_VARIABLES = {
    "device": "XPLAYERS_DEVICE",
    "numba": "XPLAYERS_NUMBA",
    "blas_threads": "XPLAYERS_BLAS_THREADS",
    "sweep_storage": "XPLAYERS_SWEEP_STORAGE",
}
"""Settings field -> the environment variable that sets it."""

DATA_FOLDER_VARIABLES = ("XPLAYERS_COCO_DIR", "XPLAYERS_COURSE_DATASETS")
"""Environment variables naming where the course's data files are: no switches, read by the
loaders on each call (so a notebook may set them just before), listed in the same docs table."""


@dataclass(frozen=True)
class Settings:
    """The value of every switch (see the module docstring).

    ``problems`` maps a field to the message for an environment value that could not be
    read; using that switch raises ``ValueError`` with it (xplayers still imports).
    """

    device: str = AUTO
    numba: bool = False
    blas_threads: int | None = None
    sweep_storage: str | None = None
    problems: Mapping[str, str] = field(default_factory=dict, compare=False)


_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def parse_device(device: str, *, origin: str) -> str:
    """``device`` lower-cased and checked (auto, cpu, cuda or cuda:N); errors name ``origin``.

    Raises
    ------
    TypeError, ValueError
        For a non-string or an unknown device name.
    """
    if not isinstance(device, str):
        raise TypeError(f"{origin} must be a string such as 'cpu' or 'cuda:0', got {device!r}")
    name = device.strip().lower()
    if not _DEVICE_PATTERN.match(name):
        raise ValueError(f"{origin} must be one of auto, cpu, cuda or cuda:N, got {device!r}")
    return name


def read_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """The :class:`Settings` that the environment ``environ`` (default ``os.environ``) asks
    for; values that cannot be read are recorded in ``problems``, not raised."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    raw = {name: env.get(var, "").strip() for name, var in ENVIRONMENT_VARIABLES.items()}
    if raw["device"]:
        values["device"] = raw["device"]  # checked where it is used, naming the variable
    values["numba"] = raw["numba"] == "1"
    if raw["blas_threads"]:
        try:
            threads = int(raw["blas_threads"])
        except ValueError:
            threads = 0
        if threads < 1:
            problems["blas_threads"] = (f"XPLAYERS_BLAS_THREADS must be a positive integer, "
                                        f"got {raw['blas_threads']!r}")
        else:
            values["blas_threads"] = threads
    values["sweep_storage"] = raw["sweep_storage"] or None
    return Settings(**values, problems=problems)


_environment = read_environment()
_UNSET: Any = object()
_names = tuple(f.name for f in fields(Settings) if f.name != "problems")
# Per-thread overrides (using) win over process-wide ones (set_process_default), which win
# over the environment.
_overrides: dict[str, ContextVar[Any]] = {
    name: ContextVar(f"xplayers_{name}", default=_UNSET) for name in _names}
_process: dict[str, Any] = {}
_lock = threading.Lock()


def environment() -> Settings:
    """The settings read from the environment at import (or at the last :func:`reload`)."""
    return _environment


def reload(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment again (for a process that changed ``os.environ`` after
    importing xplayers); returns the new :func:`environment`."""
    global _environment
    _environment = read_environment(environ)
    return _environment


def _check(name: str) -> None:
    if name not in _overrides:
        raise ValueError(f"xplayers.config: no switch called {name!r}; the switches are "
                         f"{', '.join(_names)}")


def origin(name: str) -> str:
    """Where the current value of switch ``name`` comes from, for error messages."""
    _check(name)
    if _overrides[name].get() is not _UNSET:
        return f"xplayers.config.using({name}=...)"
    if name in _process:
        return {"blas_threads": "set_blas_threads"}.get(name, f"the process default {name}")
    return ENVIRONMENT_VARIABLES[name]


def get(name: str) -> Any:
    """The current value of switch ``name`` (``'device'``, ``'numba'``, ...).

    Raises
    ------
    ValueError
        For an unknown name, or when the value comes from an environment variable that
        could not be read (the message names it).
    """
    _check(name)
    value = _overrides[name].get()
    if value is not _UNSET:
        return value
    if name in _process:
        return _process[name]
    problem = _environment.problems.get(name)
    if problem is not None:
        raise ValueError(problem)
    return getattr(_environment, name)


def current() -> Settings:
    """Every switch's current value (per thread), as a :class:`Settings`."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in _names:
        try:
            values[name] = get(name)
        except ValueError as exc:
            problems[name] = str(exc)
    return Settings(**values, problems=problems)


def set_process_default(name: str, value: Any) -> None:
    """Set switch ``name`` for the whole process (``None`` for blas_threads and
    sweep_storage, or :data:`AUTO` for device: back to the environment's value)."""
    _check(name)
    with _lock:
        if value is None or (value == AUTO and name == "device"):
            _process.pop(name, None)
        else:
            _process[name] = value


@contextmanager
def using(*, device: Any = _UNSET, numba: Any = _UNSET, blas_threads: Any = _UNSET,
          sweep_storage: Any = _UNSET) -> Iterator[Settings]:
    """Within the block (in this thread and the tasks it starts), the given switches take
    these values; yields the :func:`current` settings.

    ``device``: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; ``numba``: True or False;
    ``blas_threads``: a positive int, or None for the automatic policy.

    Raises
    ------
    ValueError, TypeError
        For a value the switch does not take (named).
    """
    given = {"device": device, "numba": numba, "blas_threads": blas_threads,
             "sweep_storage": sweep_storage}
    given = {k: v for k, v in given.items() if v is not _UNSET}
    for name, value in given.items():
        _validate(name, value)
    tokens = [(_overrides[name], _overrides[name].set(value)) for name, value in given.items()]
    try:
        yield current()
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _validate(name: str, value: Any) -> None:
    if name == "device":
        parse_device(value, origin="xplayers.config.using(device=...)")
    elif name == "numba":
        if not (value is True or value is False):
            raise TypeError(f"xplayers.config.using: numba must be True or False, "
                            f"got {value!r}")
    elif name == "blas_threads":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"xplayers.config.using: blas_threads must be a positive int or "
                             f"None, got {value!r}")
    elif value is not None and not isinstance(value, str):
        raise TypeError(f"xplayers.config.using: sweep_storage must be a URL string or None, "
                        f"got {value!r}")
