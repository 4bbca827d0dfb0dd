"""The notebooks' code cells run top to bottom (a notebook that rots is a broken demo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XPLAYERS_DEVICE", "auto")
    cells = json.loads(path.read_text())["cells"]
    namespace: dict = {"__name__": "__main__"}
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code"
    for number, cell in enumerate(code, start=1):
        source = "".join(cell["source"])
        exec(compile(source, f"{path.name}[cell {number}]", "exec"), namespace)


def test_there_is_a_notebook():
    assert NOTEBOOKS
