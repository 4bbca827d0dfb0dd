"""Layer arguments that used to end in internal errors (issue 10, item 6), on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close

from xplayers import to_numpy
from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layer_utils import conv_bn_relu_forward
from xplayers.layers import (
    affine_backward,
    affine_forward,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    max_pool_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

CONV_PARAM = {"stride": 1, "pad": 1}


def test_affine_without_bias(backend, rng):
    x, w = backend.asarray(rng.standard_normal((4, 2, 3))), backend.asarray(
        rng.standard_normal((6, 5)))
    dout = backend.asarray(rng.standard_normal((4, 5)))
    out, cache = affine_forward(x, w, None)
    zero_bias, _ = affine_forward(x, w, backend.asarray(np.zeros(5)))
    assert_close(out, zero_bias)
    dx, dw, db = affine_backward(dout, cache)
    assert db is None
    for value, grad in ((x, dx), (w, dw)):
        numeric = eval_numerical_gradient_array(lambda _: affine_forward(x, w, None)[0], value,
                                                dout)
        assert rel_error(numeric, grad) < 1e-8


def test_conv_without_bias(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3, 5, 5)))
    w = backend.asarray(rng.standard_normal((4, 3, 3, 3)))
    dout = backend.asarray(rng.standard_normal((2, 4, 5, 5)))
    out, cache = conv_forward(x, w, None, CONV_PARAM)
    zero_bias, _ = conv_forward(x, w, backend.asarray(np.zeros(4)), CONV_PARAM)
    assert_close(out, zero_bias)
    dx, dw, db = conv_backward(dout, cache)
    assert db is None
    for value, grad in ((x, dx), (w, dw)):
        numeric = eval_numerical_gradient_array(lambda _: conv_forward(x, w, None, CONV_PARAM)[0],
                                                value, dout)
        assert rel_error(numeric, grad) < 1e-8


def test_parameter_dicts_that_are_none_are_named(backend, rng):
    x4 = backend.asarray(rng.standard_normal((2, 3, 4, 4)))
    w = backend.asarray(rng.standard_normal((2, 3, 3, 3)))
    b, g3 = backend.asarray(np.zeros(2)), backend.asarray(np.ones(3))
    with pytest.raises(ValueError, match=r"conv_forward: conv_param must be a dict with 'stride' "
                                         r"and 'pad' .* got None"):
        conv_forward(x4, w, b, None)
    with pytest.raises(ValueError, match=r"max_pool_forward: pool_param must be a dict .* None"):
        max_pool_forward(x4, None)
    x2, g4 = backend.asarray(rng.standard_normal((5, 4))), backend.asarray(np.ones(4))
    with pytest.raises(ValueError, match=r"batchnorm_forward: bn_param must be a dict .* None"):
        batchnorm_forward(x2, g4, g4, None)
    with pytest.raises(ValueError, match=r"spatial_batchnorm_forward: bn_param must be a dict"):
        spatial_batchnorm_forward(x4, g3, g3, None)
    with pytest.raises(ValueError, match=r"spatial_batchnorm_forward: bn_param must be a dict"):
        conv_bn_relu_forward(x4, w, b, backend.asarray(np.ones(2)), backend.asarray(np.ones(2)),
                             CONV_PARAM, None)
    with pytest.raises(ValueError, match=r"spatial_groupnorm_forward: gn_param must be a dict"):
        spatial_groupnorm_forward(x4, g3, g3, 3, [1e-5])
    out, _ = spatial_groupnorm_forward(x4, g3, g3, 3, None)  # None: the defaults
    assert_close(out, spatial_groupnorm_forward(x4, g3, g3, 3, {"eps": 1e-5})[0])


@pytest.mark.parametrize("eps", [-1.0, float("nan"), float("-inf")])
def test_groupnorm_validates_eps_like_batchnorm(backend, rng, eps):
    x = backend.asarray(rng.standard_normal((2, 4, 3, 3)))
    g = backend.asarray(np.ones(4))
    with pytest.raises(ValueError, match=r"gn_param\['eps'\] must lie in \[0.0, inf\]"):
        spatial_groupnorm_forward(x, g, g, 2, {"eps": eps})
    with pytest.raises(TypeError, match=r"gn_param\['eps'\] must be a real number, got '1'"):
        spatial_groupnorm_forward(x, g, g, 2, {"eps": "1"})


def test_conv_with_zero_filters_is_refused(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3, 4, 4)))
    w = backend.asarray(np.zeros((0, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"conv_forward: w has no filters: shape \(0, 3, 3, 3\)"):
        conv_forward(x, w, backend.asarray(np.zeros(0)), CONV_PARAM)


def test_spatial_norm_backward_checks_dout_against_the_forward(backend, rng):
    x = backend.asarray(rng.standard_normal((3, 4, 2, 2)))
    g = backend.asarray(np.ones(4))
    wrong_n = backend.asarray(rng.standard_normal((2, 4, 2, 2)))
    _, bn_cache = spatial_batchnorm_forward(x, g, g, {"mode": "train"})
    with pytest.raises(ValueError, match=r"spatial_batchnorm_backward: dout has shape "
                                         r"\(2, 4, 2, 2\), expected \(3, 4, 2, 2\)"):
        spatial_batchnorm_backward(wrong_n, bn_cache)
    _, gn_cache = spatial_groupnorm_forward(x, g, g, 2, {})
    with pytest.raises(ValueError, match=r"spatial_groupnorm_backward: dout has shape "
                                         r"\(2, 4, 2, 2\), expected \(3, 4, 2, 2\)"):
        spatial_groupnorm_backward(wrong_n, gn_cache)
    wrong_c = backend.asarray(rng.standard_normal((3, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"dout has shape \(3, 2, 2, 2\)"):
        spatial_groupnorm_backward(wrong_c, gn_cache)
    assert np.isfinite(to_numpy(spatial_groupnorm_backward(
        backend.asarray(rng.standard_normal((3, 4, 2, 2))), gn_cache)[0])).all()
