#!/usr/bin/env bash
# The GPU check, one call of at most 10 minutes (budget: under 8) on a machine with a CUDA GPU:
#   0. checks: a usable GPU (else it stops at once, saying why) and CuPy >= 14 (the version
#      the cuda12/cuda13 extras install); CuPy's kernel cache goes to its own folder
#      ($OUTDIR/cupy-kernel-cache, CUPY_CACHE_DIR), warmed by compiling every kernel of
#      xplayers.kernels.definitions and by the launch count below, before anything is timed;
#   1. kernels per training step measured on the GPU (benchmarks/bench_launches.py --gpu:
#      torch.profiler's CUDA activity, CuPy's kernels included) beside the CPU count of
#      benchmarks/launch_budget.json (at most 60 s);
#   2. every GPU-marked test: the CuPy (and PyTorch CUDA) backend of every test body and the
#      tests that need a GPU (pytest -m gpu, at most 240 s);
#   3. the GPU benchmarks only (--device cuda; 60 s + 90 s);
#   4. a summary. Exit status non-zero when a test or benchmark fails, when pytest runs out of
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
if [ "$gpu_usable" != 1 ]; then
    reason=$(python3 -c "from xplayers.backend.cuda import cuda_status; print(cuda_status()[1])")
    echo "GPU SUITE FAILED: no usable GPU here ($reason); run ci/gpu_suite.sh on a machine with" \
        "a CUDA GPU, CuPy and its CUDA libraries (pip install -e '.[cuda13]' or '.[cuda12]')" \
        | tee "$out/summary.txt"
    exit 2
fi
if ! python3 - <<'PY' 2>&1 | tee -a "$out/environment.txt"
import sys
import cupy
major, minor = (int(p) for p in cupy.__version__.split(".")[:2])
if (major, minor) < (14, 0):
    sys.exit(f"CuPy {cupy.__version__} is older than 14.0, which xplayers' cuda12/cuda13 "
             "extras install: pip install -U 'xplayers[cuda13]' (or [cuda12])")
print("cupy version ok:", cupy.__version__)
PY
then
    echo "GPU SUITE FAILED: unsupported CuPy version (see above)" | tee "$out/summary.txt"
    exit 2
fi

# CuPy's kernel cache in a folder of its own, filled before anything is timed.
export CUPY_CACHE_DIR="$(cd "$out" && pwd)/cupy-kernel-cache"
mkdir -p "$CUPY_CACHE_DIR"
timeout 120 python3 - <<'PY' 2>&1 | tee "$out/warm_cache.txt"
import time
import cupy
from xplayers.kernels.definitions import ElementwiseDefinition, all_definitions
start = time.perf_counter()
for defn in all_definitions():
    if isinstance(defn, ElementwiseDefinition):
        continue  # compiled per dtype at first launch: the launch count below runs them
    defn.build(cupy).compile()
print(f"kernel cache warmed in {time.perf_counter() - start:.1f} s")
PY
timeout 60 python3 benchmarks/bench_launches.py --gpu --json "$out/launches_gpu.json" \
    2>&1 | tee "$out/launches_gpu.txt"
launch_status=${PIPESTATUS[0]}

timeout 240 python3 -m pytest -q -rs -p no:cacheprovider -m gpu --junitxml "$out/pytest.xml" \
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

python3 - "$out" "$tests_status" "$bench_status" "$SECONDS" "$launch_status" <<'PY' | tee "$out/summary.txt"
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
out, tests_status, bench_status, seconds, launch_status = Path(sys.argv[1]), *map(int, sys.argv[2:])
print(open(out / "environment.txt").read().strip())
try:
    gpu = json.loads((out / "launches_gpu.json").read_text())
    cpu = json.loads(Path("benchmarks/launch_budget.json").read_text())
    print(f"{'kernels per step':<26}{'GPU xpl':>8}{'CPU xpl':>8}{'GPU torch':>10}{'CPU torch':>10}")
    for case, got in gpu.items():
        ref = cpu.get(case, {})
        print(f"{case:<26}{got['xplayers']:>8}{ref.get('xplayers', '-'):>8}"
              f"{got['torch'] if got['torch'] is not None else '-':>10}"
              f"{ref.get('torch_eager', '-'):>10}  host reads {got['host_reads']}")
except Exception as exc:
    print("no GPU launch counts:", exc)
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
if launch_status != 0:
    problems.append(f"counting kernels per step failed (exit status {launch_status})")
if tests_status == 124:
    problems.append("pytest ran out of time (240 s)")
elif tests_status != 0:
    problems.append(f"tests failed (pytest exit status {tests_status})")
if bench_status != 0:
    problems.append(f"a GPU benchmark failed (exit status {bench_status})")
print("GPU SUITE FAILED: " + "; ".join(problems) if problems else "GPU SUITE PASSED")
sys.exit(1 if problems else 0)
PY
