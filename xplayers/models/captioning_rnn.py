"""The course's image-captioning recurrent network (vanilla RNN or LSTM)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backend import get_array_module, is_cupy_array, is_numpy_array
from ..backend.checks import as_integer
from ..backend.devices import to_device
from ..layers import (
    affine_backward,
    affine_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from .base import Model
from .init import check_positive_int, weight_rng

__all__ = ["CaptioningRNN", "check_vocabulary"]

_GATES = {"rnn": 1, "lstm": 4}


def check_vocabulary(word_to_idx: Any) -> dict[str, int]:
    """``word_to_idx`` as a plain ``{word: index}`` dict of Python ints, checked.

    V, the vocabulary's size, is the number of words; scores and word vectors have one row per
    index in [0, V). The course's own test vocabulary skips an index, so gaps are allowed.

    Raises
    ------
    ValueError
        Unless it maps strings to distinct integers >= 0 and holds ``'<NULL>'``.
    """
    if not isinstance(word_to_idx, Mapping) or not word_to_idx:
        raise ValueError(f"word_to_idx must be a non-empty dict {{word: index}}, got "
                         f"{word_to_idx!r:.80}")
    vocab = {}
    for word, index in word_to_idx.items():
        number = as_integer(index)
        if not isinstance(word, str) or number is None or number < 0:
            raise ValueError(f"word_to_idx must map words (str) to integer indices >= 0, got "
                             f"{word!r}: {index!r}")
        vocab[word] = number
    if len(set(vocab.values())) != len(vocab):
        raise ValueError("word_to_idx must give each word its own index; some indices repeat")
    if "<NULL>" not in vocab:
        raise ValueError("word_to_idx must hold the padding word '<NULL>'")
    return vocab


def _cell_type(value: Any) -> str:
    if value not in _GATES:
        raise ValueError(f"cell_type must be 'rnn' or 'lstm', got {value!r}")
    return value


class CaptioningRNN(Model):
    """Captions from image features: features -> initial hidden state -> RNN/LSTM -> words.

    Parameters
    ----------
    word_to_idx : dict
        The vocabulary ``{word: index}`` of V words with indices 0..V-1; it must hold
        ``'<NULL>'`` (padding) and, for :meth:`sample`, ``'<START>'``.
    input_dim : int
        D, the size of an image feature vector.
    wordvec_dim : int
        W, the size of a word vector.
    hidden_dim : int
        H, the size of the hidden state.
    cell_type : str
        ``'rnn'`` (tanh) or ``'lstm'``.
    dtype : str or dtype
        float32 (default) or float64 (for gradient checks): the initial parameters' dtype.
    seed : int or None, keyword-only
        Seed of the initial weights (NumPy's global state is left alone); None draws them
        from NumPy's global random state in the course's order.

    ``params``: W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, G*H), Wh (H, G*H),
    b (G*H,), W_vocab (H, V), b_vocab (V,), with G = 1 for 'rnn' and 4 for 'lstm'. There is
    no regularisation, as in the course.
    """

    def __init__(
        self,
        word_to_idx: Mapping[str, int],
        input_dim: int = 512,
        wordvec_dim: int = 128,
        hidden_dim: int = 128,
        cell_type: str = "rnn",
        dtype: Any = np.float32,
        *,
        seed: int | None = None,
    ) -> None:
        vocab = check_vocabulary(word_to_idx)
        dims = {name: check_positive_int(name, value) for name, value in
                (("input_dim", input_dim), ("wordvec_dim", wordvec_dim),
                 ("hidden_dim", hidden_dim))}
        super().__init__({"word_to_idx": vocab, **dims, "cell_type": _cell_type(cell_type),
                          "dtype": dtype, "seed": seed})
        self.cell_type = cell_type
        self.word_to_idx = vocab
        self.idx_to_word = {i: w for w, i in vocab.items()}
        self._null = vocab["<NULL>"]
        self._start = vocab.get("<START>")
        self._end = vocab.get("<END>")
        rng = weight_rng(seed)
        shapes = self.param_shapes(self._config)
        d, w, h = dims["input_dim"], dims["wordvec_dim"], dims["hidden_dim"]
        # The course's draws, in its order: W_embed, W_proj, Wx, Wh, W_vocab.
        scales = {"W_embed": 100.0, "W_proj": math.sqrt(d), "Wx": math.sqrt(w),
                  "Wh": math.sqrt(h), "W_vocab": math.sqrt(h)}
        drawn = {name: rng.standard_normal(shapes[name]) / scale
                 for name, scale in scales.items()}
        self.params = {name: (drawn[name] if name in drawn else np.zeros(shape))
                       .astype(self.dtype) for name, shape in shapes.items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items() if k != "word_to_idx")
        return f"{type(self).__name__}(<{len(self.word_to_idx)} words>, {args}) on {self.device}"

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Parameter shapes of ``CaptioningRNN(**config)`` (see :meth:`Model.param_shapes`)."""
        v = len(check_vocabulary(config.get("word_to_idx")))
        d = check_positive_int("input_dim", config.get("input_dim", 512))
        w = check_positive_int("wordvec_dim", config.get("wordvec_dim", 128))
        h = check_positive_int("hidden_dim", config.get("hidden_dim", 128))
        g = _GATES[_cell_type(config.get("cell_type", "rnn"))] * h
        return {"W_embed": (v, w), "W_proj": (d, h), "b_proj": (h,), "Wx": (w, g),
                "Wh": (h, g), "b": (g,), "W_vocab": (h, v), "b_vocab": (v,)}

    def _captions(self, xp: Any, captions: Any, name: str = "captions") -> None:
        first = self.params["W_embed"]
        get_array_module(**{name: captions, "the model's W_embed": first})
        if captions.ndim != 2 or captions.shape[1] < 2:
            raise ValueError(f"CaptioningRNN.loss: {name} must have shape (N, T + 1) with "
                             f"T >= 1, got shape {tuple(captions.shape)}")

    def loss(  # type: ignore[override]  # the course's (features, captions), not (X, y)
        self, features: Any, captions: Any
    ) -> tuple[Any, dict[str, Any]]:
        """Masked softmax loss of predicting each caption's next word, and its gradients.

        Parameters
        ----------
        features : array, shape (N, D)
            Image features, on the model's device.
        captions : integer array, shape (N, T + 1)
            Word indices starting with ``<START>``; ``<NULL>`` words are not predicted.

        Returns
        -------
        loss : 0-d array
            Summed over time, averaged over the N captions.
        grads : dict
            The gradient of every parameter, keyed as ``params``.
        """
        p = self.params
        xp = self.namespace()
        features = self.cast_input(xp, features)
        self._captions(xp, captions)
        if features.shape[0] != captions.shape[0]:
            raise ValueError(f"CaptioningRNN.loss: features hold {features.shape[0]} images "
                             f"but captions hold {captions.shape[0]} captions")
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        forward: Any = rnn_forward if self.cell_type == "rnn" else lstm_forward
        backward: Any = rnn_backward if self.cell_type == "rnn" else lstm_backward
        h0, h0_cache = affine_forward(features, p["W_proj"], p["b_proj"])
        words, words_cache = word_embedding_forward(captions_in, p["W_embed"])
        h, h_cache = forward(words, h0, p["Wx"], p["Wh"], p["b"])
        scores, scores_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
        grads: dict[str, Any] = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, scores_cache)
        dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, h_cache)
        grads["W_embed"] = word_embedding_backward(dwords, words_cache)
        _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, h0_cache, compute_dx=False)
        return loss, {name: grads[name] for name in p}

    def sample(self, features: Any, max_length: int = 30) -> Any:
        """Greedy captions: from ``<START>``, feed back the highest-scoring word each step.

        Parameters
        ----------
        features : array, shape (N, D)
            On the model's device; a host NumPy array is moved to a GPU model's device (as
            :meth:`Model.predict` does), so the course's notebooks sample unchanged after
            training on a GPU.
        max_length : int
            T, the number of words generated (the course does not stop at ``<END>``).

        Returns
        -------
        captions : int32 array, shape (N, T), on the model's device
            The sampled words, not including ``<START>``.
        """
        max_length = check_positive_int("max_length", max_length)
        if self._start is None:
            raise ValueError("CaptioningRNN.sample needs '<START>' in word_to_idx")
        p = self.params
        xp = self.namespace()
        if is_numpy_array(features) and is_cupy_array(p["W_proj"]):
            features = to_device(features, self.device)  # as predict does
        features = self.cast_input(xp, features)
        h, _ = affine_forward(features, p["W_proj"], p["b_proj"])
        c = xp.zeros_like(h)
        word = xp.full((features.shape[0],), self._start, dtype=xp.int64,
                       device=features.device)
        words = []
        for _ in range(max_length):
            x, _ = word_embedding_forward(word, p["W_embed"])
            if self.cell_type == "rnn":
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            else:
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            scores, _ = affine_forward(h, p["W_vocab"], p["b_vocab"])
            word = xp.argmax(scores, axis=1)
            words.append(word)
        return xp.astype(xp.stack(words, axis=1), xp.int32)
