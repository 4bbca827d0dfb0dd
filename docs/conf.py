"""Sphinx configuration: numpydoc docstrings, the pydata theme, the stored notebooks rendered
as they are (never executed). ``bash ci/docs.sh`` builds it with warnings as errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
sys.path.insert(0, str(ROOT))

import xplayers  # noqa: E402

project = "xplayers"
author = "the xplayers authors"
copyright = "the xplayers authors"
version = release = xplayers.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
]

# The stored notebooks are the documents: copied here (not executed) so that Sphinx, which
# reads only files under docs/, can render them with their outputs.
GENERATED.mkdir(exist_ok=True)
(GENERATED / "notebooks").mkdir(exist_ok=True)
for stale in (GENERATED / "notebooks").glob("*.ipynb"):
    stale.unlink()
for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
    shutil.copy2(notebook, GENERATED / "notebooks" / notebook.name)
if (ROOT / "notebooks" / "figures").is_dir():
    shutil.copytree(ROOT / "notebooks" / "figures", GENERATED / "figures", dirs_exist_ok=True)

# The benchmarks page quotes only the recorded files in benchmarks/results/.
sys.path.insert(0, str(ROOT / "benchmarks"))
import render_results  # noqa: E402

(GENERATED / "benchmark_results.md").write_text(
    render_results.render(sorted((ROOT / "benchmarks" / "results").glob("*.json"))))

# Pages other parts of the project add when they exist; listed in the index only then.
OPTIONAL_PAGES = ["configuration", "versioning"]
changelog = GENERATED / "changelog.md"
if (ROOT / "CHANGELOG.md").is_file():
    # links in it such as docs/versioning.md are relative to the repository's root
    changelog.write_text("```{include} ../../CHANGELOG.md\n:relative-docs: docs/\n```\n")
elif changelog.exists():
    changelog.unlink()


def optional_pages() -> list[str]:
    pages = [name for name in OPTIONAL_PAGES if (DOCS / f"{name}.md").is_file()]
    return pages + (["_generated/changelog"] if changelog.exists() else [])


# The API reference: the library's public packages, then every module of xplayers.course.
API_MODULES = ["xplayers", "xplayers.layers", "xplayers.layer_utils", "xplayers.models",
               "xplayers.optim", "xplayers.training", "xplayers.gradcheck", "xplayers.data",
               "xplayers.sweep"]
# internal (backend, kernels, checkpoint), old import paths (solver, devices), the command
NOT_API = {"backend", "kernels", "checkpoint", "solver", "devices", "cli", "course"}


def api_modules() -> list[str]:
    import importlib
    import pkgutil

    import xplayers.course

    names = list(API_MODULES)
    for info in pkgutil.iter_modules(xplayers.__path__):
        name = f"xplayers.{info.name}"
        if (name not in names and not info.name.startswith("_") and info.name not in NOT_API
                and hasattr(importlib.import_module(name), "__all__")):
            names.append(name)
    for info in pkgutil.walk_packages(xplayers.course.__path__, "xplayers.course."):
        if not any(part.startswith("_") for part in info.name.split(".")) and not info.ispkg:
            names.append(info.name)
    return names


API_PAGE = """API reference
=============

Every public function and class, module by module: the names each module lists in its
``__all__``. Old import paths keep working (``xplayers.solver.Solver`` is
``xplayers.training.Solver``; ``xplayers.devices`` re-exports the device helpers of the
top-level package).

.. autosummary::
   :toctree: api

"""
# Written before autosummary reads it (it reads the files, not the source-read event).
(GENERATED / "api.rst").write_text(API_PAGE + "".join(f"   {name}\n" for name in api_modules()))


def _fill_index(app, docname: str, source: list[str]) -> None:
    if docname == "index":
        source[0] = source[0].replace("OPTIONAL_PAGES", "\n".join(optional_pages()))
    if "/" not in docname and changelog.exists():
        # a page's link to the repository's CHANGELOG.md (right on GitHub) goes to its page here
        source[0] = source[0].replace("](../CHANGELOG.md)", "](_generated/changelog.md)")


def setup(app) -> None:
    app.connect("source-read", _fill_index)


source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md",
                    "_generated/benchmark_results.md"]  # included by benchmarks.md only
templates_path = ["_templates"]

# myst-nb: render the stored outputs; never run a notebook while building the docs.
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# API pages: one per public name, taken from each module's __all__.
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_typehints = "none"          # the numpydoc sections carry the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"xplayers {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
