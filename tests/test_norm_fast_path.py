"""The NumPy fast path of the normalisation layers against the portable body it stands in for.

Shapes here have rows of at least 16 elements along the statistics' trailing axes, so the
fast path really runs (asserted); the portable reference is the same public function with the
fast path switched off.
"""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, run_portable

from xplayers import fast_paths
from xplayers.backend.fast_paths import numba_enabled
from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layers import (
    _norm,
    _norm_numpy,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

# (x shape, statistics' axes, expected (P, Q, R))
LAYOUTS = [
    pytest.param((3, 4, 5, 6), (0, 2, 3), (3, 4, 30), id="spatial-batchnorm"),
    pytest.param((2, 2, 3, 4, 5), (2, 3, 4), (1, 4, 60), id="groupnorm"),
    pytest.param((4, 20), (1,), (1, 4, 20), id="layernorm"),
]


def _tolerance(dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-11,
                                                                      "atol": 1e-12}


def test_layout_only_where_it_pays() -> None:
    x = np.zeros((3, 4, 5, 6))
    assert _norm_numpy.layout(x, (0, 2, 3)) == (3, 4, 30)
    assert _norm_numpy.layout(x[:, :, :2, :2], (0, 2, 3)) is None  # rows of 4: portable
    assert _norm_numpy.layout(x, (1, 2)) is None  # kept axes 0 and 3 are not one run
    assert _norm_numpy.layout(np.zeros((64, 10)), (0,)) is None  # batchnorm's rows of 1
    assert _norm_numpy.layout(x.astype(np.int64), (0, 2, 3)) is None
    assert _norm_numpy.layout(x.tolist(), (0, 2, 3)) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "axes", "pqr"), LAYOUTS)
def test_normalize_matches_portable(rng, dtype, shape, axes, pqr) -> None:
    x = (3.0 + 2.0 * rng.standard_normal(shape)).astype(dtype)
    assert _norm_numpy.layout(x, axes) == pqr
    fast = _norm.normalize(np, x, axes, 1e-5)
    slow = _norm.normalize_portable(np, x, axes, 1e-5)
    for got, want in zip(fast, slow, strict=True):
        assert got.shape == want.shape and got.dtype == dtype
        assert_close(got, want, **_tolerance(dtype))
    dxhat = rng.standard_normal(shape).astype(dtype)
    xhat, inv_std = slow[0], slow[1]
    assert_close(_norm.normalize_backward(np, dxhat, xhat, inv_std, axes),
                 _norm.normalize_backward_portable(np, dxhat, xhat, inv_std, axes),
                 **_tolerance(dtype))


def test_normalize_of_a_strided_view(rng) -> None:
    base = rng.standard_normal((4, 3, 5, 6))
    x = base.transpose(1, 0, 2, 3)  # not C-contiguous: the fast path copies it once
    fast = _norm.normalize(np, x, (0, 2, 3), 1e-5)
    slow = _norm.normalize_portable(np, x, (0, 2, 3), 1e-5)
    for got, want in zip(fast, slow, strict=True):
        assert_close(got, want, **_tolerance(np.float64))


def _layers(x, gamma, beta, dout, groups):
    """Forward outputs and gradients of the three normalisation layers that have fast paths."""
    results = []
    for mode in ("train", "test"):
        bn = {"mode": mode, "running_mean": np.full(x.shape[1], 0.5, dtype=x.dtype),
              "running_var": np.full(x.shape[1], 2.0, dtype=x.dtype)}
        out, cache = spatial_batchnorm_forward(x, gamma, beta, bn)
        results += [out, *spatial_batchnorm_backward(dout, cache), bn["running_mean"],
                    bn["running_var"]]
    out, cache = spatial_groupnorm_forward(x, gamma.reshape(1, -1, 1, 1),
                                           beta.reshape(1, -1, 1, 1), groups)
    results += [out, *spatial_groupnorm_backward(dout, cache)]
    n = x.shape[0]
    flat, dflat = x.reshape(n, -1), dout.reshape(n, -1)
    d = flat.shape[1]
    ln_gamma, ln_beta = (np.linspace(lo, 2, d, dtype=x.dtype) for lo in (0.5, -1.0))
    out, cache = layernorm_forward(flat, ln_gamma, ln_beta, {})
    results += [out, *layernorm_backward(dflat, cache)]
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_match_with_the_fast_path_off(rng, dtype) -> None:
    shape = (3, 4, 5, 4)
    x = (1.0 + 2.0 * rng.standard_normal(shape)).astype(dtype)
    gamma, beta = (rng.standard_normal(4).astype(dtype) for _ in range(2))
    dout = rng.standard_normal(shape).astype(dtype)
    fast = _layers(x, gamma, beta, dout, groups=2)
    slow = run_portable(_layers, x, gamma, beta, dout, groups=2)
    for got, want in zip(fast, slow, strict=True):
        assert got.dtype == want.dtype
        assert_close(got, want, **_tolerance(dtype))


@pytest.mark.parametrize("groups", [1, 2])
def test_fast_path_gradients(rng, groups) -> None:
    n, c, h, w = 2, 4, 4, 5  # rows of 20: the fast path
    x = 2.0 + 3.0 * rng.standard_normal((n, c, h, w))
    gamma, beta = rng.standard_normal((1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))
    dout = rng.standard_normal((n, c, h, w))
    assert _norm_numpy.layout(x, (0, 2, 3)) is not None

    def batchnorm(x_, g_, b_):
        return spatial_batchnorm_forward(x_, g_, b_, {"mode": "train"})

    def groupnorm(x_, g_, b_):
        return spatial_groupnorm_forward(x_, g_, b_, groups)

    for forward, backward in ((batchnorm, spatial_batchnorm_backward),
                              (groupnorm, spatial_groupnorm_backward)):
        grads = backward(dout, forward(x, gamma, beta)[1])
        for i, (at, grad) in enumerate(zip((x, gamma, beta), grads, strict=True)):
            def f(v, i=i, forward=forward):
                args = [x, gamma, beta]
                args[i] = v
                return forward(*args)[0]

            err = rel_error(grad, eval_numerical_gradient_array(f, at.copy(), dout))
            assert err < 1e-6, f"{forward.__name__} argument {i}: relative error {err:.1e}"


@pytest.fixture
def numba_on():
    pytest.importorskip("numba")
    with fast_paths(numba=True):
        assert numba_enabled()
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_group_norm_matches_the_numpy_and_portable_bodies(rng, numba_on,
                                                                dtype) -> None:
    n, c, h, w, groups = 3, 6, 5, 4, 3
    x = (1.0 + 2.0 * rng.standard_normal((n, c, h, w))).astype(dtype)
    gamma, beta = (rng.standard_normal((1, c, 1, 1)).astype(dtype) for _ in range(2))
    dout = rng.standard_normal((n, c, w, h)).astype(dtype).transpose(0, 1, 3, 2)  # a view

    def run():
        out, cache = spatial_groupnorm_forward(x, gamma, beta, groups)
        return [out, *spatial_groupnorm_backward(dout, cache)]

    ours = run()
    with fast_paths(numba=False):
        numpy_body = run()
    portable = run_portable(run)
    for got, want_numpy, want_portable in zip(ours, numpy_body, portable, strict=True):
        assert got.dtype == dtype and got.shape == want_numpy.shape
        assert_close(got, want_numpy, **_tolerance(dtype))
        assert_close(got, want_portable, **_tolerance(dtype))


def test_numba_group_norm_gradients(rng, numba_on) -> None:
    n, c, h, w, groups = 2, 4, 3, 5, 2
    x = 2.0 + 3.0 * rng.standard_normal((n, c, h, w))
    gamma, beta = rng.standard_normal((1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))
    dout = rng.standard_normal((n, c, h, w))
    grads = spatial_groupnorm_backward(dout, spatial_groupnorm_forward(x, gamma, beta,
                                                                       groups)[1])
    for i, (at, grad) in enumerate(zip((x, gamma, beta), grads, strict=True)):
        def f(v, i=i):
            args = [x, gamma, beta]
            args[i] = v
            return spatial_groupnorm_forward(*args, groups)[0]

        err = rel_error(grad, eval_numerical_gradient_array(f, at.copy(), dout))
        assert err < 1e-6, f"argument {i}: relative error {err:.1e}"
