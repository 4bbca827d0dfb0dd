"""The course's ``cs231n.solver``: xplayers' :class:`~xplayers.solver.Solver`."""

from ..solver import Solver

__all__ = ["Solver"]
