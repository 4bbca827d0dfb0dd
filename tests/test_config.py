"""xplayers.config: the environment read once, per-thread overrides, the older switches on top."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import xplayers
from xplayers import config
from xplayers.layers import set_blas_threads

ROOT = Path(__file__).resolve().parents[1]


def test_environment_is_read_into_frozen_settings():
    settings = config.read_environment({"XPLAYERS_DEVICE": "cpu", "XPLAYERS_NUMBA": "1",
                                        "XPLAYERS_BLAS_THREADS": "2",
                                        "XPLAYERS_SWEEP_STORAGE": "sqlite:///s.db"})
    assert settings == config.Settings(device="cpu", numba=True, blas_threads=2,
                                       sweep_storage="sqlite:///s.db")
    assert config.read_environment({}) == config.Settings()
    assert config.read_environment({"XPLAYERS_NUMBA": "0"}).numba is False
    with pytest.raises(AttributeError):
        settings.device = "cuda"  # frozen


def test_the_environment_is_read_at_import_not_per_call(monkeypatch):
    before = config.environment()
    monkeypatch.setenv("XPLAYERS_BLAS_THREADS", "7")
    assert config.get("blas_threads") == before.blas_threads  # not read again
    assert config.reload().blas_threads == 7
    assert config.get("blas_threads") == 7


def test_every_xplayers_variable_the_code_reads_is_a_switch():
    names = set()
    for path in (ROOT / "xplayers").rglob("*.py"):
        names.update(re.findall(r"XPLAYERS_[A-Z_]*[A-Z]", path.read_text()))
    known = {*config.ENVIRONMENT_VARIABLES.values(), *config.DATA_FOLDER_VARIABLES}
    assert names == known
    table = (ROOT / "docs" / "configuration.md").read_text()
    for variable in known:
        assert f"`{variable}`" in table


def test_using_overrides_per_block_and_per_thread():
    with config.using(device="cpu", numba=False, blas_threads=3) as now:
        assert now.device == "cpu" and now.numba is False and now.blas_threads == 3
        assert xplayers.default_device() == "cpu"
        seen = []
        thread = threading.Thread(target=lambda: seen.append(config.get("blas_threads")))
        thread.start()
        thread.join()
        assert seen == [config.environment().blas_threads]  # another thread: untouched
        with config.using(blas_threads=None):
            assert config.get("blas_threads") is None
    assert config.current() == config.environment()


def test_older_switches_sit_on_top():
    with xplayers.fast_paths(numba=True):
        assert config.get("numba") is True
    set_blas_threads(2)
    try:
        assert config.get("blas_threads") == 2
        assert config.origin("blas_threads") == "set_blas_threads"
        with config.using(blas_threads=1):
            assert config.get("blas_threads") == 1  # the block wins over the process
    finally:
        set_blas_threads(None)
    assert config.origin("blas_threads") == "XPLAYERS_BLAS_THREADS"


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"device": "tpu"}, ValueError, r"xplayers.config.using\(device=...\) must be one of"),
    ({"numba": "always"}, TypeError, "numba must be True or False"),
    ({"blas_threads": 0}, ValueError, "blas_threads must be a positive int or None"),
    ({"sweep_storage": 3}, TypeError, "sweep_storage must be a URL string"),
])
def test_bad_values_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        with config.using(**kwargs):
            pass
    with pytest.raises(ValueError, match="no switch called 'colour'"):
        config.get("colour")


def test_a_bad_environment_value_is_named_where_used_and_never_breaks_the_import():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XPLAYERS_DEVICE": "tpu",
           "XPLAYERS_BLAS_THREADS": "lots"}
    code = ("import xplayers, xplayers.config as c; print(sorted(c.environment().problems)); "
            "print(c.current().problems['blas_threads'])\n"
            "try:\n    xplayers.default_device()\nexcept ValueError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout.splitlines()
    assert out[0] == "['blas_threads']"
    assert out[1] == "XPLAYERS_BLAS_THREADS must be a positive integer, got 'lots'"
    assert out[2].startswith("XPLAYERS_DEVICE must be one of auto, cpu, cuda or cuda:N")
