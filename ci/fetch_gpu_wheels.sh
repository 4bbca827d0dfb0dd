#!/usr/bin/env bash
# Download the pure-Python wheels a bare GPU image may lack (it has CuPy, NumPy, PyTorch and
# pytest but not these) into .whl/, to be carried to the GPU machine with the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: -d .whl \
    "array-api-compat>=1.9" "array-api-strict>=2.3"
ls -1 .whl
