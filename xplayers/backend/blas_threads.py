"""BLAS threads for the NumPy matrix products of every layer, chosen per call.

The policy, in one sentence: **a product of fewer than** :data:`SMALL_PRODUCT` **(16 million)
multiply-adds runs on one BLAS thread, a bigger one on all the threads the BLAS is set to.**

Why (measurements in ``docs/design.md``): a small product finishes in well under a
millisecond, and with more than one thread it waits at its end for a helper thread that a
busy machine's scheduler has not run yet (the digits net ran 4-9x slower on OpenBLAS's two
threads beside one busy process); a big product pays for that wait.

The user's choice wins over the policy: ``XPLAYERS_BLAS_THREADS=N`` (environment, read at
import), :func:`set_blas_threads` ``(N)`` (the process) or
``xplayers.config.using(blas_threads=N)`` (a block). ``OPENBLAS_NUM_THREADS`` /
``threadpoolctl.threadpool_limits`` cap the BLAS as usual: the policy never raises the count
above the BLAS's own setting, and restores it after each product. Without threadpoolctl the
BLAS keeps its own setting.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .. import config
from .checks import as_integer
from .fast_paths import library_of

__all__ = ["SMALL_PRODUCT", "blas_call", "blas_threads_for", "choose_threads", "conv_blas_threads",
           "matmul", "set_blas_threads"]

SMALL_PRODUCT = 1 << 24
"""Multiply-adds below which a product runs on one BLAS thread."""

# (get, set) pairs, one per BLAS library loaded; None until first asked.
_controls: list[tuple[Callable[[], int], Callable[[int], Any]]] | None = None


def set_blas_threads(threads: int | None) -> None:
    """Run every layer's matrix products on ``threads`` BLAS threads, in the whole process
    (``None``: the automatic policy of this module).

    Raises
    ------
    ValueError
        If ``threads`` is not a positive int or None.
    """
    if threads is not None and (as_integer(threads) is None or threads < 1):
        raise ValueError(f"set_blas_threads: threads must be a positive int or None, "
                         f"got {threads!r}")
    config.set_process_default("blas_threads", threads)


def choose_threads(configured: int, multiply_adds: int | None = None) -> int:
    """BLAS threads for one product of ``multiply_adds`` (None: a big one), given the BLAS's
    ``configured`` count.

    The user's choice (see the module docstring) wins; otherwise 1 below
    :data:`SMALL_PRODUCT` multiply-adds, else ``configured``.

    Raises
    ------
    ValueError
        When ``XPLAYERS_BLAS_THREADS`` is not a positive integer (named).
    """
    chosen = config.get("blas_threads")
    if chosen is not None:
        return chosen
    if multiply_adds is not None and multiply_adds < SMALL_PRODUCT:
        return 1
    return configured


def _find_controls() -> list[tuple[Callable[[], int], Callable[[int], Any]]]:
    """The loaded BLAS libraries' thread getters and setters (empty without threadpoolctl).

    For OpenBLAS on its own threads, the C functions themselves (a call costs well under a
    microsecond); otherwise threadpoolctl's controller methods."""
    global _controls
    if _controls is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controls = []
            return _controls
        found = []
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
            getter = setter = None
            if (getattr(lib, "internal_api", None) == "openblas"
                    and getattr(lib, "threading_layer", None) == "pthreads"):
                try:
                    getter = lib._get_symbol("openblas_get_num_threads")
                    setter = lib._get_symbol("openblas_set_num_threads")
                except Exception:  # a threadpoolctl without these private helpers
                    getter = setter = None
            if getter is None or setter is None:
                getter, setter = lib.get_num_threads, lib.set_num_threads
            found.append((getter, setter))
        _controls = found
    return _controls


@contextmanager
def blas_threads_for(multiply_adds: int | None) -> Iterator[int | None]:
    """Within the block the BLAS runs on :func:`choose_threads` threads for a product of
    ``multiply_adds``; yields that count (``None`` when the BLAS cannot be controlled). The
    previous counts are restored afterwards."""
    controls = _controls if _controls is not None else _find_controls()
    if not controls:
        yield None
        return
    saved = [get() for get, _ in controls]
    threads = choose_threads(max(saved), multiply_adds)
    if all(n == threads for n in saved):
        yield threads
        return
    for _, set_threads in controls:
        set_threads(threads)
    try:
        yield threads
    finally:
        for (_, set_threads), n in zip(controls, saved, strict=True):
            set_threads(n)


def blas_call(multiply_adds: int, func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` with the BLAS on :func:`choose_threads` threads for a product of
    ``multiply_adds`` (the cheap form of :func:`blas_threads_for`, for one product)."""
    controls = _controls if _controls is not None else _find_controls()
    if not controls:
        return func(*args)
    if len(controls) == 1:  # the usual case, a few hundred nanoseconds when nothing changes
        get, set_threads = controls[0]
        saved = get()
        threads = choose_threads(saved, multiply_adds)
        if threads == saved:
            return func(*args)
        set_threads(threads)
        try:
            return func(*args)
        finally:
            set_threads(saved)
    with blas_threads_for(multiply_adds):
        return func(*args)


def matmul(xp: Any, a: Any, b: Any) -> Any:
    """``a @ b`` for 2-d arrays of namespace ``xp``; NumPy's run on the policy's threads."""
    if library_of(xp) != "numpy":
        return a @ b
    return blas_call(a.shape[0] * a.shape[1] * b.shape[1], operator.matmul, a, b)


def conv_blas_threads(multiply_adds: int | None = None) -> Any:
    """:func:`blas_threads_for` under its older name (the conv layer's)."""
    return blas_threads_for(multiply_adds)
