"""The one way a layer or an update rule has a fast path: a portable body and a table beside it.

Every computation is written once as a *portable body* against the Array API namespace ``xp``
(its first argument). A :class:`FastPaths` table wraps that body and may hold faster
implementations for one array library each, keyed by the library's name:

- ``"numpy"`` for NumPy arrays, ``"cupy"`` for CuPy arrays;
- ``"numba"`` for NumPy arrays too, tried before ``"numpy"`` when numba is installed and
  switched on (``XPLAYERS_NUMBA=1`` at import, or ``fast_paths(numba=True)``; see
  :func:`numba_enabled`); each numba implementation also declines calls too small to pay.

Calling the table with ``xp`` and the body's arguments runs the first implementation of the
arrays' library that accepts them, else the portable body. An implementation takes the very
arguments of the portable body and returns ``NotImplemented`` to decline inputs outside what
it handles (a dtype, a layout, a size too small to pay), so every condition for a fast path
sits in that implementation, in one place. Results of every implementation agree with the
portable body (bit for bit or to rounding, as each one documents).

:func:`fast_paths` switches every table to its portable body (``with fast_paths(False):``),
which is how the tests compare each fast path with the body it stands in for, and numba's
kernels on or off (``numba=``).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from .. import config

__all__ = ["PORTABLE", "FastPaths", "fast_paths", "fast_paths_enabled", "library_of",
           "numba_enabled"]

PORTABLE = "portable"
"""The name :meth:`FastPaths.run` reports when the portable body ran."""

_LIBRARIES = ("numpy", "cupy", "numba")
_ENABLED: ContextVar[bool] = ContextVar("xplayers_fast_paths", default=True)
# numba is a plain switch (xplayers.config), off by default: importing it and loading its
# kernels costs about a second, which short runs (the digits in a second) must not pay.


@contextmanager
def fast_paths(enabled: bool = True, *, numba: bool | None = None) -> Iterator[None]:
    """Within the block, fast paths are used (``True``, the default) or not (``False``).

    ``with xplayers.fast_paths(False):`` makes every layer and update rule run its portable
    body, on any array library. ``numba=True``/``False`` switches the numba kernels on or
    off (None: as before; the default is the ``numba`` switch of :mod:`xplayers.config`, from
    ``XPLAYERS_NUMBA`` at import: ``1`` on, anything else off). The settings are per thread
    (context variables).
    """
    for name, value, allowed in (("enabled", enabled, (True, False)),
                                 ("numba", numba, (True, False, None))):
        if not any(value is a for a in allowed):
            raise TypeError(f"fast_paths: {name} must be one of {allowed}, got {value!r}")
    token = _ENABLED.set(enabled)
    try:
        if numba is None:
            yield
        else:
            with config.using(numba=numba):
                yield
    finally:
        _ENABLED.reset(token)


def fast_paths_enabled() -> bool:
    """False inside ``with fast_paths(False):``, else True."""
    return _ENABLED.get()


@functools.cache
def _numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def numba_enabled() -> bool:
    """True when numba's kernels are switched on (``XPLAYERS_NUMBA=1`` when xplayers was
    imported, ``fast_paths(numba=True)`` or ``xplayers.config.using(numba=True)``) and numba
    is installed."""
    return config.get("numba") is True and _numba_installed()


@functools.cache
def library_of(xp: ModuleType) -> str:
    """``'numpy'``, ``'cupy'``, or the namespace's own name (``'torch'``, ...) for ``xp``."""
    return xp.__name__.removeprefix("array_api_compat.").split(".")[0]


class FastPaths:
    """A portable body and its per-library implementations (see the module docstring).

    Parameters
    ----------
    portable : callable ``(xp, *args, **kwargs)``
        The body written against the Array API namespace ``xp``.
    **implementations : callables with the same signature
        Keyed ``numpy``, ``cupy`` or ``numba``: the whole table is given here, once per
        operation (CONTRIBUTING.md, "Fast paths").

    Raises
    ------
    ValueError
        For a key that is not one of those libraries.
    """

    def __init__(self, portable: Callable[..., Any], **implementations: Callable[..., Any]):
        self.portable = portable
        self._table: dict[str, Callable[..., Any]] = {}
        # Per array library, the (name, implementation) pairs to try in order.
        self._candidates: dict[str, tuple[tuple[str, Callable[..., Any]], ...]] = {}
        functools.update_wrapper(self, portable)
        for library, func in implementations.items():
            if library not in _LIBRARIES:
                raise ValueError(f"FastPaths: library must be one of {_LIBRARIES}, "
                                 f"got {library!r}")
            self._table[library] = func
        order = {"numpy": ("numba", "numpy"), "cupy": ("cupy",)}
        self._candidates = {
            lib: tuple((name, self._table[name]) for name in names if name in self._table)
            for lib, names in order.items()
        }

    def implementation(self, name: str) -> Callable[..., Any]:
        """The implementation called ``name`` (as :meth:`run` reported it), or the portable body."""
        return self.portable if name == PORTABLE else self._table[name]

    def run(self, xp: ModuleType, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        """``(name, result)``: which implementation ran (a library or :data:`PORTABLE`), and
        its result."""
        if self._candidates and _ENABLED.get():
            for name, func in self._candidates.get(library_of(xp), ()):
                if name == "numba" and not numba_enabled():
                    continue
                result = func(xp, *args, **kwargs)
                if result is not NotImplemented:
                    return name, result
        return PORTABLE, self.portable(xp, *args, **kwargs)

    def __call__(self, xp: ModuleType, *args: Any, **kwargs: Any) -> Any:
        """The result of the first implementation that accepts the arguments (see :meth:`run`)."""
        return self.run(xp, *args, **kwargs)[1]
