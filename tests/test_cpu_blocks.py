"""The CPU helpers of the NumPy fast paths: block worker threads and per-thread scratch."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from xplayers import _cpu_blocks as cpu_blocks
from xplayers._workspace import clear_workspace, scratch


def _blas_threads() -> list[int]:
    """Thread counts of the BLAS libraries loaded when xplayers first looked (NumPy's)."""
    blas = cpu_blocks._blas()
    return [] if blas is None else [lib.get_num_threads() for lib in blas.lib_controllers]


@pytest.fixture
def three_workers(monkeypatch):
    monkeypatch.setattr(cpu_blocks, "worker_count", lambda: 3)


def test_run_blocks_shares_every_start_once(three_workers) -> None:
    seen: list[tuple[str, list[int]]] = []
    all_running = threading.Barrier(3)

    def task(starts: Sequence[int]) -> int:
        seen.append((threading.current_thread().name, list(starts)))
        all_running.wait(timeout=30)  # the three shares run at the same time
        return sum(starts)

    results = cpu_blocks.run_blocks(task, range(0, 70, 10))
    assert results == [0 + 30 + 60, 10 + 40, 20 + 50]  # interleaved, one result per share
    assert sorted(start for _, starts in seen for start in starts) == list(range(0, 70, 10))
    names = {name for name, _ in seen}
    assert len(names) == 3 and threading.current_thread().name in names


def test_run_blocks_holds_blas_to_one_thread_and_restores_it(three_workers) -> None:
    if not _blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library")
    before = _blas_threads()
    inside = cpu_blocks.run_blocks(lambda starts: _blas_threads(), [0, 1, 2])
    assert all(threads == [1] * len(before) for threads in inside)
    assert _blas_threads() == before


def test_run_blocks_error_propagates_and_leaves_no_state(three_workers) -> None:
    before = _blas_threads()

    def task(starts: Sequence[int]) -> int:
        if 1 in starts:
            raise RuntimeError("block 1 failed")
        return len(starts)

    with pytest.raises(RuntimeError, match="block 1 failed"):
        cpu_blocks.run_blocks(task, [0, 1, 2])
    assert _blas_threads() == before
    assert cpu_blocks.run_blocks(len, [0, 1, 2]) == [1, 1, 1]  # the section lock was released


def test_nested_run_blocks_runs_serially(three_workers) -> None:
    def outer(starts: Sequence[int]) -> list[int]:
        return cpu_blocks.run_blocks(len, [0, 1, 2, 3])

    results = cpu_blocks.run_blocks(outer, [0, 1, 2])
    assert results == [[4], [4], [4]]  # each inner call got the serial path: one share


def test_run_blocks_serial_with_one_worker(monkeypatch) -> None:
    monkeypatch.setattr(cpu_blocks, "worker_count", lambda: 1)
    names: list[str] = []
    assert cpu_blocks.run_blocks(lambda s: names.append(threading.current_thread().name) or
                                 list(s), [0, 5]) == [[0, 5]]
    assert names == [threading.current_thread().name]


def test_worker_count_without_threadpoolctl(monkeypatch) -> None:
    assert cpu_blocks.worker_count() >= 1
    monkeypatch.setattr(cpu_blocks, "_blas_libraries", None)
    assert cpu_blocks.worker_count() == 1


def test_scratch_reuses_memory_per_role_dtype_and_thread() -> None:
    clear_workspace()
    a = scratch("test_a", 100, np.float32)
    assert a.shape == (100,) and a.dtype == np.float32
    assert np.shares_memory(scratch("test_a", 50, np.float32), a)
    assert not np.shares_memory(scratch("test_b", 100, np.float32), a)
    assert scratch("test_a", 100, np.float64).dtype == np.float64
    bigger = scratch("test_a", 1000, np.float32)
    assert bigger.shape == (1000,)
    assert np.shares_memory(scratch("test_a", 10, np.float32), bigger)

    other: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: other.append(scratch("test_a", 10, np.float32)))
    thread.start()
    thread.join()
    assert not np.shares_memory(other[0], bigger)
    clear_workspace()
    assert not np.shares_memory(scratch("test_a", 10, np.float32), bigger)
