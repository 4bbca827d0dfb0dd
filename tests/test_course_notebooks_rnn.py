"""The course's RNN and LSTM captioning notebooks (2019 and 2021-2023 layouts), replayed.

The code cells are kept in ``tests/data/course_notebooks/*.cells.txt`` (each file names the
public repository it came from); only ``cs231n.`` is rewritten to ``xplayers.course.``, shell
lines (``!pip install h5py``) become ``pass`` and the Colab set-up cell is skipped. They run
in a Jupyter kernel (nbclient) in a folder holding ``cs231n/datasets/coco_captioning`` with
small files in the course's formats (tests/coco_files.py), so ``load_coco_data()`` finds them
as a notebook would. Every printed error must be within the tolerance the notebook states
for that check, and the overfitting runs must reach the notebook's final loss.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from coco_files import write_coco

ROOT = Path(__file__).resolve().parents[1]
CELLS = Path(__file__).resolve().parent / "data" / "course_notebooks"

# Per checking cell (found by a line of its code): the notebook's stated bound on every
# "... error:" / "difference:" value it prints. "less than X" gives X; "on the order of X or
# less" gives 10 X.
RNN_CHECKS = {
    "next_h, _ = rnn_step_forward": 1e-8,
    "rnn_step_backward(dnext_h, cache)": 1e-8,
    "h, _ = rnn_forward(x, h0": 1e-7,
    "dx, dh0, dWx, dWh, db = rnn_backward": 5e-7,
    "out, _ = word_embedding_forward": 1e-7,
    "dW = word_embedding_backward": 1e-11,
    "dx, dw, db = temporal_affine_backward": 1e-9,
    "loss, dx = temporal_softmax_loss": 1e-7,
    "expected_loss = 9.83235591003": 1e-10,
    "for param_name in sorted(grads)": 5e-6,
}
LSTM_CHECKS = {
    "expected_next_c = np.asarray": 1e-7,
    "lstm_step_backward(dnext_h, dnext_c, cache)": 1e-6,
    "h, cache = lstm_forward(x, h0": 1e-6,
    "dx, dh0, dWx, dWh, db = lstm_backward": 1e-7,
    "expected_loss = 9.82445935443": 1e-9,
}
# "For dWh, it's fine if your error is on the order of e-6 or less".
LSTM_LABEL_TOLERANCE = {"dWh error": 1e-5}
FINAL_LOSS = {"rnn": 0.1, "lstm": 0.5}
NOTEBOOKS = {name: ("lstm" if name.startswith("lstm") else "rnn") for name in
             ("rnn_captioning_2019", "rnn_captioning_2023", "lstm_captioning_2019",
              "lstm_captioning_2023")}
_VALUE = re.compile(r"(?:error|difference):\s+([-+0-9.eE]+|nan|inf)", re.IGNORECASE)


def read_cells(name: str) -> list[str]:
    """The notebook's code cells as stored (the header comment dropped)."""
    text = (CELLS / f"{name}.cells.txt").read_text()
    return [cell for cell in text.split("# %%\n")[1:]]


def rewrite(cell: str) -> str | None:
    """The cell as replayed: ``cs231n.`` -> ``xplayers.course.``, shell lines -> pass; None
    for the Colab set-up cell (it mounts a Google Drive)."""
    if "google.colab" in cell:
        return None
    lines = ["pass  # shell command skipped: " + line[1:] if line.startswith("!") else line
             for line in cell.splitlines()]
    return re.sub(r"\bcs231n\.", "xplayers.course.", "\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_course_captioning_notebook_replays(name, tmp_path, monkeypatch, capsys):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("h5py")
    cell_type = NOTEBOOKS[name]
    write_coco(tmp_path / "cs231n" / "datasets" / "coco_captioning")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("XPLAYERS_DEVICE", "cpu")
    monkeypatch.delenv("XPLAYERS_COCO_DIR", raising=False)
    sources = [rewrite(cell) for cell in read_cells(name)]
    replayed = [s for s in sources if s is not None]
    solver = f"small_{cell_type}_solver"
    check = f"print('xplayers final loss:', {solver}.loss_history[-1])"
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in [*replayed, check]])
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    checks = RNN_CHECKS if cell_type == "rnn" else LSTM_CHECKS
    worst = (0.0, "", 0.0)  # ratio, line, tolerance
    seen = set()
    for cell in notebook.cells:
        text = "".join(out.get("text", "") for out in cell.outputs
                       if out.get("output_type") == "stream")
        keys = [k for k in checks if k in cell.source]
        if not keys:
            assert not _VALUE.search(text) or "xplayers final" in cell.source, cell.source
            continue
        seen.add(keys[0])
        lines = [line for line in text.splitlines() if _VALUE.search(line)]
        assert lines, f"the check printed nothing:\n{cell.source}"
        for line in lines:
            label = line.split(":")[0].strip()
            tol = LSTM_LABEL_TOLERANCE.get(label, checks[keys[0]]) if cell_type == "lstm" \
                else checks[keys[0]]
            value = float(_VALUE.search(line).group(1))
            assert value < tol, f"{name}: {line!r} is not below the notebook's {tol:g}"
            if value / tol > worst[0]:
                worst = (value / tol, line.strip(), tol)
        if "check_loss(" in cell.source:  # "Should be about 2.3 / 23 / 2.3"
            losses = [float(v) for v in text.split()[:3]]
            assert losses == pytest.approx([2.3026, 23.026, 2.3026], rel=0.05)
    assert seen == set(checks), set(checks) - seen
    outputs = "".join(out.get("text", "") for out in notebook.cells[-1].outputs)
    final_loss = float(outputs.split(":")[1])
    assert final_loss < FINAL_LOSS[cell_type]
    all_text = "".join(out.get("text", "") for c in notebook.cells for out in c.outputs
                       if out.get("output_type") == "stream")
    assert all_text.count("(Iteration ") == 10  # 100 iterations, printed every 10
    assert "URL Error" not in all_text
    images = sum(1 for c in notebook.cells for out in c.outputs
                 if "image/png" in out.get("data", {}))
    assert images >= 5  # the loss curve and the sampled images
    with capsys.disabled():
        print(f"\n{name}: {len(replayed)} of {len(sources)} cells run "
              f"({len(sources) - len(replayed)} Colab cell skipped); worst check "
              f"{worst[1]!r} vs tolerance {worst[2]:g}; final loss {final_loss:.4f} "
              f"(notebook asks < {FINAL_LOSS[cell_type]})")
