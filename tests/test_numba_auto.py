"""numba's automatic policy: bit-exact kernels take the calls big enough to pay when numba is
installed; small calls (so short runs of small models) and tables not made for it never import
or use numba."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xplayers
from xplayers import optim
from xplayers.backend import fast_paths as _fast_paths
from xplayers.backend.fast_paths import AUTO, FastPaths, numba_enabled, numba_pays
from xplayers.layers import _norm, pooling
from xplayers.layers._geometry import pool_geometry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def quick_auto(monkeypatch):
    """The automatic policy with a small threshold: calls of >= 64 elements take numba."""
    monkeypatch.setattr(_fast_paths, "AUTO_MIN_ELEMENTS", 64)
    with xplayers.fast_paths(numba=AUTO):
        yield


def test_numba_pays_by_mode(quick_auto):
    pytest.importorskip("numba")
    assert not numba_pays(63)  # too small
    assert [numba_pays(64) for _ in range(2)] == [True, True]  # no call counting
    assert not numba_enabled()  # switched on only explicitly
    with xplayers.fast_paths(numba=False):
        assert not numba_pays(1 << 30)
    with xplayers.fast_paths(numba=True):
        assert numba_pays(1)


def test_max_pool_switches_to_numba_with_the_same_bits(rng, quick_auto):
    pytest.importorskip("numba")
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    x[0, 0, :2, :2] = [[-0.0, 0.0], [np.nan, 1.0]]
    g = pool_geometry("test", x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    small = x[:, :1, :4, :4]  # 32 elements: below the threshold, never numba
    runs = [pooling._forward.run(np, x, g) for _ in range(3)]
    assert [name for name, _ in runs] == ["numba"] * 3
    with xplayers.fast_paths(numba=False):
        reference = pooling._forward.run(np, x, g)
    assert reference[0] == "numpy"
    runs.insert(0, reference)
    for _, (out, argmax) in runs[1:]:
        np.testing.assert_array_equal(out.view(np.uint32), runs[0][1][0].view(np.uint32))
        np.testing.assert_array_equal(argmax, runs[0][1][1])
    g_small = pool_geometry("test", small, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert pooling._forward.run(np, small, g_small)[0] == "numpy"
    dout = rng.standard_normal(g.out_shape).astype(np.float32)
    name, dx = pooling._backward.run(np, dout, runs[0][1][1], g)
    assert name == "numba"
    with xplayers.fast_paths(numba=False):
        name, expected = pooling._backward.run(np, dout, runs[0][1][1], g)
    assert name == "numpy"
    np.testing.assert_array_equal(dx.view(np.uint32), expected.view(np.uint32))


def test_update_rules_switch_to_numba_with_the_same_bits(rng, quick_auto):
    pytest.importorskip("numba")
    w, g = (rng.standard_normal(70 * 70).reshape(70, 70) for _ in range(2))
    state = {"m": rng.standard_normal(w.shape), "v": rng.random(w.shape)}
    names, results = [], []
    for _ in range(3):
        name, result = optim.rules._update.run(np, "adam", (w, g, state["m"], state["v"]),
                                         (0.9, 0.1, 0.999, 0.001, 1e-3, 1e-8), False)
        names.append(name)
        results.append(result)
    assert names == ["numba"] * 3
    with xplayers.fast_paths(numba=False):
        name, reference = optim.rules._update.run(np, "adam", (w, g, state["m"], state["v"]),
                                            (0.9, 0.1, 0.999, 0.001, 1e-3, 1e-8), False)
    assert name == "numpy"
    results.insert(0, reference)
    for result in results[1:]:
        for a, b in zip(result, results[0], strict=True):
            assert a.tobytes() == b.tobytes()


def test_tables_not_made_for_it_never_take_numba_automatically(rng, quick_auto):
    pytest.importorskip("numba")
    table = FastPaths(lambda xp, x: "portable", numpy=lambda xp, x: "numpy",
                      numba=lambda xp, x: "numba")
    assert [table(np, 1) for _ in range(4)] == ["numpy"] * 4
    # Group norm's numba kernels reassociate sums: switched on only explicitly.
    assert not _norm.scale_shift_forward.numba_auto
    x = rng.standard_normal((2, 2, 3, 4, 5))
    gamma, beta = np.ones((1, 2, 3, 1, 1)), np.zeros((1, 2, 3, 1, 1))
    for _ in range(4):
        name, _ = _norm.scale_shift_forward.run(np, x, gamma, beta, (2, 3, 4), 1e-5)
        assert name != "numba"


def test_auto_is_the_default_and_the_environment_switches_it():
    code = ("from xplayers import config; "
            "print(config.get('numba') is config.AUTO, config.get('numba'))")
    results = {}
    for value in ("", "0", "1"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "XPLAYERS_NUMBA": value}
        results[value] = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                        capture_output=True, text=True).stdout.split()
    assert results == {"": ["True", "auto"], "0": ["False", "False"], "1": ["False", "True"]}


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


def test_bad_numba_setting_is_named():
    with pytest.raises(TypeError, match=r"numba must be one of .*got 'always'"):
        with xplayers.fast_paths(numba="always"):
            pass
