"""The course's ``cs231n.gradient_check``: xplayers' numerical gradients, for any backend.

``rel_error``, which the course's notebooks define themselves, is here too. Not provided:
``eval_numerical_gradient_blobs`` and ``eval_numerical_gradient_net`` (for Caffe-style blob
objects, which no assignment notebook of this package's scope uses).
"""

from ..gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "rel_error",
]
