#!/usr/bin/env bash
# The GPU check, one call of at most 10 minutes (budget: under 8) on a machine with a CUDA GPU:
#   1. every GPU-marked test: the CuPy (and PyTorch CUDA) backend of every test body and the
#      tests that need a GPU (pytest -m gpu, at most 270 s);
#   2. the GPU benchmarks only (--device cuda; 60 s + 90 s);
#   3. a summary. Exit status non-zero when a test or benchmark fails, when pytest runs out of
#      time, OR when no GPU test passed: a CuPy that cannot load fails here, it does not skip.
#
#   bash ci/gpu_suite.sh [OUTDIR]        # default OUTDIR: $OUT, else ci-gpu-out
#
# Runs from the source tree (PYTHONPATH=.), so no install is needed. Wheels found in .whl/
# (see ci/fetch_gpu_wheels.sh) are installed to a scratch folder first.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-ci-gpu-out}}"
mkdir -p "$out"
SECONDS=0

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/xplayers-site .whl/*.whl || { echo "GPU SUITE FAILED: the wheels in .whl/ do not install here"; exit 1; }
    export PYTHONPATH="/tmp/xplayers-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

python3 - <<'PY' | tee "$out/environment.txt"
import platform, numpy
import xplayers
from xplayers.backend.cuda import cuda_status
print("python", platform.python_version(), "numpy", numpy.__version__)
print("gpu usable:", *cuda_status())
try:
    import cupy
    print("cupy", cupy.__version__, cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
except Exception as exc:
    print("cupy unavailable:", exc)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.cuda.is_available())
except Exception as exc:
    print("torch unavailable:", exc)
print("xplayers default device:", xplayers.default_device())
PY
gpu_usable=$(python3 -c "from xplayers.backend.cuda import cuda_status; print(int(cuda_status()[0]))")

timeout 270 python3 -m pytest -q -rs -p no:cacheprovider -m gpu --junitxml "$out/pytest.xml" \
    2>&1 | tee "$out/pytest.log"
tests_status=${PIPESTATUS[0]}
[ "$tests_status" -eq 5 ] && tests_status=0  # no test collected: the summary decides

bench_status=0
if [ "$gpu_usable" = 1 ]; then
    timeout 60 python3 benchmarks/bench_conv.py --device cuda --json "$out/bench_conv.json" \
        2>&1 | tee "$out/bench_conv.txt"
    bench_status=$(( bench_status | PIPESTATUS[0] ))
    timeout 90 python3 benchmarks/bench_train.py --device cuda --json "$out/bench_train.json" \
        2>&1 | tee "$out/bench_train.txt"
    bench_status=$(( bench_status | PIPESTATUS[0] ))
else
    echo "GPU benchmarks skipped: no usable GPU" | tee "$out/bench_skipped.txt"
fi

python3 - "$out" "$tests_status" "$bench_status" "$SECONDS" <<'PY' | tee "$out/summary.txt"
import sys, xml.etree.ElementTree as ET
from pathlib import Path
out, tests_status, bench_status, seconds = Path(sys.argv[1]), *map(int, sys.argv[2:])
print(open(out / "environment.txt").read().strip())
counts = {}
try:
    for case in ET.parse(out / "pytest.xml").getroot().iter("testcase"):
        kind = next((p.get("value") for p in case.iter("property") if p.get("name") == "gpu"),
                    "other")
        result = ("failed" if case.find("failure") is not None or case.find("error") is not None
                  else "skipped" if case.find("skipped") is not None else "passed")
        counts[kind, result] = counts.get((kind, result), 0) + 1
except Exception as exc:
    print("no pytest results:", exc)
for kind, label in (("cupy", "GPU tests (CuPy)"), ("torch", "PyTorch CUDA backend"),
                    ("other", "other")):
    print(f"{label}:", ", ".join(f"{counts.get((kind, r), 0)} {r}"
                                 for r in ("passed", "failed", "skipped")))
print(f"wall time: {seconds} s")
problems = []
if counts.get(("cupy", "passed"), 0) == 0:
    problems.append("no GPU test passed")
if tests_status == 124:
    problems.append("pytest ran out of time (270 s)")
elif tests_status != 0:
    problems.append(f"tests failed (pytest exit status {tests_status})")
if bench_status != 0:
    problems.append(f"a GPU benchmark failed (exit status {bench_status})")
print("GPU SUITE FAILED: " + "; ".join(problems) if problems else "GPU SUITE PASSED")
sys.exit(1 if problems else 0)
PY
