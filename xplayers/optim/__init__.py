"""First-order update rules (the course's ``optim.py``): ``next_w, config = rule(w, dw, config)``.

Every rule works on any array library and device; its state lives in ``config`` beside ``w``.
"""

from .multi_tensor import update_all
from .rules import (
    OPTIMIZERS,
    adam,
    adamw,
    get_optimizer,
    optimizer_names,
    rmsprop,
    sgd,
    sgd_momentum,
    sgd_nesterov_momentum,
)

__all__ = [
    "OPTIMIZERS",
    "adam",
    "adamw",
    "get_optimizer",
    "optimizer_names",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "sgd_nesterov_momentum",
    "update_all",
]
