"""The course's ``cs231n.solver``: xplayers' :class:`~xplayers.solver.Solver`, course behaviour.

One difference from :class:`xplayers.solver.Solver`: a run whose loss becomes NaN or infinite
goes on, as the course's Solver does (the 2023 two-layer-net notebook's search reaches such
learning rates): one ``RuntimeWarning``, then the losses and accuracies are recorded as they
come and the model ends at the parameters with the best validation accuracy.
"""

from ..training.divergence import warn_once_and_carry_on
from ..training.solver import Solver as _Solver

__all__ = ["Solver"]


class Solver(_Solver):
    """:class:`xplayers.solver.Solver` that carries on through a diverging run (the course's)."""

    on_divergence = staticmethod(warn_once_and_carry_on)
