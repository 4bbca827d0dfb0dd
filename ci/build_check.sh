#!/usr/bin/env bash
# Build the sdist and the wheel, check their metadata (twine) and contents (ci/check_dist.py),
# install the wheel into a fresh venv (no system site-packages, dependencies from the index)
# and use it from a folder outside the source tree: import, one layer on NumPy, the .cu
# kernel source read as package data, `xplayers train --epochs 1`, `xplayers evaluate`; then
# the test subset of ci/subset_suite.sh against that wheel. Non-zero on any failure.
# Needs `build` and `twine` (the `release` extra). SMOKE_PYTHON=X.Y picks the smoke venv's
# Python (default 3.13, the newest the classifiers claim).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
smoke_version="${SMOKE_PYTHON:-3.13}"
smoke_python="$(bash ci/find_python.sh "$smoke_version")"
export PIP_DISABLE_PIP_VERSION_CHECK=1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== build: the sdist, then the wheel from the sdist"
if ! python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1; then
    cat "$work/build.log"
    exit 1
fi
ls -l "$work/dist"

echo "== twine check --strict"
python -m twine check --strict "$work"/dist/*

echo "== contents"
python ci/check_dist.py "$work/dist"

wheel="$(ls "$work"/dist/*.whl)"
echo "== smoke test of the installed wheel, Python $smoke_version"
"$smoke_python" -m venv "$work/smoke"
"$work/smoke/bin/python" -m pip install --quiet "$wheel[data]"
mkdir "$work/run"
cd "$work/run"
unset PYTHONPATH
"$work/smoke/bin/python" - <<'PY'
import sys
from importlib import resources

import numpy as np

import xplayers
from xplayers import kernels
from xplayers.layers import affine_backward, affine_forward

assert xplayers.__file__.startswith(sys.prefix), f"xplayers imported from {xplayers.__file__}"
rng = np.random.default_rng(0)
x = rng.standard_normal((4, 3, 2)).astype(np.float32)
w = rng.standard_normal((6, 5)).astype(np.float32)
b = rng.standard_normal(5).astype(np.float32)
out, cache = affine_forward(x, w, b)
assert out.dtype == np.float32 and out.shape == (4, 5), (out.dtype, out.shape)
np.testing.assert_allclose(out, x.reshape(4, 6) @ w + b, rtol=1e-5, atol=1e-5)
dx, dw, db = affine_backward(np.ones_like(out), cache)
assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
assert "template" in kernels.source(), "the .cu kernel source is not readable"
assert resources.files("xplayers").joinpath("py.typed").is_file(), "py.typed missing"
print(f"import and affine layer: ok (xplayers from {xplayers.__file__})")
PY
"$work/smoke/bin/xplayers" train --epochs 1 --device cpu --quiet --save model.npz \
    --report report.json
"$work/smoke/bin/xplayers" evaluate model.npz --device cpu
test -s report.json
cd "$root"

echo "== test subset against the wheel, Python $smoke_version"
SUBSET_WHEEL="$wheel" bash ci/subset_suite.sh "$smoke_version"
echo "== build check: ok"
