"""The course's layers: ``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache)``.

Every function takes arrays of one backend (NumPy, CuPy, PyTorch or any Array API library)
and returns arrays of that backend, on the same device. Dtypes, one policy for every layer
(:func:`xplayers._checks.promote`): a forward computes in ``result_type`` of its floating
inputs (all float32 stays float32; float32 with float64 gives float64) and integer parameters
take that floating dtype; a backward casts ``dout`` to the dtype its forward computed in and
returns each gradient in the dtype of its forward input (an integer input's gradient in the
computed dtype).
"""

from .affine import affine_backward, affine_forward
from .avg_pool import avg_pool_backward, avg_pool_forward
from .batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from .conv import conv_backward, conv_forward, set_blas_threads
from .dropout import dropout_backward, dropout_forward
from .layernorm import layernorm_backward, layernorm_forward
from .leaky_relu import leaky_relu_backward, leaky_relu_forward
from .losses import softmax_loss, svm_loss
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .pooling import max_pool_backward, max_pool_forward
from .relu import relu_backward, relu_forward
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .spatial_norm import (
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from .temporal import temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss
from .word_embedding import word_embedding_backward, word_embedding_forward

__all__ = [
    "affine_backward",
    "affine_forward",
    "avg_pool_backward",
    "avg_pool_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "conv_backward",
    "conv_forward",
    "dropout_backward",
    "dropout_forward",
    "layernorm_backward",
    "layernorm_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "max_pool_backward",
    "max_pool_forward",
    "relu_backward",
    "relu_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "set_blas_threads",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
    "svm_loss",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "word_embedding_backward",
    "word_embedding_forward",
]
