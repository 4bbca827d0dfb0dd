#!/usr/bin/env bash
# Download the pure-Python wheels a bare GPU image lacks (it has python 3.12, CuPy, NumPy,
# PyTorch, scikit-learn, matplotlib and pytest but not these) into .whl/, to be carried to the
# GPU machine with the tree; ci/gpu_suite.sh installs them. Tests that need a package absent
# there skip (pytest.importorskip). Optuna comes with what it imports (the sweep tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: -d .whl \
    --python-version 3.12 --platform manylinux2014_x86_64 --implementation cp \
    "array-api-compat>=1.9" "array-api-strict>=2.3" "tqdm>=4.60" \
    optuna alembic colorlog sqlalchemy greenlet mako markupsafe pyyaml typing-extensions
ls -1 .whl
