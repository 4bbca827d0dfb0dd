"""First-order update rules (the course's ``optim.py``): ``next_w, config = rule(w, dw, config)``.

Every rule works on any array library and device; its state lives in ``config`` beside ``w``.
Each is one spec (:mod:`xplayers.optim.specs`) and one public function
(:mod:`xplayers.optim.rules`), re-exported here from the registry; :func:`update_all` updates
every parameter of a model at once (one launch per step on CuPy).
"""

from . import rules
from .multi_tensor import update_all
from .rules import *  # noqa: F403 -- every registered rule, OPTIMIZERS, get_optimizer, ...

__all__ = [*rules.__all__, "update_all"]
