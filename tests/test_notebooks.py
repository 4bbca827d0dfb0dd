"""The notebooks run headless without error, and their stored outputs come from their current code.

``ci/run_notebooks.py`` re-executes them all and writes an execution record into each one's
metadata; a notebook whose code changed after that run fails the staleness checks here.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ci"))

import run_notebooks  # noqa: E402

NOTEBOOKS = run_notebooks.notebook_paths()
IDS = [p.name for p in NOTEBOOKS]
MAX_NOTEBOOK_BYTES = 300 * 1024

nbformat = pytest.importorskip("nbformat")

# Notebooks whose printed numbers are timings: they differ on every run.
TIMED = {"06_cpu_vs_gpu.ipynb"}
# Printed lines that describe the machine rather than the computation (device, GPU diagnosis,
# package versions, times) are left out when stored and re-executed outputs are compared.
ENVIRONMENT_LINE = re.compile(r"optuna|cupy|gpu|cuda|driver|device|version|running on|"
                              r"training on|seconds|\bms\b|\d s\b|it/s", re.IGNORECASE)


def printed_lines(nb) -> list[str]:
    """The lines code cells printed to stdout, less those that describe the machine."""
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.outputs if out.get("name") == "stdout")
    return [line for line in text.splitlines() if not ENVIRONMENT_LINE.search(line)]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def execute(nb, tmp_path: Path):
    """Run ``nb`` in a fresh kernel of this interpreter; raises on any cell's error."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    client = nbclient.NotebookClient(nb, timeout=run_notebooks.CELL_TIMEOUT_S,
                                     kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb


def test_there_is_a_notebook():
    assert NOTEBOOKS


def test_the_six_demos_are_there():
    assert len(NOTEBOOKS) >= 6, IDS


def test_the_kernel_is_this_interpreter(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    nb = execute(new_notebook(cells=[new_code_cell("import sys; print(sys.prefix)")]), tmp_path)
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes_without_error(path, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    monkeypatch.setenv("XPLAYERS_DEVICE", "auto")
    stored = read(path)
    nb = execute(copy.deepcopy(stored), tmp_path)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert outputs, f"{path.name} printed and drew nothing"
    assert not [out for out in outputs if out.get("output_type") == "error"]
    # Re-execution reproduces the stored numbers where it runs as the stored run did: on the
    # CPU, with the same BLAS kernel (float32 training rounds differently on another one).
    import xplayers

    record = stored.metadata.get(run_notebooks.RECORD_KEY, {})
    same_machine = (record.get("device") == "cpu" == xplayers.default_device()
                    and record.get("blas") == run_notebooks.blas_kernel() is not None)
    if path.name not in TIMED and same_machine:
        assert printed_lines(nb) == printed_lines(stored), (
            f"{path.name} printed other numbers than those stored: its outputs predate a "
            f"change; run python ci/run_notebooks.py {path.relative_to(ROOT)}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_come_from_the_current_code(path):
    nb = read(path)
    record = nb.metadata.get(run_notebooks.RECORD_KEY)
    assert record, f"{path.name} has no execution record: run python ci/run_notebooks.py"
    assert record["code_sha256"] == run_notebooks.code_hash(nb), (
        f"{path.name}: the code changed since its outputs were stored; "
        f"run python ci/run_notebooks.py {path.relative_to(ROOT)}"
    )
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not one top-to-bottom run"
    )
    outputs = [out for cell in code for out in cell.outputs]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    assert any("image/png" in out.get("data", {}) for out in outputs), f"{path.name}: no plot"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_reads_as_a_document(path):
    nb = read(path)
    prose = [cell for cell in nb.cells if cell.cell_type == "markdown" and cell.source.strip()]
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert len(prose) * 2 >= len(code), f"{path.name}: {len(prose)} prose cells, {len(code)} code"
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_extracted_figures_match_the_notebook(path):
    for name, png in run_notebooks.figure_pngs(read(path)).items():
        figure = run_notebooks.FIGURE_DIR / f"{name}.png"
        assert figure.is_file(), f"{figure} missing: run python ci/run_notebooks.py"
        assert figure.read_bytes() == png, f"{figure} differs from {path.name}'s output"


def test_code_hash_sees_a_change_in_any_code_cell():
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell("# t"), new_code_cell("a = 1"),
                             new_code_cell("print(a)")])
    before = run_notebooks.code_hash(nb)
    nb.cells[0].source = "# title changed"
    assert run_notebooks.code_hash(nb) == before   # prose does not make outputs stale
    nb.cells[2].source = "print(a + 1)"
    assert run_notebooks.code_hash(nb) != before
