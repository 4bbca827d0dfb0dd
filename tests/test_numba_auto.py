"""numba is a plain switch (``XPLAYERS_NUMBA=1`` or ``fast_paths(numba=True)``), off by default:
when on, its kernels run every call big enough to pay, with the NumPy path's bits; when off,
nothing imports or uses numba."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xplayers
from xplayers.backend.fast_paths import PORTABLE, numba_enabled
from xplayers.layers import _norm, pooling
from xplayers.layers._geometry import pool_geometry
from xplayers.optim.kernels import update
from xplayers.optim.rules import SPEC_BY_NAME

ROOT = Path(__file__).resolve().parents[1]


def test_numba_enabled_by_switch():
    pytest.importorskip("numba")
    with xplayers.fast_paths(numba=True):
        assert numba_enabled()
        with xplayers.fast_paths(numba=False):
            assert not numba_enabled()
        with xplayers.fast_paths(numba=None):  # None: as before
            assert numba_enabled()


def test_max_pool_takes_numba_when_on_with_the_same_bits(rng):
    pytest.importorskip("numba")
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    x[0, 0, :2, :2] = [[-0.0, 0.0], [np.nan, 1.0]]
    g = pool_geometry("test", x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with xplayers.fast_paths(numba=False):
        name, (expected, expected_argmax) = pooling._max_pool_forward.run(np, x, g)
    assert name == "numpy"
    with xplayers.fast_paths(numba=True):
        name, (out, argmax) = pooling._max_pool_forward.run(np, x, g)
    assert name == "numba"
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))
    np.testing.assert_array_equal(argmax, expected_argmax)
    dout = rng.standard_normal(g.out_shape).astype(np.float32)
    with xplayers.fast_paths(numba=True):
        name, dx = pooling._max_pool_backward.run(np, dout, argmax, g)
    assert name == "numba"
    with xplayers.fast_paths(numba=False):
        name, expected_dx = pooling._max_pool_backward.run(np, dout, argmax, g)
    assert name == "numpy"
    np.testing.assert_array_equal(dx.view(np.uint32), expected_dx.view(np.uint32))


def test_update_rules_take_numba_for_big_calls_with_the_same_bits(rng):
    pytest.importorskip("numba")
    w, g = (rng.standard_normal(70 * 70).reshape(70, 70) for _ in range(2))
    arrays = (w, g, rng.standard_normal(w.shape), rng.random(w.shape))
    scalars = (0.9, 0.1, 0.999, 0.001, 1e-3, 1e-8)
    spec = SPEC_BY_NAME["adam"]
    results = {}
    for numba in (True, False):
        with xplayers.fast_paths(numba=numba):
            name, results[numba] = update.run(np, spec, arrays, scalars)
        assert name == ("numba" if numba else "numpy")
    for a, b in zip(results[True], results[False], strict=True):
        assert a.tobytes() == b.tobytes()
    small = tuple(a[:2, :3].copy() for a in arrays)  # too small to pay: the portable body
    with xplayers.fast_paths(numba=True):
        assert update.run(np, spec, small, scalars)[0] == PORTABLE


def test_group_norm_takes_numba_only_when_switched_on(rng):
    pytest.importorskip("numba")
    x = rng.standard_normal((2, 2, 3, 4, 5))
    gamma, beta = np.ones((1, 2, 3, 1, 1)), np.zeros((1, 2, 3, 1, 1))
    with xplayers.fast_paths(numba=False):
        for _ in range(4):
            name, _ = _norm.scale_shift_forward.run(np, x, gamma, beta, (2, 3, 4), 1e-5)
            assert name != "numba"


def test_off_is_the_default_and_the_environment_switches_it():
    code = "from xplayers import config; print(config.get('numba'))"
    results = {}
    for value in ("", "0", "1", "auto"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "XPLAYERS_NUMBA": value}
        results[value] = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                        capture_output=True, text=True).stdout.split()
    assert results == {"": ["False"], "0": ["False"], "1": ["True"], "auto": ["False"]}


def test_training_on_the_digits_never_imports_numba(tmp_path):
    pytest.importorskip("sklearn")  # the digits data set
    env = {key: value for key, value in os.environ.items() if key != "XPLAYERS_NUMBA"}
    env["PYTHONPATH"] = str(ROOT)
    code = ("import sys; from xplayers.cli import main; "
            f"status = main(['train', '--epochs', '2', '--quiet', '--device', 'cpu', "
            f"'--optimizer', 'adam', '--save', {str(tmp_path / 'model.npz')!r}]); "
            "print(status, 'numba' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr[-2000:]


@pytest.mark.parametrize("value", ["always", "auto"])
def test_bad_numba_setting_is_named(value):
    with pytest.raises(TypeError, match=rf"numba must be one of .*got '{value}'"):
        with xplayers.fast_paths(numba=value):
            pass
