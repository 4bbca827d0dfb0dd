"""Vanilla RNN and LSTM layers on every backend: gradients, PyTorch reference, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name

from xplayers.gradcheck import eval_numerical_gradient_array, rel_error
from xplayers.layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

N, T, D, H = 3, 4, 5, 6


def _draw(rng, backend, *shapes, dtype=np.float64):
    return [backend.asarray(rng.standard_normal(s) * 0.5, dtype) for s in shapes]


def _check_grads(backend, forward, backward, inputs, dout, tol=1e-7):
    """Numerical gradient of every input of ``forward`` against ``backward``'s."""
    _, cache = forward(*inputs)
    grads = backward(dout, cache)
    for i, (value, grad) in enumerate(zip(inputs, grads, strict=True)):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return forward(*args)[0]
        num = eval_numerical_gradient_array(f, value, dout)
        assert rel_error(grad, num) < tol, f"input {i}: {rel_error(grad, num)}"


def test_rnn_step_gradcheck(backend, rng):
    inputs = _draw(rng, backend, (N, D), (N, H), (D, H), (H, H), (H,))
    dout = backend.asarray(rng.standard_normal((N, H)))
    _check_grads(backend, rnn_step_forward, rnn_step_backward, inputs, dout)


def test_rnn_sequence_gradcheck(backend, rng):
    inputs = _draw(rng, backend, (N, T, D), (N, H), (D, H), (H, H), (H,))
    dout = backend.asarray(rng.standard_normal((N, T, H)))
    _check_grads(backend, rnn_forward, rnn_backward, inputs, dout)


def test_lstm_step_gradcheck(backend, rng):
    x, prev_h, prev_c, Wx, Wh, b = _draw(rng, backend, (N, D), (N, H), (N, H), (D, 4 * H),
                                         (H, 4 * H), (4 * H,))
    dh, dc = _draw(rng, backend, (N, H), (N, H))
    inputs = [x, prev_h, prev_c, Wx, Wh, b]
    _, _, cache = lstm_step_forward(*inputs)
    grads = lstm_step_backward(dh, dc, cache)
    for i, value in enumerate(inputs):
        def f(v, i=i, which=0):
            args = list(inputs)
            args[i] = v
            return lstm_step_forward(*args)[which]
        num = (eval_numerical_gradient_array(f, value, dh)
               + eval_numerical_gradient_array(lambda v, i=i: f(v, i, 1), value, dc))
        assert rel_error(grads[i], num) < 1e-7, f"input {i}"


def test_lstm_sequence_gradcheck(backend, rng):
    inputs = _draw(rng, backend, (N, T, D), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    dout = backend.asarray(rng.standard_normal((N, T, H)))
    _check_grads(backend, lstm_forward, lstm_backward, inputs, dout)


def test_steps_chain_into_the_sequence(backend, rng):
    x, h0, Wx, Wh, b = _draw(rng, backend, (N, T, D), (N, H), (D, 4 * H), (H, 4 * H),
                             (4 * H,))
    h_seq, _ = lstm_forward(x, h0, Wx, Wh, b)
    h, c = h0, backend.asarray(np.zeros((N, H)))
    for t in range(T):
        h, c, _ = lstm_step_forward(x[:, t, :], h, c, Wx, Wh, b)
        assert_close(h_seq[:, t, :], h)
    r_seq, _ = rnn_forward(x, h0, Wx[:, :H], Wh[:, :H], b[:H])
    h = h0
    for t in range(T):
        h, _ = rnn_step_forward(x[:, t, :], h, Wx[:, :H], Wh[:, :H], b[:H])
        assert_close(r_seq[:, t, :], h)


def _torch_run(module, x, h0, c0=None):
    import torch

    tx = torch.tensor(x, requires_grad=True)
    th = torch.tensor(h0[None], requires_grad=True)
    state = th if c0 is None else (th, torch.zeros_like(th))
    out, _ = module(tx, state)
    return tx, th, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rnn_matches_torch(backend, rng, dtype):
    torch = pytest.importorskip("torch")
    x, h0, Wx, Wh, b = (rng.standard_normal(s).astype(dtype) * 0.5 for s in
                        [(N, T, D), (N, H), (D, H), (H, H), (H,)])
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True,
                       dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    tx, th, tout = _torch_run(rnn, x, h0)
    tout.backward(torch.tensor(dh))
    h, cache = rnn_forward(*(backend.asarray(a) for a in (x, h0, Wx, Wh, b)))
    dx, dh0, dWx, dWh, db = rnn_backward(backend.asarray(dh), cache)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    assert dtype_name(h) == dtype_name(dx) == dtype_name(dWh) == np.dtype(dtype).name
    assert_close(h, tout.detach().numpy(), **tol)
    assert_close(dx, tx.grad.numpy(), **tol)
    assert_close(dh0, th.grad.numpy()[0], **tol)
    assert_close(dWx, rnn.weight_ih_l0.grad.numpy().T, **tol)
    assert_close(dWh, rnn.weight_hh_l0.grad.numpy().T, **tol)
    assert_close(db, rnn.bias_ih_l0.grad.numpy(), **tol)


def _to_torch_gates(w):
    """Columns i, f, o, g (ours) -> rows i, f, g, o (PyTorch's), transposed."""
    i, f, o, g = np.split(w, 4, axis=-1)
    return np.concatenate([i, f, g, o], axis=-1).T


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_matches_torch(backend, rng, dtype):
    torch = pytest.importorskip("torch")
    x, h0, Wx, Wh, b = (rng.standard_normal(s).astype(dtype) * 0.5 for s in
                        [(N, T, D), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)])
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(_to_torch_gates(Wx)))
        lstm.weight_hh_l0.copy_(torch.tensor(_to_torch_gates(Wh)))
        lstm.bias_ih_l0.copy_(torch.tensor(_to_torch_gates(b)))
        lstm.bias_hh_l0.zero_()
    tx, th, tout = _torch_run(lstm, x, h0, c0=True)
    tout.backward(torch.tensor(dh))
    h, cache = lstm_forward(*(backend.asarray(a) for a in (x, h0, Wx, Wh, b)))
    dx, dh0, dWx, dWh, db = lstm_backward(backend.asarray(dh), cache)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    assert dtype_name(h) == dtype_name(dx) == dtype_name(db) == np.dtype(dtype).name
    assert_close(h, tout.detach().numpy(), **tol)
    assert_close(dx, tx.grad.numpy(), **tol)
    assert_close(dh0, th.grad.numpy()[0], **tol)
    assert_close(_to_torch_gates(backend.to_numpy(dWx)), lstm.weight_ih_l0.grad.numpy(), **tol)
    assert_close(_to_torch_gates(backend.to_numpy(dWh)), lstm.weight_hh_l0.grad.numpy(), **tol)
    assert_close(_to_torch_gates(backend.to_numpy(db)), lstm.bias_ih_l0.grad.numpy(), **tol)


def test_mixed_dtypes_follow_the_policy(backend, rng):
    x = backend.asarray(rng.standard_normal((N, T, D)), np.float32)
    h0 = backend.asarray(rng.standard_normal((N, H)), np.float64)
    Wx, Wh = _draw(rng, backend, (D, 4 * H), (H, 4 * H), dtype=np.float32)
    b = backend.asarray(np.arange(4 * H) % 3 - 1, np.int64)
    for forward, backward, gates in ((rnn_forward, rnn_backward, 1),
                                     (lstm_forward, lstm_backward, 4)):
        h, cache = forward(x, h0, Wx[:, : gates * H], Wh[:, : gates * H], b[: gates * H])
        assert dtype_name(h) == "float64"
        dx, dh0, dWx, dWh, db = backward(backend.asarray(np.ones((N, T, H)), np.float32),
                                         cache)
        assert [dtype_name(g) for g in (dx, dh0, dWx, dWh, db)] == [
            "float32", "float64", "float32", "float32", "float64"]


def test_large_gate_inputs_stay_finite(backend):
    x = backend.asarray(np.full((1, 2, 1), 1e4), np.float32)
    h0 = backend.asarray(np.zeros((1, 1)), np.float32)
    w = backend.asarray(np.array([[1.0, -1.0, 1.0, -1.0]]), np.float32)
    h, _ = lstm_forward(x, h0, w, backend.asarray(np.zeros((1, 4)), np.float32),
                        backend.asarray(np.zeros(4), np.float32))
    assert np.all(np.isfinite(backend.to_numpy(h)))


def test_bad_arguments_are_named(backend):
    ones = lambda *s: backend.asarray(np.ones(s))  # noqa: E731
    with pytest.raises(ValueError, match=r"rnn_forward: x must have shape \(N, T, D\)"):
        rnn_forward(ones(N, D), ones(N, H), ones(D, H), ones(H, H), ones(H))
    with pytest.raises(ValueError, match=r"rnn_forward: h0 has shape \(2, 6\), expected "
                                         r"\(3, 6\)"):
        rnn_forward(ones(N, T, D), ones(2, H), ones(D, H), ones(H, H), ones(H))
    with pytest.raises(ValueError, match=r"rnn_step_forward: Wx has shape \(4, 6\), expected "
                                         r"\(5, 6\)"):
        rnn_step_forward(ones(N, D), ones(N, H), ones(4, H), ones(H, H), ones(H))
    with pytest.raises(ValueError, match=r"lstm_forward: Wh has shape \(6, 6\), expected "
                                         r"\(6, 24\)"):
        lstm_forward(ones(N, T, D), ones(N, H), ones(D, 4 * H), ones(H, H), ones(4 * H))
    with pytest.raises(ValueError, match=r"lstm_step_forward: b has shape \(6,\), expected "
                                         r"\(24,\)"):
        lstm_step_forward(ones(N, D), ones(N, H), ones(N, H), ones(D, 4 * H), ones(H, 4 * H),
                          ones(H))
    with pytest.raises(ValueError, match=r"prev_c has shape \(3, 5\), expected \(3, 6\)"):
        lstm_step_forward(ones(N, D), ones(N, H), ones(N, 5), ones(D, 4 * H), ones(H, 4 * H),
                          ones(4 * H))
    with pytest.raises(ValueError, match="x must hold at least one time step"):
        lstm_forward(ones(N, 0, D), ones(N, H), ones(D, 4 * H), ones(H, 4 * H), ones(4 * H))
    _, cache = rnn_forward(ones(N, T, D), ones(N, H), ones(D, H), ones(H, H), ones(H))
    with pytest.raises(ValueError, match=r"rnn_backward: dh has shape \(3, 6\)"):
        rnn_backward(ones(N, H), cache)
    with pytest.raises(TypeError, match="rnn_forward: at least one array must be floating"):
        rnn_forward(*(backend.asarray(np.ones(s, dtype=np.int64)) for s in
                      [(N, T, D), (N, H), (D, H), (H, H), (H,)]))
