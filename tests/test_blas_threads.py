"""The NumPy conv path's per-call BLAS thread choice: the policy, the user's override, and
that the BLAS setting comes back afterwards (the products' numbers never depend on it)."""

from __future__ import annotations

import numpy as np
import pytest

from xplayers.backend import blas_threads as _blas_threads
from xplayers.backend.blas_threads import choose_threads, conv_blas_threads, set_blas_threads
from xplayers.layers import conv_backward, conv_forward


@pytest.fixture(autouse=True)
def _automatic(monkeypatch):
    monkeypatch.delenv("XPLAYERS_BLAS_THREADS", raising=False)
    set_blas_threads(None)
    yield
    set_blas_threads(None)


@pytest.mark.parametrize(("load", "cores", "configured", "expected"), [
    (1.0, 2, 2, 2),   # only this process runs: both threads
    (0.2, 2, 2, 2),
    (2.0, 2, 2, 1),   # one other task: one free core
    (4.4, 2, 2, 1),   # busy machine: one thread, never zero
    (3.0, 16, 8, 8),  # plenty of free cores: the BLAS's own setting caps it
    (9.0, 16, 16, 8),
])
def test_automatic_choice_leaves_other_tasks_their_cores(load, cores, configured, expected):
    assert choose_threads(configured, load=load, cores=cores) == expected


def test_user_choice_wins(monkeypatch):
    monkeypatch.setenv("XPLAYERS_BLAS_THREADS", "3")
    assert choose_threads(2, load=10.0, cores=2) == 3
    set_blas_threads(1)
    assert choose_threads(2, load=0.0, cores=2) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_blas_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="threads must be a positive int or None"):
        set_blas_threads(bad)


def test_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setenv("XPLAYERS_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="XPLAYERS_BLAS_THREADS must be a positive integer"):
        choose_threads(2)


def test_blas_setting_is_limited_inside_and_restored_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        libs = _blas_threads._blas_libs()
        if not libs:
            pytest.skip("threadpoolctl sees no BLAS library")
        before = [lib.get_num_threads() for lib in libs]
        set_blas_threads(1)
        with conv_blas_threads() as threads:
            assert threads == 1
            assert all(lib.get_num_threads() == 1 for lib in libs)
        assert [lib.get_num_threads() for lib in libs] == before


def test_conv_results_do_not_depend_on_the_thread_choice(rng):
    x = rng.standard_normal((3, 2, 7, 6))
    w = rng.standard_normal((4, 2, 3, 3))
    b = rng.standard_normal(4)
    dout = rng.standard_normal((3, 4, 7, 6))
    param = {"stride": 1, "pad": 1}
    results = []
    for threads in (1, 2):
        set_blas_threads(threads)
        out, cache = conv_forward(x, w, b, param)
        results.append([out, *conv_backward(dout, cache)])
    for one, two in zip(*results, strict=True):
        np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-12)
