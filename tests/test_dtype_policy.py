"""The layers' one dtype policy, on every backend.

Forward: compute in ``result_type`` of the floating inputs; integer parameters take that
floating dtype (an integer bias never upcasts float32). Backward: ``dout`` is cast to the
forward's compute dtype; each gradient comes back in the dtype of its forward input when that
input was floating (else in the compute dtype).
"""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name

from xplayers import to_numpy
from xplayers.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

# name: (forward of (x, p1, p2), backward, shapes of x, p1, p2)
THREE_INPUT_LAYERS = {
    "affine": (affine_forward, affine_backward, [(4, 3, 2), (6, 5), (5,)]),
    "conv": (lambda x, w, b: conv_forward(x, w, b, {"stride": 1, "pad": 1}), conv_backward,
             [(2, 3, 5, 5), (4, 3, 3, 3), (4,)]),
    "batchnorm": (lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "train"}),
                  batchnorm_backward, [(6, 4), (4,), (4,)]),
    "batchnorm_alt": (lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "train"}),
                      batchnorm_backward_alt, [(6, 4), (4,), (4,)]),
    "batchnorm_test_mode": (lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "test"}),
                            batchnorm_backward_alt, [(6, 4), (4,), (4,)]),
    "layernorm": (lambda x, g, b: layernorm_forward(x, g, b, {}), layernorm_backward,
                  [(6, 4), (4,), (4,)]),
    "spatial_batchnorm": (lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"}),
                          spatial_batchnorm_backward, [(2, 3, 4, 4), (3,), (3,)]),
    "spatial_groupnorm": (lambda x, g, b: spatial_groupnorm_forward(x, g, b, 2, {}),
                          spatial_groupnorm_backward, [(2, 4, 3, 3), (1, 4, 1, 1), (1, 4, 1, 1)]),
}


def _draw(rng, shapes):
    return [rng.standard_normal(shape) + 0.5 for shape in shapes]


@pytest.mark.parametrize("layer", sorted(THREE_INPUT_LAYERS))
def test_float32_input_with_float64_parameters_computes_in_float64(backend, rng, layer):
    forward, backward, shapes = THREE_INPUT_LAYERS[layer]
    x, p1, p2 = _draw(rng, shapes)
    x32 = x.astype(np.float32)
    out, cache = forward(backend.asarray(x32), backend.asarray(p1), backend.asarray(p2))
    ref_out, ref_cache = forward(backend.asarray(x32.astype(np.float64)), backend.asarray(p1),
                                 backend.asarray(p2))
    assert dtype_name(out) == "float64"
    assert_close(out, ref_out)
    dout = rng.standard_normal(tuple(out.shape))
    grads = backward(backend.asarray(dout), cache)
    ref_grads = backward(backend.asarray(dout), ref_cache)
    assert [dtype_name(g) for g in grads] == ["float32", "float64", "float64"]
    assert_close(grads[0], np.asarray(to_numpy(ref_grads[0])).astype(np.float32))
    for grad, ref in zip(grads[1:], ref_grads[1:], strict=True):
        assert_close(grad, ref)


@pytest.mark.parametrize("layer", sorted(THREE_INPUT_LAYERS))
def test_integer_parameters_take_the_float32_dtype(backend, rng, layer):
    forward, backward, shapes = THREE_INPUT_LAYERS[layer]
    x = _draw(rng, shapes[:1])[0].astype(np.float32)
    p1, p2 = (rng.integers(1, 4, size=shape) for shape in shapes[1:])  # int64: no upcast
    out, cache = forward(backend.asarray(x), backend.asarray(p1), backend.asarray(p2))
    ref_out, ref_cache = forward(backend.asarray(x), backend.asarray(p1, np.float32),
                                 backend.asarray(p2, np.float32))
    assert dtype_name(out) == "float32"
    assert_close(out, ref_out)
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)), np.float32)
    grads, ref_grads = backward(dout, cache), backward(dout, ref_cache)
    assert [dtype_name(g) for g in grads] == ["float32"] * 3  # integers': the compute dtype
    for grad, ref in zip(grads, ref_grads, strict=True):
        assert_close(grad, ref)


@pytest.mark.parametrize("layer", sorted(THREE_INPUT_LAYERS))
def test_a_float64_dout_is_cast_to_the_float32_forward(backend, rng, layer):
    forward, backward, shapes = THREE_INPUT_LAYERS[layer]
    x, p1, p2 = (backend.asarray(a, np.float32) for a in _draw(rng, shapes))
    out, cache = forward(x, p1, p2)
    assert dtype_name(out) == "float32"
    dout = rng.standard_normal(tuple(out.shape))
    grads = backward(backend.asarray(dout), cache)
    expected = backward(backend.asarray(dout, np.float32), cache)
    assert [dtype_name(g) for g in grads] == ["float32"] * 3
    for grad, ref in zip(grads, expected, strict=True):
        np.testing.assert_array_equal(to_numpy(grad), to_numpy(ref))


SINGLE_INPUT_LAYERS = {
    "relu": (relu_forward, relu_backward, (4, 5)),
    "max_pool": (lambda x: max_pool_forward(x, {"pool_height": 2, "pool_width": 2,
                                                "stride": 2}), max_pool_backward, (2, 3, 4, 4)),
    "dropout": (lambda x: dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 1}),
                dropout_backward, (4, 5)),
}


@pytest.mark.parametrize("layer", sorted(SINGLE_INPUT_LAYERS))
@pytest.mark.parametrize(("forward_dtype", "dout_dtype"),
                         [(np.float32, np.float64), (np.float64, np.float32)])
def test_single_input_layers_return_dx_in_the_forward_dtype(backend, rng, layer, forward_dtype,
                                                            dout_dtype):
    forward, backward, shape = SINGLE_INPUT_LAYERS[layer]
    out, cache = forward(backend.asarray(rng.standard_normal(shape), forward_dtype))
    dout = rng.standard_normal(tuple(out.shape)).astype(dout_dtype)
    dx = backward(backend.asarray(dout), cache)
    expected = backward(backend.asarray(dout, forward_dtype), cache)
    assert dtype_name(dx) == np.dtype(forward_dtype).name
    np.testing.assert_array_equal(to_numpy(dx), to_numpy(expected))


def test_complex_parameters_are_refused_by_name(backend, rng):
    x = backend.asarray(rng.standard_normal((3, 4)))
    w = backend.asarray(rng.standard_normal((4, 2)), np.complex128)
    with pytest.raises(TypeError, match=r"affine_forward: w must hold real numbers .*complex"):
        affine_forward(x, w, backend.asarray(np.zeros(2)))
