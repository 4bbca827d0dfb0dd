"""Average pooling on every backend: gradients, PyTorch reference, dtypes, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name

from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layers import avg_pool_backward, avg_pool_forward

# (x shape, pool height, pool width, stride): tiling, overlapping, not tiling, 1x1.
CASES = [
    ((2, 3, 4, 4), 2, 2, 2),
    ((1, 2, 5, 6), 3, 2, 1),
    ((2, 1, 7, 5), 2, 3, 2),
    ((1, 1, 3, 3), 1, 1, 1),
]


def _param(ph, pw, stride):
    return {"pool_height": ph, "pool_width": pw, "stride": stride}


@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), CASES)
def test_avg_pool_gradcheck(backend, rng, x_shape, ph, pw, stride):
    x = backend.asarray(rng.standard_normal(x_shape))
    out, cache = avg_pool_forward(x, _param(ph, pw, stride))
    dout = backend.asarray(rng.standard_normal(tuple(out.shape)))
    dx = avg_pool_backward(dout, cache)
    num = eval_numerical_gradient_array(
        lambda v: avg_pool_forward(v, _param(ph, pw, stride))[0], x, dout)
    assert rel_error(dx, num) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), CASES)
def test_avg_pool_matches_torch(backend, rng, dtype, x_shape, ph, pw, stride):
    torch = pytest.importorskip("torch")
    host = rng.standard_normal(x_shape).astype(dtype)
    tx = torch.tensor(host, requires_grad=True)
    tout = torch.nn.functional.avg_pool2d(tx, (ph, pw), stride=stride)
    hd = rng.standard_normal(tuple(tout.shape)).astype(dtype)
    tout.backward(torch.tensor(hd))
    out, cache = avg_pool_forward(backend.asarray(host), _param(ph, pw, stride))
    dx = avg_pool_backward(backend.asarray(hd), cache)
    assert dtype_name(out) == dtype_name(dx) == np.dtype(dtype).name
    assert_close(out, tout.detach().numpy())
    assert_close(dx, tx.grad.numpy())


def test_avg_pool_bad_arguments(backend):
    x = backend.asarray(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"pool_param\['stride'\] .* positive"):
        avg_pool_forward(x, _param(2, 2, 0))
    with pytest.raises(ValueError, match=r"pool_param\['pool_width'\] is required"):
        avg_pool_forward(x, {"pool_height": 2, "stride": 2})
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        avg_pool_forward(backend.asarray(np.ones((1, 1, 4, 4), dtype=np.int64)), _param(2, 2, 2))
    _, cache = avg_pool_forward(x, _param(2, 2, 2))
    with pytest.raises(ValueError, match=r"dout has shape \(1, 1, 3, 3\), expected \(1, 1, 2, 2\)"):
        avg_pool_backward(backend.asarray(np.ones((1, 1, 3, 3))), cache)
