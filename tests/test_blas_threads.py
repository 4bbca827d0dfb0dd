"""Every layer's per-product BLAS thread choice: the one-sentence policy, the user's override,
that the BLAS setting comes back afterwards, and that the numbers never depend on it."""

from __future__ import annotations

import numpy as np
import pytest

import xplayers
from xplayers import config
from xplayers.backend import blas_threads as _blas_threads
from xplayers.backend.blas_threads import (
    SMALL_PRODUCT,
    blas_call,
    blas_threads_for,
    choose_threads,
    conv_blas_threads,
    set_blas_threads,
)
from xplayers.layers import affine_backward, affine_forward, conv_backward, conv_forward


@pytest.fixture(autouse=True)
def _automatic(monkeypatch):
    monkeypatch.delenv("XPLAYERS_BLAS_THREADS", raising=False)
    config.reload()
    set_blas_threads(None)
    yield
    set_blas_threads(None)
    monkeypatch.undo()
    config.reload()


@pytest.fixture
def two_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _blas_threads._find_controls():
        pytest.skip("threadpoolctl sees no BLAS library")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        yield [get for get, _ in _blas_threads._find_controls()]


@pytest.mark.parametrize(("multiply_adds", "configured", "expected"), [
    (64 * 64 * 128, 2, 1),         # the digits net's products: one thread
    (SMALL_PRODUCT - 1, 8, 1),
    (SMALL_PRODUCT, 8, 8),         # big enough to pay: the BLAS's own count
    (None, 4, 4),                  # size unknown: treated as big
    (SMALL_PRODUCT * 4, 1, 1),     # never above the BLAS's setting
])
def test_policy_one_thread_for_small_products(multiply_adds, configured, expected):
    assert choose_threads(configured, multiply_adds) == expected


def test_user_choice_wins_per_block_process_and_environment(monkeypatch):
    monkeypatch.setenv("XPLAYERS_BLAS_THREADS", "3")
    config.reload()
    assert choose_threads(2, 10) == 3
    set_blas_threads(1)
    assert choose_threads(2, SMALL_PRODUCT * 2) == 1
    with config.using(blas_threads=5):
        assert choose_threads(2, 10) == 5
        with config.using(blas_threads=None):  # the automatic policy in this block
            assert choose_threads(2, 10) == 1
    assert choose_threads(2, 10) == 1
    set_blas_threads(None)
    assert choose_threads(2, 10) == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_blas_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="threads must be a positive int or None"):
        set_blas_threads(bad)
    with pytest.raises((ValueError, TypeError), match="blas_threads must be a positive int"):
        with config.using(blas_threads=bad):
            pass


def test_bad_environment_value_is_named_when_used_not_at_import(monkeypatch):
    monkeypatch.setenv("XPLAYERS_BLAS_THREADS", "many")
    settings = config.reload()
    assert "blas_threads" in settings.problems
    with pytest.raises(ValueError, match="XPLAYERS_BLAS_THREADS must be a positive integer"):
        choose_threads(2, 10)


def test_blas_setting_is_limited_inside_and_restored_after(two_blas_threads):
    gets = two_blas_threads
    before = [get() for get in gets]
    with blas_threads_for(10) as threads:
        assert threads == 1
        assert all(get() == 1 for get in gets)
    assert [get() for get in gets] == before
    assert blas_call(10, lambda: [get() for get in gets]) == [1] * len(gets)
    assert blas_call(SMALL_PRODUCT, lambda: [get() for get in gets]) == before
    assert [get() for get in gets] == before
    with conv_blas_threads(SMALL_PRODUCT) as threads:  # the older name
        assert threads == max(before)
    with pytest.raises(RuntimeError, match="boom"):
        blas_call(10, _raise)
    assert [get() for get in gets] == before


def _raise() -> None:
    raise RuntimeError("boom")


def test_affine_runs_its_small_products_on_one_thread(two_blas_threads, monkeypatch, rng):
    seen = []
    real = _blas_threads.blas_call

    def spy(multiply_adds, func, *args):
        seen.append((multiply_adds, real(multiply_adds, lambda: two_blas_threads[0]())))
        return real(multiply_adds, func, *args)

    monkeypatch.setattr(_blas_threads, "blas_call", spy)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), np.zeros(3)
    out, cache = affine_forward(x, w, b)
    affine_backward(np.ones_like(out), cache)
    assert seen == [(4 * 5 * 3, 1)] * 3


def test_results_do_not_depend_on_the_thread_choice(rng):
    x = rng.standard_normal((3, 2, 7, 6))
    w = rng.standard_normal((4, 2, 3, 3))
    b = rng.standard_normal(4)
    dout = rng.standard_normal((3, 4, 7, 6))
    xa, wa, ba = rng.standard_normal((50, 70)), rng.standard_normal((70, 40)), np.zeros(40)
    param = {"stride": 1, "pad": 1}
    results = []
    for threads in (1, 2):
        set_blas_threads(threads)
        out, cache = conv_forward(x, w, b, param)
        out_a, cache_a = affine_forward(xa, wa, ba)
        results.append([out, *conv_backward(dout, cache), out_a,
                        *affine_backward(np.ones_like(out_a), cache_a)])
    for one, two in zip(*results, strict=True):
        np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-12)


def test_public_names_still_work():
    assert xplayers.layers.set_blas_threads is set_blas_threads
