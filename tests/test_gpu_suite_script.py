"""ci/gpu_suite.sh on a machine without a GPU: valid bash, and a quick, clear refusal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "ci" / "gpu_suite.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def test_it_names_its_kernel_cache_folder_and_checks_the_cupy_version():
    text = SCRIPT.read_text()
    assert "export CUPY_CACHE_DIR=" in text and "(14, 0)" in text
    # the cache is warmed and launches are counted before the timed benchmarks run
    assert text.index("CUPY_CACHE_DIR") < text.index("bench_launches.py --gpu")
    assert text.index("bench_launches.py --gpu") < text.index("bench_train.py --device cuda")


def test_without_a_gpu_it_stops_at_once_saying_why(tmp_path):
    from xplayers.backend.cuda import cuda_status

    if cuda_status()[0]:
        pytest.skip("this machine has a usable GPU")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)
    assert done.returncode == 2
    assert "GPU SUITE FAILED: no usable GPU here" in done.stdout
    assert "cuda13" in done.stdout
    assert (tmp_path / "summary.txt").read_text().startswith("GPU SUITE FAILED")
    assert not (tmp_path / "pytest.xml").exists()  # nothing ran after the refusal
