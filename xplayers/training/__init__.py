"""Training: the :class:`Solver` loop, its batches and resumable state, and :func:`run_training`
(one whole run from plain settings, as ``xplayers train`` does it)."""

from .captioning_solver import CaptioningSolver
from .experiment import TrainConfig, TrainResult, run_training
from .solver import Solver, TrainingDiverged

__all__ = [
    "CaptioningSolver",
    "Solver",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "run_training",
]
