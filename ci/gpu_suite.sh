#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA GPU and CuPy: the WHOLE test-suite (CuPy joins the
# backends and the gpu-marked tests run), then the GPU benchmarks, then a short summary.
#
#   bash ci/gpu_suite.sh [OUTDIR]        # default OUTDIR: $OUT, else ci-gpu-out
#
# Runs from the source tree (PYTHONPATH=.), so no install is needed. Wheels found in .whl/
# (see ci/fetch_gpu_wheels.sh) are installed to a scratch folder first.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-ci-gpu-out}}"
mkdir -p "$out"

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/xplayers-site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/xplayers-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

python3 - <<'PY' | tee "$out/environment.txt"
import platform, numpy
import xplayers
from xplayers._cuda import cuda_status
print("python", platform.python_version(), "numpy", numpy.__version__)
print("gpu usable:", *cuda_status())
try:
    import cupy
    print("cupy", cupy.__version__, cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
except Exception as exc:
    print("cupy unavailable:", exc)
print("xplayers default device:", xplayers.default_device())
PY

timeout 420 python3 -m pytest -q -rs -p no:cacheprovider --junitxml "$out/pytest.xml" \
    2>&1 | tee "$out/pytest.log"
tests_status=${PIPESTATUS[0]}

timeout 120 python3 benchmarks/bench_conv.py --json "$out/bench_conv.json" \
    2>&1 | tee "$out/bench_conv.txt"
# Training steps on the GPU only: the CPU comparison is what the CPU suite's machine measures.
timeout 150 python3 benchmarks/bench_train.py --device cuda --json "$out/bench_train.json" \
    2>&1 | tee "$out/bench_train.txt"

python3 - "$out" <<'PY' | tee "$out/summary.txt"
import sys, xml.etree.ElementTree as ET
from pathlib import Path
out = Path(sys.argv[1])
print(open(out / "environment.txt").read().strip())
try:
    cases = ET.parse(out / "pytest.xml").getroot().iter("testcase")
except Exception as exc:
    print("no pytest results:", exc); sys.exit(0)
counts = {}
for case in cases:
    gpu = any(p.get("name") == "gpu" for p in case.iter("property"))
    kind = ("failed" if case.find("failure") is not None or case.find("error") is not None
            else "skipped" if case.find("skipped") is not None else "passed")
    key = ("gpu-marked" if gpu else "other", kind)
    counts[key] = counts.get(key, 0) + 1
for group in ("gpu-marked", "other"):
    print(group + ":", ", ".join(f"{counts.get((group, k), 0)} {k}"
                                  for k in ("passed", "failed", "skipped")))
PY
exit "$tests_status"
