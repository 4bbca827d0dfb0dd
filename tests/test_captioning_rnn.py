"""CaptioningRNN on every backend: the course's loss values, gradients, sampling, saving."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, dtype_name

from xplayers.gradcheck import eval_numerical_gradient, rel_error
from xplayers.models import CaptioningRNN, load_model
from xplayers.models._registry import MODEL_CLASSES

VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4, "sat": 5}


def _to(backend, model):
    model.params = {k: backend.asarray(v) for k, v in model.params.items()}
    return model


@pytest.mark.parametrize("cell_type, lo, hi, expected", [
    ("rnn", -1.5, 0.3, 9.83235591003), ("lstm", -0.5, 1.7, 9.82445935443)])
def test_course_loss_values(backend, cell_type, lo, hi, expected):
    n, d, w, h, t = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}  # the course's vocabulary, with a gap
    model = CaptioningRNN(word_to_idx, input_dim=d, wordvec_dim=w, hidden_dim=h,
                          cell_type=cell_type, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    _to(backend, model)
    features = backend.asarray(np.linspace(lo, hi, num=n * d).reshape(n, d))
    captions = backend.asarray((np.arange(n * t) % 3).reshape(n, t))
    loss, grads = model.loss(features, captions)
    assert abs(float(backend.to_numpy(loss)) - expected) < 1e-10
    assert sorted(grads) == sorted(model.params)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_model_gradcheck(backend, rng, cell_type):
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3,
                          cell_type=cell_type, dtype=np.float64, seed=0)
    # weights of order one: the course's 1/100 word vectors give gradients too small to
    # difference accurately
    model.params = {k: rng.standard_normal(v.shape) * 0.5 for k, v in model.params.items()}
    _to(backend, model)
    captions = rng.integers(len(VOCAB), size=(2, 4))
    captions[0, -1] = 0  # a <NULL> that must not count
    captions = backend.asarray(captions)
    features = backend.asarray(rng.standard_normal((2, 4)))
    _, grads = model.loss(features, captions)
    for name in sorted(grads):
        num = eval_numerical_gradient(lambda _: model.loss(features, captions)[0],
                                      model.params[name], verbose=False, h=1e-5)
        assert rel_error(num, grads[name]) < 2e-6, name  # the course asks for 5e-6


def test_null_words_do_not_count(rng):
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3, dtype=np.float64,
                          seed=1)
    features = rng.standard_normal((2, 4))
    short = np.array([[1, 3, 2, 0, 0], [1, 4, 5, 2, 0]])
    loss, _ = model.loss(features, short)
    loss_cut, _ = model.loss(features, short[:, :4])  # drops only a <NULL> target
    assert abs(float(loss) - float(loss_cut)) < 1e-12


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_float32_stays_float32(backend, rng, cell_type):
    model = _to(backend, CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3,
                                       cell_type=cell_type, seed=0))
    features = backend.asarray(rng.standard_normal((3, 4)))  # float64 features are cast
    loss, grads = model.loss(features, backend.asarray(rng.integers(6, size=(3, 5)),
                                                       np.int32))
    assert dtype_name(loss) == "float32"
    assert {dtype_name(g) for g in grads.values()} == {"float32"}
    captions = model.sample(features, max_length=4)
    assert dtype_name(captions) == "int32" and tuple(captions.shape) == (3, 4)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_sample_is_greedy(backend, rng, cell_type):
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3,
                          cell_type=cell_type, dtype=np.float64, seed=3)
    p = {k: v.copy() for k, v in model.params.items()}
    features = rng.standard_normal((2, 4))
    got = backend.to_numpy(_to(backend, model).sample(backend.asarray(features), 6))
    # the same loop written out in NumPy
    h = features @ p["W_proj"] + p["b_proj"]
    c = np.zeros_like(h)
    word = np.full(2, VOCAB["<START>"])
    expected = []
    for _ in range(6):
        a = p["W_embed"][word] @ p["Wx"] + h @ p["Wh"] + p["b"]
        if cell_type == "rnn":
            h = np.tanh(a)
        else:
            i, f, o, g = np.split(a, 4, axis=1)
            sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
        word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
        expected.append(word)
    np.testing.assert_array_equal(got, np.stack(expected, axis=1))


def test_course_initialisation_order():
    # the course's global-state draws, on purpose
    np.random.seed(231)  # noqa: NPY002
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3, cell_type="lstm")
    np.random.seed(231)  # noqa: NPY002
    w_embed = np.random.randn(6, 5) / 100  # noqa: NPY002
    w_proj = np.random.randn(4, 3) / np.sqrt(4)  # noqa: NPY002
    np.testing.assert_array_equal(model.params["W_embed"], w_embed.astype(np.float32))
    np.testing.assert_array_equal(model.params["W_proj"], w_proj.astype(np.float32))
    assert model.params["Wx"].shape == (5, 12) and model.params["b_vocab"].shape == (6,)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    CaptioningRNN(VOCAB, input_dim=4, seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_save_and_load_round_trip(tmp_path, rng, cell_type):
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3,
                          cell_type=cell_type, seed=2)
    model.save(tmp_path / "cap.npz")
    loaded = load_model(tmp_path / "cap.npz", "cpu")
    assert MODEL_CLASSES["CaptioningRNN"] is CaptioningRNN
    assert isinstance(loaded, CaptioningRNN) and loaded.word_to_idx == VOCAB
    assert loaded.idx_to_word[3] == "cat" and loaded.cell_type == cell_type
    for name, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
    features = rng.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.sample(features, 5), model.sample(features, 5))
    assert repr(loaded).startswith(f"CaptioningRNN(<6 words>, input_dim=4, wordvec_dim=5, "
                                   f"hidden_dim=3, cell_type='{cell_type}'")
    assert CaptioningRNN.param_shapes(model.config) == {
        k: tuple(v.shape) for k, v in model.params.items()}


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell_type must be 'rnn' or 'lstm', got 'gru'"):
        CaptioningRNN(VOCAB, cell_type="gru")
    with pytest.raises(ValueError, match="must hold the padding word '<NULL>'"):
        CaptioningRNN({"a": 0, "b": 1})
    with pytest.raises(ValueError, match=r"indices >= 0, got 'a': 1\.5"):
        CaptioningRNN({"<NULL>": 0, "a": 1.5})
    with pytest.raises(ValueError, match="some indices repeat"):
        CaptioningRNN({"<NULL>": 0, "a": 0})
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer"):
        CaptioningRNN(VOCAB, hidden_dim=0)
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3, seed=0)
    features = np.zeros((2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"captions must have shape \(N, T \+ 1\)"):
        model.loss(features, np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="features hold 2 images but captions hold 3"):
        model.loss(features, np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"x must hold indices in \[0, 6\)"):
        model.loss(features, np.full((2, 4), 9))
    with pytest.raises(ValueError, match="needs '<START>'"):
        CaptioningRNN({"<NULL>": 0, "a": 1}, input_dim=4).sample(features)


def test_loss_refuses_arrays_from_another_library():
    torch = pytest.importorskip("torch")
    model = CaptioningRNN(VOCAB, input_dim=4, wordvec_dim=5, hidden_dim=3, seed=0)
    with pytest.raises(TypeError, match="captions is a torch array"):
        model.loss(np.zeros((2, 4), np.float32), torch.zeros((2, 3), dtype=torch.int64))
    assert_close(model.loss(np.zeros((2, 4), np.float32), np.ones((2, 3), np.int64))[0],
                 model.loss(np.zeros((2, 4), np.float32), np.ones((2, 3), np.int64))[0])
