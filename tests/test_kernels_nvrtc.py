"""Every CuPy kernel the library declares, built as CuPy builds it, compiled by NVRTC for every
architecture CuPy's wheels target, and run on the host against the portable body.

Needs ``pip install -e ".[nvrtc-check]"`` (the CuPy wheel, NVRTC and the CUDA headers; no GPU,
no driver). ``.ci/run`` installs it and sets ``XPLAYERS_REQUIRE_NVRTC=1``, so there a missing
wheel fails instead of skipping. The kernels are found through the registry
(:func:`xplayers.kernels.definitions.all_definitions`): a new definition is checked without
editing this file.

Flush-to-zero: CuPy compiles with ``-ftz=true``, so float32 subnormals read as zero on a GPU;
the inputs here avoid subnormals (uniform in [0.05, 2) and scalars in [0.05, 0.95)), where
the host's IEEE arithmetic and the GPU's agree. float16 is CuPy's ``float16`` class, whose
arithmetic runs in float and rounds once per assignment, where NumPy rounds after every
operation: float16 is compared within a few float16 ulps, float32/float64 bit for bit (or,
for definitions with ``bit_exact=False``, whose sums run in another order, to rounding).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from xplayers.kernels.definitions import (
    ElementwiseDefinition,
    RawModuleDefinition,
    all_definitions,
)

try:
    import cupy_build
    cupy_build.cupy_modules()
    _MISSING = ""
except Exception as exc:  # ImportError, or a wheel without its NVRTC/header libraries
    _MISSING = f"the cupy-cuda13x/NVRTC wheels are not usable here ({exc})"

if _MISSING and os.environ.get("XPLAYERS_REQUIRE_NVRTC") == "1":
    raise RuntimeError(f"XPLAYERS_REQUIRE_NVRTC=1 but {_MISSING}; "
                       "install them with: pip install -e '.[nvrtc-check]'")
pytestmark = pytest.mark.skipif(bool(_MISSING), reason=_MISSING
                                + "; install them with: pip install -e '.[nvrtc-check]'")

DEFINITIONS = all_definitions()
ELEMENTWISE = [d for d in DEFINITIONS if isinstance(d, ElementwiseDefinition)]
RAW = [d for d in DEFINITIONS if isinstance(d, RawModuleDefinition)]
# Compiled binaries' sizes keyed by everything NVRTC saw (as CuPy's own kernel cache is), so a
# second run in the same session does not compile again.
_NVRTC_CACHE = Path(tempfile.gettempdir()) / f"xplayers-nvrtc-{os.getuid()}"


def _compile_cached(source: str, options: tuple, arch: str, names=None, ptx=False) -> int:
    compiler = cupy_build.cupy_modules()[2]
    key = hashlib.sha256(repr((source, options, arch, names, ptx,
                               compiler._get_nvrtc_version())).encode()).hexdigest()
    path = _NVRTC_CACHE / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())["bytes"]
    size = len(cupy_build.nvrtc_compile(source, options, arch, names, ptx))
    _NVRTC_CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bytes": size}))
    return size


def test_the_registry_lists_the_raw_module():
    assert [d.name for d in RAW] == ["xplayers_conv_pool"]
    from xplayers.kernels import name_expressions
    assert RAW[0].name_expressions == name_expressions()


@pytest.mark.parametrize("defn", RAW, ids=lambda d: d.name)
@pytest.mark.parametrize("arch", cupy_build.ARCHES if not _MISSING else ["none"])
def test_raw_module_compiles_for_every_architecture(defn, arch):
    """All 36 instantiations, to PTX for ``compute_<arch>`` (the cubin step of the whole
    module costs several seconds per architecture; ``nvcc`` builds cubins in
    test_kernels_nvcc.py)."""
    source, options = cupy_build.nvrtc_inputs(defn)
    assert "-ftz=true" in options and any(o.endswith("/include") for o in options)
    assert _compile_cached(source, options, arch, defn.name_expressions, ptx=True) > 0


@pytest.mark.parametrize("defn", ELEMENTWISE, ids=lambda d: d.name)
def test_elementwise_kernel_compiles_for_every_dtype_index_and_architecture(defn):
    """Cubins as CuPy builds them on a GPU: every dtype and index width for the oldest and the
    newest architecture (sm_75, sm_120), the float32/int32 build for the others (the source
    is the same for every architecture; 17 compilations per kernel keep the test short)."""
    failures = []
    ends = (cupy_build.ARCHES[0], cupy_build.ARCHES[-1])
    for dtype in defn.dtypes:
        for index32 in (True, False):
            source, options = cupy_build.nvrtc_inputs(defn, dtype, index32)
            every = index32 and dtype == ("float32" if "float32" in defn.dtypes
                                          else defn.dtypes[0])
            for arch in cupy_build.ARCHES if every else ends:
                try:
                    _compile_cached(source, options, arch)
                except Exception as exc:
                    failures.append(f"{dtype} int{32 if index32 else 64} sm_{arch}: {exc}")
    assert not failures, "\n".join(failures)


def test_nvrtc_rejects_architectures_below_sm_75():
    """Why GPUs older than Turing need the cuda12 extra (xplayers.backend.cuda says so)."""
    defn = ElementwiseDefinition("xplayers_probe", "T x", "T y", "y = x;")
    source, options = cupy_build.nvrtc_inputs(defn)
    compiler = cupy_build.cupy_modules()[2]
    with pytest.raises(compiler.CompileException, match="gpu-architecture"):
        cupy_build.nvrtc_compile(source, options, "70")


def _inputs(defn, rng, dtype):
    ref = cupy_build.reference(defn)
    sample = getattr(ref, "sample_inputs", None)
    if sample is not None:
        return sample(rng, dtype)
    names = [p.strip().split()[-1] for p in defn.in_params.split(",")]
    return {name: (rng.uniform(0.05, 0.95) if name in defn.scalars
                   else rng.uniform(0.05, 2.0, size=(7, 150)))
            for name in names}


def _typed(inputs, defn, dtype):
    return cupy_build.typed_inputs(defn, dtype, inputs)


def _compare(got, want, dtype, bit_exact, label):
    for name, value in want.items():
        expected = np.asarray(value).reshape(-1).astype(np.float64)
        if dtype != "float16" and bit_exact:
            assert np.array_equal(got[name], np.asarray(value).reshape(-1), equal_nan=True), (
                f"{label}: {name}")
            continue
        # float16 references round every NumPy operation (sums included) to float16, the
        # kernels compute in float: a few float16 ulps of the largest value apart.
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        rtol, atol = ((1e-2, 1e-2 * scale) if dtype == "float16"
                      else (1e-5, 1e-6 * scale) if dtype == "float32" else (1e-12, 1e-13 * scale))
        np.testing.assert_allclose(got[name].astype(np.float64), expected, rtol=rtol, atol=atol,
                                   err_msg=f"{label}: {name}")


@pytest.mark.parametrize("defn", ELEMENTWISE, ids=lambda d: d.name)
def test_generated_code_on_the_host_matches_the_portable_body(defn, rng):
    ref = cupy_build.reference(defn)
    for dtype in defn.dtypes:
        for index32 in (True, False) if dtype == "float32" else (True,):
            inputs = _inputs(defn, rng, dtype)
            label = f"{defn.name} {dtype} int{32 if index32 else 64}"
            aliased = cupy_build.host_run(defn, dtype, index32, inputs, alias=True)
            separate = cupy_build.host_run(defn, dtype, index32, inputs, alias=False)
            for name in aliased:  # writing an output over its input must not change anything
                assert np.array_equal(aliased[name], separate[name], equal_nan=True), (
                    f"{label}: {name} differs when written over {dict(defn.aliases)[name]}")
            if ref is not None:
                _compare(aliased, ref(**_typed(inputs, defn, dtype)), dtype, defn.bit_exact,
                         label)


# Today's (main at 1eb9595) CuPy Nesterov update as the library launched it in place.
_OLD_NESTEROV = ElementwiseDefinition(
    name="xplayers_sgd_nesterov_momentum_old",
    in_params="T w, T g, T v, T mu, T lr",
    out_params="T w_out, T v_out",
    operation="v_out = mu * v - lr * g; w_out = (w + v_out) + mu * (v_out - v);",
    options=("--fmad=false",),
    aliases=(("w_out", "w"), ("v_out", "v")),
    scalars=("mu", "lr"),
    dtypes=("float32", "float64"),
)


def _nesterov_body(w, g, v, mu, lr):
    v_out = mu * v - lr * g
    return {"w_out": (w + v_out) + mu * (v_out - v), "v_out": v_out}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_harness_catches_the_old_nesterov_aliasing(dtype, rng):
    inputs = {"w": rng.uniform(0.05, 2, 300), "g": rng.uniform(0.05, 2, 300),
              "v": rng.uniform(0.05, 2, 300), "mu": 0.9, "lr": 0.1}
    want = _nesterov_body(**_typed(inputs, _OLD_NESTEROV, dtype))
    separate = cupy_build.host_run(_OLD_NESTEROV, dtype, True, inputs, alias=False)
    aliased = cupy_build.host_run(_OLD_NESTEROV, dtype, True, inputs, alias=True)
    assert np.array_equal(separate["w_out"], want["w_out"])  # the formula itself is right
    assert np.array_equal(aliased["v_out"], want["v_out"])
    # in place, v is read after v_out overwrote it: plain momentum instead of Nesterov
    assert not np.array_equal(aliased["w_out"], want["w_out"])
    w = inputs["w"].astype(dtype)
    assert np.array_equal(aliased["w_out"], w + want["v_out"])  # mu * (v_out - v_out) == 0

