"""The course's ``cs231n.optim``: xplayers' update rules (``(w, dw, config) -> (w, config)``)."""

from ..optim.rules import adam, rmsprop, sgd, sgd_momentum, sgd_nesterov_momentum

__all__ = ["adam", "rmsprop", "sgd", "sgd_momentum", "sgd_nesterov_momentum"]
