"""BLAS threads for the NumPy conv path's matrix products, chosen per call.

Why (measurements in ``docs/design.md``): with more BLAS threads than free cores, each of
the NumPy conv's many small products waits at its end for a helper thread the scheduler has
not run yet.

So, unless the user says otherwise, each conv call runs its products on at most as many
threads as there are cores left free by the other runnable tasks (from the 1-minute load
average), never more than the BLAS is set to, and restores the BLAS setting afterwards:

- ``XPLAYERS_BLAS_THREADS=N`` (environment) or :func:`set_blas_threads` ``(N)``: use N;
- ``OPENBLAS_NUM_THREADS`` / ``threadpoolctl.threadpool_limits`` cap the BLAS as usual.

Without threadpoolctl (an optional dependency) the BLAS keeps its own setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .checks import as_integer

__all__ = ["choose_threads", "conv_blas_threads", "set_blas_threads"]

_ENV = "XPLAYERS_BLAS_THREADS"
_chosen: int | None = None
_libs: list[Any] | None = None


def set_blas_threads(threads: int | None) -> None:
    """Run the conv path's matrix products on ``threads`` BLAS threads (``None``: automatic).

    Raises
    ------
    ValueError
        If ``threads`` is not a positive int or None.
    """
    global _chosen
    if threads is not None and (as_integer(threads) is None or threads < 1):
        raise ValueError(f"set_blas_threads: threads must be a positive int or None, "
                         f"got {threads!r}")
    _chosen = threads


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_threads(configured: int, load: float | None = None, cores: int | None = None) -> int:
    """BLAS threads for one conv call, given the BLAS's ``configured`` count.

    The user's choice (:func:`set_blas_threads`, then ``XPLAYERS_BLAS_THREADS``) wins;
    otherwise the cores not taken by other runnable tasks (``load`` minus this process's
    own task, from :func:`os.getloadavg` by default), at least 1 and at most ``configured``.
    """
    if _chosen is not None:
        return _chosen
    env = os.environ.get(_ENV, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{_ENV} must be a positive integer, got {env!r}")
        return value
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return configured
    cores = _usable_cores() if cores is None else cores
    free = int(cores - max(0.0, load - 1.0) + 0.5)
    return max(1, min(configured, free))


def _blas_libs() -> list[Any]:
    """threadpoolctl's controllers of the loaded BLAS libraries (empty without it)."""
    global _libs
    if _libs is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _libs = []
        else:
            _libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libs


@contextmanager
def conv_blas_threads() -> Iterator[int | None]:
    """Within the block the BLAS runs on :func:`choose_threads` threads; yields that count
    (``None`` when the BLAS cannot be controlled). The previous counts are restored."""
    libs = _blas_libs()
    if not libs:
        yield None
        return
    saved = [lib.get_num_threads() for lib in libs]
    threads = choose_threads(max(saved))
    if all(n == threads for n in saved):
        yield threads
        return
    for lib in libs:
        lib.set_num_threads(threads)
    try:
        yield threads
    finally:
        for lib, n in zip(libs, saved, strict=True):
            lib.set_num_threads(n)
