#!/usr/bin/env bash
# A representative subset of the test-suite (dense layers, update rules, losses) on one Python
# version, against xplayers INSTALLED from this tree into a fresh venv, run from a copy of the
# tests outside the source tree, then one epoch of `xplayers train --dataset synthetic`. Extra pip requirements pin the dependencies to test, e.g.
#   bash ci/subset_suite.sh 3.10 "numpy==2.1.*"      (the oldest NumPy claimed)
#   bash ci/subset_suite.sh 3.13                     (the newest releases)
# With SUBSET_WHEEL=path/to.whl, that wheel is installed instead of building this tree.
# PyTorch is not installed here (its reference tests skip with a reason; the main suite has it).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
version="${1:?usage: ci/subset_suite.sh PYTHON_X.Y [pip requirement ...]}"
shift
python="$(bash ci/find_python.sh "$version")"

subset=(tests/test_layers_dense.py tests/test_optim.py tests/test_losses.py)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH
target="${SUBSET_WHEEL:-$root}"
"$work/venv/bin/python" -m pip install --quiet "$target" "pytest>=8" "array-api-strict>=2.3" "$@"

mkdir "$work/run"
cp -r tests "$work/run/tests"
cp pyproject.toml "$work/run/"  # the pytest settings (markers, pythonpath)
cd "$work/run"
"$work/venv/bin/python" - <<'PY'
import sys, xplayers, numpy, array_api_compat
assert xplayers.__file__.startswith(sys.prefix), f"xplayers imported from {xplayers.__file__}"
print(f"== subset: Python {sys.version.split()[0]}, NumPy {numpy.__version__}, "
      f"array-api-compat {array_api_compat.__version__}, xplayers from {xplayers.__file__}")
PY
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "${subset[@]}"
# One epoch through the installed command, progress bar on (tqdm, a runtime dependency).
"$work/venv/bin/xplayers" train --dataset synthetic --epochs 1 --device cpu --report report.json
test -s report.json
