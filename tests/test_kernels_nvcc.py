"""The kernel source compiles with the real CUDA compiler, warnings as errors, for the GPUs the
CuPy wheels target: every instantiation CuPy asks for (``name_expressions``), one ``nvcc``
call per architecture. Skipped with a reason where ``nvcc`` is not on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kernel_emulation
import pytest

from xplayers.kernels import name_expressions

# Real architectures of the cupy-cuda12x 13.x and cupy-cuda13x 14.x wheels that CUDA 13 can
# still build (it dropped everything below sm_75).
WHEEL_ARCHS = (75, 80, 86, 89, 90, 100, 120)
REQUIRED_ARCHS = (80, 90)

NVCC = shutil.which("nvcc")
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc (CUDA toolkit) is not on PATH")


def _supported_archs() -> set[int]:
    listing = subprocess.run([NVCC, "--list-gpu-arch"], capture_output=True, text=True,
                             check=True).stdout
    return {int(n) for n in re.findall(r"compute_(\d+)", listing)}


def _instantiating_source(directory: Path) -> Path:
    """A .cu that includes the kernels and takes the address of every instantiation."""
    lines = [f'#include "{kernel_emulation.kernel_path()}"', "",
             "void *xplayers_instantiations[] = {"]
    lines += [f"    reinterpret_cast<void *>(&{name})," for name in name_expressions()]
    lines += ["};", ""]
    path = directory / "all_instantiations.cu"
    path.write_text("\n".join(lines))
    return path


def _compile(source: Path, arch: int) -> subprocess.CompletedProcess[str]:
    command = [NVCC, "-std=c++17", "-cubin", f"-arch=sm_{arch}", "--Werror", "all-warnings",
               "-Xptxas=-Werror", "-o", str(source.with_suffix(f".sm_{arch}.cubin")), str(source)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_every_instantiation_compiles_for_the_wheel_architectures(tmp_path: Path) -> None:
    archs = [a for a in WHEEL_ARCHS if a in _supported_archs()]
    assert set(REQUIRED_ARCHS) <= set(archs), f"nvcc cannot build sm_80/sm_90: {archs}"
    source = _instantiating_source(tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(archs, pool.map(lambda a: _compile(source, a), archs), strict=True))
    failures = {a: r.stderr[-2000:] for a, r in results.items() if r.returncode != 0 or r.stderr}
    assert not failures, f"nvcc errors or warnings: {failures}"
    for arch in archs:
        cubin = source.with_suffix(f".sm_{arch}.cubin").read_bytes()
        for kernel in ("xplayers_im2col", "xplayers_col2im", "xplayers_max_pool_forward",
                       "xplayers_max_pool_backward"):
            assert kernel.encode() in cubin, f"{kernel} missing from the sm_{arch} cubin"
