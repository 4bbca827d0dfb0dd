"""Shared fixtures: every test that takes ``backend`` runs once per available backend."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from backends import Backend, backend_params
from kernel_emulation import EmulatedKernels, build, compiler

import xplayers.config


@pytest.fixture(autouse=True)
def _environment_read_again_after_a_test_changes_it():
    """xplayers reads XPLAYERS_* once at import (xplayers.config); a test that changes them
    calls ``xplayers.config.reload()``, and the next test gets the real environment back."""
    before = {k: v for k, v in os.environ.items() if k.startswith("XPLAYERS_")}
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith("XPLAYERS_")}
    if after != before or xplayers.config.environment() != xplayers.config.read_environment():
        xplayers.config.reload()


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> Backend:
    """NumPy always; array_api_strict on a non-default device; PyTorch; CuPy on a GPU."""
    return request.param()


@pytest.fixture(scope="session")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> EmulatedKernels:
    """The CUDA kernel source built for the CPU once per test run (under pytest's tmp dir)."""
    if compiler() is None:
        pytest.skip("no C++ compiler (g++ or c++) on PATH: the kernels' CPU emulation needs one")
    return build(tmp_path_factory.mktemp("cuda_emulation"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded host generator: inputs are drawn here and moved to the backend."""
    return np.random.default_rng(231)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag GPU tests in the JUnit report, so ci/gpu_suite.sh can count them apart: ``torch``
    for the PyTorch CUDA backend, ``cupy`` for every other GPU test (all of them need CuPy)."""
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            callspec = getattr(item, "callspec", None)
            torch_cuda = callspec is not None and "torch_cuda" in callspec.id.split("-")
            item.user_properties.append(("gpu", "torch" if torch_cuda else "cupy"))


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One line per reason for the skipped tests, with their count (``-r`` in addopts leaves
    skips out, so that a machine without a GPU does not print hundreds of lines), and what the
    default ``-m "not slow"`` left out."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.skipped]
    if skipped:
        reasons = Counter(_skip_reason(r) for r in skipped)
        terminalreporter.section(f"{len(skipped)} skipped, by reason", sep="-")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"SKIPPED {count:4d} x {reason}")
    deselected = len(terminalreporter.stats.get("deselected", []))
    if deselected and config.getoption("markexpr", "") == "not slow":
        terminalreporter.write_line(
            f"{deselected} slow tests deselected (real training runs, notebooks, course "
            "replays): python -m pytest -m slow runs them")
