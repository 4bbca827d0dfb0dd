"""Large-magnitude normalisation and float16 dropout: right results, or a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import xplayers
from xplayers.layers import (
    batchnorm_backward,
    batchnorm_forward,
    dropout_forward,
    layernorm_forward,
    spatial_batchnorm_forward,
    spatial_groupnorm_forward,
)
from xplayers.layers._norm import _scaled_statistics, normalize_portable


def _standardised(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)


def _cases(rng, scale):
    x2 = (rng.standard_normal((16, 6)) * scale).astype(np.float32)
    x4 = (rng.standard_normal((4, 6, 5, 5)) * scale).astype(np.float32)
    ones, zeros = np.ones(6, np.float32), np.zeros(6, np.float32)
    g4, b4 = ones.reshape(1, 6, 1, 1), zeros.reshape(1, 6, 1, 1)
    return {
        "batchnorm": (lambda: batchnorm_forward(x2, ones, zeros, {"mode": "train"})[0],
                      _standardised(x2, (0,))),
        "layernorm": (lambda: layernorm_forward(x2, ones, zeros, {})[0],
                      _standardised(x2, (1,))),
        "spatial batchnorm": (
            lambda: spatial_batchnorm_forward(x4, ones, zeros, {"mode": "train"})[0],
            _standardised(x4, (0, 2, 3))),
        "group norm": (lambda: spatial_groupnorm_forward(x4, g4, b4, 2, {})[0],
                       _standardised(x4.reshape(4, 2, 3, 5, 5), (2, 3, 4)).reshape(x4.shape)),
    }


@pytest.mark.parametrize("scale", [1.0, 1e20, 1e30, 1e36])
@pytest.mark.parametrize("engine", ["fast", "portable", "numba"])
def test_float32_norms_standardise_huge_inputs(rng, scale, engine):
    if engine == "numba":
        pytest.importorskip("numba")
    settings = {"fast": {}, "portable": {"enabled": False}, "numba": {"numba": True}}[engine]
    for name, (forward, expected) in _cases(rng, scale).items():
        with xplayers.fast_paths(**settings):
            out = forward()
        assert out.dtype == np.float32, name
        assert np.isfinite(out).all(), (name, scale)
        np.testing.assert_allclose(out, expected, rtol=2e-4, atol=2e-5, err_msg=name)


def test_scaling_changes_no_bit_where_nothing_overflows(rng):
    for dtype in (np.float32, np.float16):
        x = (rng.standard_normal((32, 7)) * 7).astype(dtype)
        mean = np.mean(x, axis=(0,), keepdims=True)
        plain = normalize_portable(np, x, (0,), 1e-5)
        scaled = _scaled_statistics(np, x - mean, mean, (0,), 1e-5)
        for a, b in zip(plain, scaled, strict=True):
            np.testing.assert_array_equal(a, b)


def test_float16_norm_of_hundreds_is_right(rng):
    x = (rng.standard_normal((32, 4)) * 500).astype(np.float16)  # squares beyond 65504
    out, _ = batchnorm_forward(x, np.ones(4, np.float16), np.zeros(4, np.float16),
                               {"mode": "train"})
    np.testing.assert_allclose(out, _standardised(x, (0,)), rtol=1e-2, atol=1e-2)


def test_batchnorm_backward_of_huge_inputs_is_finite(rng):
    x = (rng.standard_normal((16, 3)) * 1e30).astype(np.float32)
    out, cache = batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32),
                                   {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(np.ones_like(out) + out, cache)
    assert np.isfinite(dgamma).all() and np.isfinite(dbeta).all() and np.isfinite(dx).all()


def test_float16_dropout_refuses_a_scale_beyond_its_range():
    x = np.ones((4, 5), np.float16)
    with pytest.raises(ValueError, match=r"dropout_forward: p=0\.99999 .*beyond the largest "
                                         r"float16 value 6\.55e\+04"):
        dropout_forward(x, {"p": 0.99999, "mode": "train", "seed": 0})
    out, mask = dropout_forward(x, {"p": 0.9999, "mode": "train", "seed": 0})  # 1e4: fits
    assert np.isfinite(out).all() and set(np.unique(mask)) <= {0, np.float16(1 / (1 - 0.9999))}
    out32, _ = dropout_forward(x.astype(np.float32), {"p": 0.99999, "mode": "train", "seed": 0})
    assert np.isfinite(out32).all()


def test_library_names_take_the_right_article():
    strict = pytest.importorskip("array_api_strict")
    from xplayers import get_array_module

    with pytest.raises(TypeError, match=r"w is an array_api_strict array on device .*"
                                        r"x is a numpy array"):
        get_array_module(w=strict.asarray([1.0]), x=np.ones(1))
