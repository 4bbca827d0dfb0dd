"""The course's ``cs231n.layers``, with dropout's ``p`` = probability of KEEPING a unit.

Every function is xplayers' own (:mod:`xplayers.layers`), under the course's names: the
``*_naive`` conv and pool names are xplayers' conv and pool layers. Only dropout differs: as in
the course's notebooks from 2019 on, ``dropout_param['p']`` is the keep probability
(1 = no dropout), converted to xplayers' drop probability ``1 - p`` before the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    dropout_backward,
    layernorm_backward,
    layernorm_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
    svm_loss,
)
from ..layers import dropout_forward as _dropout_forward
from ._dropout import drop_param

conv_forward_naive = conv_forward
conv_backward_naive = conv_backward
max_pool_forward_naive = max_pool_forward
max_pool_backward_naive = max_pool_backward

__all__ = [
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "conv_backward",
    "conv_backward_naive",
    "conv_forward",
    "conv_forward_naive",
    "dropout_backward",
    "dropout_forward",
    "layernorm_backward",
    "layernorm_forward",
    "max_pool_backward",
    "max_pool_backward_naive",
    "max_pool_forward",
    "max_pool_forward_naive",
    "relu_backward",
    "relu_forward",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
    "svm_loss",
]


def dropout_forward(x: Any, dropout_param: Mapping[str, Any]) -> tuple[Any, Any]:
    """Inverted dropout with ``dropout_param['p']`` = probability of KEEPING a unit (course).

    Parameters
    ----------
    x : array, any shape
    dropout_param : dict
        ``p``: keep probability in (0, 1], 1 = no dropout (required); ``mode``: 'train' or
        'test' (required); ``seed``: as for :func:`xplayers.layers.dropout_forward` (the
        mask is reproducible but not the course's: NumPy's global state is never touched).

    Returns
    -------
    out : array, shape and dtype of x
    cache : array or None
        For :func:`dropout_backward`.
    """
    return _dropout_forward(x, drop_param("dropout_forward", dropout_param))
