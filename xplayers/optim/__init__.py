"""First-order update rules (the course's ``optim.py``): ``next_w, config = rule(w, dw, config)``.

Every rule works on any array library and device; its state lives in ``config`` beside ``w``.
"""

from .rules import (
    OPTIMIZERS,
    adam,
    get_optimizer,
    rmsprop,
    sgd,
    sgd_momentum,
    sgd_nesterov_momentum,
)

__all__ = [
    "OPTIMIZERS",
    "adam",
    "get_optimizer",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "sgd_nesterov_momentum",
]
