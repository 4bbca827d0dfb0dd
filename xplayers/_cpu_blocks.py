"""Run a NumPy kernel's independent blocks of work on several CPU threads.

NumPy's copies and additions run on one core; only its BLAS uses them all. A kernel made of
many cache-sized blocks (im2col, one matrix product, col2im per block) runs faster when each
core takes whole blocks instead: the blocks go to a small thread pool (NumPy releases the GIL
in both copies and products) while the BLAS is held to one thread, so that the cores are not
oversubscribed.

The number of workers is the BLAS's own thread count at call time, read with threadpoolctl:
whoever limits the BLAS to one thread (``threadpoolctl.threadpool_limits(1)``,
``OPENBLAS_NUM_THREADS=1``) gets the plain serial loop, and so does a call made while another
thread is inside a parallel section. The BLAS limit is process-wide: while a parallel section
runs, other threads' BLAS calls also run on one thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

__all__ = ["run_blocks", "worker_count"]

T = TypeVar("T")

_UNSET: Any = object()
_blas_libraries: Any = _UNSET  # threadpoolctl's controller of the loaded BLAS libraries
_executor: ThreadPoolExecutor | None = None
_section = threading.Lock()


def _blas() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, or None without threadpoolctl."""
    global _blas_libraries
    if _blas_libraries is _UNSET:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_libraries = None
        else:
            selected = ThreadpoolController().select(user_api="blas")
            _blas_libraries = selected if selected.lib_controllers else None
    return _blas_libraries


def worker_count() -> int:
    """How many threads :func:`run_blocks` would use now: the BLAS's thread count (at least 1)."""
    blas = _blas()
    if blas is None:
        return 1
    return max(1, min(lib.num_threads for lib in blas.lib_controllers))


def run_blocks(task: Callable[[Sequence[int]], T], starts: Sequence[int]) -> list[T]:
    """Call ``task`` on interleaved shares of ``starts``, one share per worker thread.

    Parameters
    ----------
    task : callable
        Takes a share of ``starts`` (the first indices of its blocks) and does their work;
        shares must write to disjoint memory.
    starts : sequence of int
        The blocks' first indices.

    Returns
    -------
    list
        ``task``'s results, one per share: a single one when the work ran serially.
    """
    workers = min(len(starts), worker_count())
    if workers <= 1 or not _section.acquire(blocking=False):
        return [task(starts)]
    try:
        with _blas().limit(limits=1):
            shares = [starts[k::workers] for k in range(workers)]
            futures: list[Future[T]] = []
            try:
                futures = [_pool().submit(task, share) for share in shares[1:]]
                first = task(shares[0])  # the calling thread takes a share too
            finally:
                wait(futures)  # never leave a worker writing after an error here
            return [first, *(future.result() for future in futures)]
    finally:
        _section.release()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                       thread_name_prefix="xplayers-cpu")
    return _executor


def _forget_pool_after_fork() -> None:
    # A forked child has the pool object but none of its threads.
    global _executor, _section
    _executor = None
    _section = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
