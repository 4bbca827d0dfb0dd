"""The fast-path mechanism: a portable body, a table of per-library implementations, the
switch that forces the portable body, declining, numba's opt-in and order."""

from __future__ import annotations

import numpy as np
import pytest

import xplayers
from xplayers.backend.fast_paths import PORTABLE, FastPaths, fast_paths_enabled, library_of


def _table(calls: list[str]) -> FastPaths:
    def portable(xp, x):
        calls.append("portable")
        return "portable"

    def numpy_impl(xp, x):
        calls.append("numpy")
        return NotImplemented if x < 0 else "numpy"

    def numba_impl(xp, x):
        calls.append("numba")
        return NotImplemented if x == 0 else "numba"

    return FastPaths(portable, numpy=numpy_impl, numba=numba_impl)


def test_numpy_namespace_takes_the_numpy_implementation() -> None:
    calls: list[str] = []
    table = _table(calls)
    with xplayers.fast_paths(numba=False):
        assert table.run(np, 1) == ("numpy", "numpy")
        assert table(np, -1) == "portable"  # declined: the portable body runs
    assert calls == ["numpy", "numpy", "portable"]


def test_fast_paths_false_forces_the_portable_body() -> None:
    calls: list[str] = []
    table = _table(calls)
    with xplayers.fast_paths(False):
        assert not fast_paths_enabled()
        assert table.run(np, 1) == (PORTABLE, "portable")
        with xplayers.fast_paths(True):
            assert table(np, 1) == "numpy"
    assert fast_paths_enabled()
    assert calls == ["portable", "numpy"]


def test_other_libraries_take_the_portable_body() -> None:
    strict = pytest.importorskip("array_api_strict")
    calls: list[str] = []
    assert library_of(strict) == "array_api_strict"
    assert _table(calls)(strict, 1) == "portable" and calls == ["portable"]


def test_numba_is_tried_first_only_when_enabled() -> None:
    pytest.importorskip("numba")
    calls: list[str] = []
    table = _table(calls)
    with xplayers.fast_paths(numba=True):
        assert table(np, 1) == "numba"
        assert table(np, 0) == "numpy"  # numba declined, then numpy
        with xplayers.fast_paths(numba=False):
            assert table(np, 1) == "numpy"
    assert calls == ["numba", "numba", "numpy", "numpy"]


def test_implementation_by_name_and_bad_keys() -> None:
    table = _table([])
    assert table.implementation(PORTABLE) is table.portable
    assert table.implementation("numpy")(np, 1) == "numpy"
    with pytest.raises(ValueError, match=r"library must be one of .*got 'torch'"):
        FastPaths(table.portable, torch=table.portable)
    with pytest.raises(TypeError, match=r"enabled must be one of \(True, False\), got 0"):
        with xplayers.fast_paths(0):
            pass
    with pytest.raises(TypeError, match=r"numba must be one of .*got 'yes'"):
        with xplayers.fast_paths(numba="yes"):
            pass


def test_layers_record_the_path_they_took(rng) -> None:
    from xplayers.layers import conv_forward

    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    assert conv_forward(x, w, b, {"pad": 1})[1].path == "numpy"
    with xplayers.fast_paths(False):
        assert conv_forward(x, w, b, {"pad": 1})[1].path == PORTABLE


def test_group_norm_and_updates_take_numba_when_switched_on(rng) -> None:
    pytest.importorskip("numba")
    from xplayers import optim
    from xplayers.layers import _norm

    x = rng.standard_normal((2, 2, 3, 4, 5))
    gamma, beta = np.ones((1, 2, 3, 1, 1)), np.zeros((1, 2, 3, 1, 1))
    w = rng.standard_normal((70, 70))
    for numba, expected in ((True, "numba"), (False, PORTABLE)):
        with xplayers.fast_paths(numba=numba):
            name, (out, xhat, inv_std, _, _) = _norm.scale_shift_forward.run(
                np, x, gamma, beta, (2, 3, 4), 1e-5)
            assert name == expected
            name, _ = _norm.scale_shift_backward.run(np, out, xhat, inv_std, gamma, (2, 3, 4),
                                                     (0, 3, 4), True)
            assert name == ("numba" if numba else "numpy")
            name, _ = optim.rules._update.run(np, "sgd", (w, w), (0.1,), False)
            assert name == ("numba" if numba else "numpy")
