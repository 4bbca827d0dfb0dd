"""Word embedding, temporal affine and the masked temporal softmax loss on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name, run_portable

from xplayers.backend.trusted_labels import labels_checked
from xplayers.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from xplayers.layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from xplayers.layers.word_embedding import _scatter_add

N, T, V, D, M = 3, 5, 7, 4, 6


def _words(rng):
    x = rng.integers(V, size=(N, T))
    x[0, :3] = 2  # repeated indices must add up
    return x


def test_word_embedding_gradcheck(backend, rng):
    x = backend.asarray(_words(rng))
    W = backend.asarray(rng.standard_normal((V, D)))
    dout = backend.asarray(rng.standard_normal((N, T, D)))
    _, cache = word_embedding_forward(x, W)
    dW = word_embedding_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda w: word_embedding_forward(x, w)[0], W, dout)
    assert rel_error(dW, num) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_word_embedding_matches_torch(backend, rng, dtype):
    torch = pytest.importorskip("torch")
    x, W = _words(rng), rng.standard_normal((V, D)).astype(dtype)
    dout = rng.standard_normal((N, T, D)).astype(dtype)
    emb = torch.nn.Embedding(V, D, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(W))
    emb(torch.tensor(x)).backward(torch.tensor(dout))
    for index_dtype in (np.int64, np.int32, np.uint8):
        out, cache = word_embedding_forward(backend.asarray(x, index_dtype), backend.asarray(W))
        dW = word_embedding_backward(backend.asarray(dout), cache)
        assert dtype_name(out) == dtype_name(dW) == np.dtype(dtype).name
        assert_close(out, emb(torch.tensor(x)).detach().numpy())
        assert_close(dW, emb.weight.grad.numpy())


def test_word_embedding_scatter_paths_agree(backend, rng):
    x, W = backend.asarray(_words(rng)), backend.asarray(rng.standard_normal((V, D)))
    dout = backend.asarray(rng.standard_normal((N, T, D)))
    _, cache = word_embedding_forward(x, W)
    assert_close(word_embedding_backward(dout, cache),
                 run_portable(word_embedding_backward, dout, cache))
    xp = backend.xp
    assert _scatter_add.portable(xp, cache.x, xp.reshape(dout, (N * T, D)), V).shape == (V, D)


def test_word_embedding_bad_arguments(backend, rng):
    W = backend.asarray(rng.standard_normal((V, D)))
    with pytest.raises(ValueError, match=r"word_embedding_forward: x must hold indices in "
                                         r"\[0, 7\) .* got values from -1 to 3"):
        word_embedding_forward(backend.asarray(np.array([[0, -1, 3]])), W)
    with pytest.raises(ValueError, match=r"got values from 0 to 7"):
        word_embedding_forward(backend.asarray(np.array([[0, 7]])), W)
    with pytest.raises(TypeError, match=r"x must hold integer word indices, got dtype .*float64"):
        word_embedding_forward(backend.asarray(np.zeros((2, 3))), W)
    with pytest.raises(TypeError, match="W must be a floating-point array"):
        word_embedding_forward(backend.asarray(np.zeros((2, 3), dtype=np.int64)),
                               backend.asarray(np.ones((V, D), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"W must have shape \(V, D\)"):
        word_embedding_forward(backend.asarray(np.zeros((2, 3), dtype=np.int64)),
                               backend.asarray(np.ones(V)))
    _, cache = word_embedding_forward(backend.asarray(np.zeros((2, 3), dtype=np.int64)), W)
    with pytest.raises(ValueError, match=r"word_embedding_backward: dout has shape \(3, 2, 4\)"):
        word_embedding_backward(backend.asarray(np.ones((3, 2, D))), cache)
    with labels_checked(V):  # the solver's one check stands for the per-call one
        word_embedding_forward(backend.asarray(np.array([[0, 1]])), W)


def test_temporal_affine_gradcheck_and_reference(backend, rng):
    x, w, b = (backend.asarray(rng.standard_normal(s)) for s in [(N, T, D), (D, M), (M,)])
    dout = backend.asarray(rng.standard_normal((N, T, M)))
    out, cache = temporal_affine_forward(x, w, b)
    hx, hw, hb = (backend.to_numpy(a) for a in (x, w, b))
    assert_close(out, np.einsum("ntd,dm->ntm", hx, hw) + hb)
    grads = temporal_affine_backward(dout, cache)
    inputs = [x, w, b]
    for i, value in enumerate(inputs):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return temporal_affine_forward(*args)[0]
        assert rel_error(grads[i], eval_numerical_gradient_array(f, value, dout)) < 1e-9


def test_temporal_affine_dtypes_and_errors(backend, rng):
    x = backend.asarray(rng.standard_normal((N, T, D)), np.float32)
    w = backend.asarray(rng.standard_normal((D, M)), np.float32)
    out, cache = temporal_affine_forward(x, w, backend.asarray(np.zeros(M, dtype=np.int64)))
    assert dtype_name(out) == "float32"
    dx, dw, db = temporal_affine_backward(backend.asarray(np.ones((N, T, M))), cache)
    assert [dtype_name(g) for g in (dx, dw, db)] == ["float32"] * 3
    with pytest.raises(ValueError, match=r"temporal_affine_forward: w has shape \(4, 6\), "
                                         r"expected \(5, 6\)"):
        temporal_affine_forward(backend.asarray(np.ones((N, T, 5))), w, w[0, :])
    with pytest.raises(ValueError, match=r"temporal_affine_forward: x must have shape "
                                         r"\(N, T, D\)"):
        temporal_affine_forward(backend.asarray(np.ones((N, D))), w, w[0, :])


def _loss_inputs(backend, rng, dtype=np.float64):
    x = rng.standard_normal((N, T, V)).astype(dtype)
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    return x, y, mask


def test_temporal_softmax_loss_matches_cross_entropy(backend, rng):
    torch = pytest.importorskip("torch")
    x, y, mask = _loss_inputs(backend, rng)
    tx = torch.tensor(x, requires_grad=True)
    per_step = torch.nn.functional.cross_entropy(tx.reshape(-1, V), torch.tensor(y).reshape(-1),
                                                 reduction="none")
    expected = (per_step * torch.tensor(mask.reshape(-1), dtype=tx.dtype)).sum() / N
    expected.backward()
    loss, dx = temporal_softmax_loss(backend.asarray(x), backend.asarray(y),
                                     backend.asarray(mask))
    assert_close(loss, expected.detach().numpy())
    assert_close(dx, tx.grad.numpy())
    # 0/1 numbers mean the same as booleans
    loss01, _ = temporal_softmax_loss(backend.asarray(x), backend.asarray(y),
                                      backend.asarray(mask.astype(np.int64)))
    assert_close(loss01, loss)


def test_temporal_softmax_loss_gradcheck(backend, rng):
    x, y, mask = _loss_inputs(backend, rng)
    x, y, mask = backend.asarray(x), backend.asarray(y), backend.asarray(mask)
    _, dx = temporal_softmax_loss(x, y, mask)
    num = eval_numerical_gradient(lambda v: temporal_softmax_loss(v, y, mask)[0], x,
                                  verbose=False)
    assert rel_error(dx, num) < 1e-7


def test_temporal_softmax_loss_is_finite_for_huge_logits(backend, rng):
    x, y, mask = _loss_inputs(backend, rng, np.float32)
    x = x * 1e30
    loss, dx = temporal_softmax_loss(backend.asarray(x), backend.asarray(y),
                                     backend.asarray(mask))
    assert dtype_name(loss) == dtype_name(dx) == "float32"
    assert backend.to_numpy(loss).shape == ()
    assert np.isfinite(backend.to_numpy(loss)) and np.all(np.isfinite(backend.to_numpy(dx)))


def test_temporal_softmax_loss_course_magnitudes(capsys):
    # The course's sanity check: uniform scores give N * T * log(V) * fraction_kept / N.
    rng = np.random.default_rng(0)
    for n, t, v, p, expected in [(100, 1, 10, 1.0, np.log(10)), (100, 10, 10, 1.0,
                                                                   10 * np.log(10)),
                                 (5000, 10, 10, 0.1, np.log(10))]:
        x = 0.001 * rng.standard_normal((n, t, v))
        y = rng.integers(v, size=(n, t))
        mask = rng.random((n, t)) <= p
        loss, _ = temporal_softmax_loss(x, y, mask, verbose=n == 100 and t == 1)
        assert abs(float(loss) - expected) < 0.05 * expected
    assert "dx_flat" in capsys.readouterr().out


def test_temporal_softmax_loss_bad_arguments(backend, rng):
    x, y, mask = _loss_inputs(backend, rng)
    x, y, mask = backend.asarray(x), backend.asarray(y), backend.asarray(mask)
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: mask has shape \(3, 4\), "
                                         r"expected \(3, 5\)"):
        temporal_softmax_loss(x, y, mask[:, :4])
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: y has shape \(5, 3\)"):
        temporal_softmax_loss(x, backend.xp.permute_dims(y, (1, 0)), mask)
    with pytest.raises(ValueError, match=r"y must hold indices in \[0, 7\)"):
        temporal_softmax_loss(x, y + 7, mask)
    with pytest.raises(TypeError, match="y must hold integer word indices"):
        temporal_softmax_loss(x, backend.xp.astype(y, backend.xp.float64), mask)
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, V\)"):
        temporal_softmax_loss(x[0, ...], y, mask)
