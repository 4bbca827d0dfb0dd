"""The course's ``cs231n.solver``: xplayers' :class:`~xplayers.solver.Solver`."""

from ..training.solver import Solver

__all__ = ["Solver"]
