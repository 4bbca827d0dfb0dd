"""The course's ``cs231n.rnn_layers``: xplayers' recurrent layers under the course's names.

Everything here is :mod:`xplayers.layers`; ``sigmoid(x)`` is the LSTM's own (overflow-free)
sigmoid with the course's one-argument signature, and ``affine_forward``/``affine_backward``
are there because the course's file defines them too.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..layers import (
    affine_backward,
    affine_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from ..layers import lstm as _lstm

__all__ = [
    "affine_backward",
    "affine_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sigmoid",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "word_embedding_backward",
    "word_embedding_forward",
]


def sigmoid(x: Any) -> Any:
    """The logistic sigmoid ``1 / (1 + exp(-x))`` of an array of any backend, for any ``x``."""
    return _lstm.sigmoid(get_array_module(x=x), x)
