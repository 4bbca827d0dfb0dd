"""Re-execute the notebooks in place, record how each was run, and extract the README's figures.

Usage::

    python ci/run_notebooks.py                      # every notebooks/*.ipynb
    python ci/run_notebooks.py notebooks/03_*.ipynb # some of them

Each notebook runs top to bottom in a fresh kernel of this interpreter (nbclient, kernel
``python3``, working directory ``notebooks/``) and is written back with its outputs. Its metadata
gets an execution record under ``"xplayers"``: the SHA-256 of its code cells' sources (what
``tests/test_notebooks.py`` compares to spot a notebook edited but not re-run), the xplayers,
Python and NumPy versions, the device and the run time. A code cell whose metadata names a
``"figure"`` has its first PNG output written to ``notebooks/figures/<figure>.png``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FIGURE_DIR = NOTEBOOK_DIR / "figures"
RECORD_KEY = "xplayers"
CELL_TIMEOUT_S = 600


def notebook_paths() -> list[Path]:
    """Every notebook of the project, in file-name order."""
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def code_sources(nb: Any) -> list[str]:
    """The sources of a notebook's code cells, in order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def code_hash(nb: Any) -> str:
    """SHA-256 of the code cells' sources: changes whenever the code to run changes."""
    return hashlib.sha256(json.dumps(code_sources(nb)).encode("utf-8")).hexdigest()


def figure_pngs(nb: Any) -> dict[str, bytes]:
    """``{figure name: PNG bytes}`` of the code cells whose metadata names a ``figure``.

    Raises
    ------
    ValueError
        If a named cell has no PNG output or two cells share a name.
    """
    figures: dict[str, bytes] = {}
    for cell in nb.cells:
        name = cell.get("metadata", {}).get("figure") if cell.cell_type == "code" else None
        if name is None:
            continue
        if name in figures:
            raise ValueError(f"figure name {name!r} is used by two cells")
        pngs = [out["data"]["image/png"] for out in cell.get("outputs", [])
                if "image/png" in out.get("data", {})]
        if not pngs:
            raise ValueError(f"the cell of figure {name!r} has no PNG output")
        figures[name] = base64.b64decode(pngs[0])
    return figures


def blas_kernel() -> str | None:
    """NumPy's BLAS and the CPU kernel it picked (``openblas 0.3.31 SkylakeX``): float32
    training at the edge of stability rounds differently on another kernel, so a notebook's
    numbers repeat exactly only on the same one. None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return None
    return " ".join(str(blas[0].get(k)) for k in ("internal_api", "version", "architecture"))


def execute(path: Path) -> float:
    """Run ``path`` in a fresh kernel, store outputs and record; return the seconds it took."""
    import nbformat
    import numpy as np
    from nbclient import NotebookClient

    import xplayers

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata[RECORD_KEY] = {
        "code_sha256": code_hash(nb),
        "xplayers_version": xplayers.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "device": xplayers.default_device(),
        "blas": blas_kernel(),
        "run_seconds": round(seconds, 1),
    }
    nbformat.write(nb, path)
    return seconds


def write_figures(paths: list[Path]) -> list[Path]:
    """Write the named figures of ``paths`` into ``notebooks/figures/``; return the files."""
    import nbformat

    FIGURE_DIR.mkdir(exist_ok=True)
    written = []
    for path in paths:
        for name, png in figure_pngs(nbformat.read(path, as_version=4)).items():
            target = FIGURE_DIR / f"{name}.png"
            target.write_bytes(png)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    everything = not args.notebooks
    paths = notebook_paths() if everything else [p.resolve() for p in args.notebooks]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")

    for path in paths:
        print(f"{path.name}: running ...", flush=True)
        seconds = execute(path)
        size_kb = path.stat().st_size / 1024
        print(f"{path.name}: {seconds:.1f} s, {size_kb:.0f} KB", flush=True)

    written = write_figures(notebook_paths() if everything else paths)
    if everything:  # figures no notebook names any more
        for stale in set(FIGURE_DIR.glob("*.png")) - set(written):
            stale.unlink()
    print(f"figures: {', '.join(sorted(p.name for p in written)) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
