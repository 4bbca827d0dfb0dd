"""Old import path: ``from xplayers.solver import Solver`` (now in ``xplayers.training``)."""

from .training.solver import Solver, TrainingDiverged

__all__ = ["Solver", "TrainingDiverged"]
