"""What the Solver does when the training loss becomes NaN or infinite.

The Solver reads its losses from the device in batches (:meth:`Solver._flush_losses`) and
calls its ``on_divergence(solver, loss_value, iteration)`` at the first non-finite one. The
default, :func:`restore_best_and_raise`, stops training with :class:`TrainingDiverged`; a
handler that returns instead lets training carry on (a subclass sets ``on_divergence =
staticmethod(handler)``, or an instance gets ``solver.on_divergence = handler``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["DivergenceHandler", "TrainingDiverged", "first_non_finite",
           "restore_best_and_raise", "warn_once_and_carry_on"]

#: ``handler(solver, loss_value, iteration)``: ``iteration`` counts from 1, and
#: ``solver.loss_history[iteration - 1]`` is ``loss_value``.
DivergenceHandler = Callable[[Any, float, int], None]


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the model holds its best parameters."""


def first_non_finite(values: Sequence[float]) -> int | None:
    """Index of the first NaN or infinite value in ``values`` (None when all are finite)."""
    for index, value in enumerate(values):
        if not math.isfinite(value):
            return index
    return None


def restore_best_and_raise(solver: Any, loss_value: float, iteration: int) -> None:
    """Drop the losses from ``iteration`` on, restore the best parameters and running
    statistics, then raise :class:`TrainingDiverged` saying what to try."""
    del solver.loss_history[iteration - 1:]
    solver._restore_best()
    lr = next(iter(solver.optim_configs.values())).get("learning_rate")
    raise TrainingDiverged(
        f"the training loss became {loss_value} at iteration {iteration} "
        f"(epoch {solver.epoch + 1}); the model now holds the best parameters and running "
        f"statistics so far (val acc {solver.best_val_acc:.4f}). Try a smaller learning "
        f"rate (now {lr}) or weight_scale."
    )


def warn_once_and_carry_on(solver: Any, loss_value: float, iteration: int) -> None:
    """The course's behaviour: one ``RuntimeWarning`` per run, then training and recording go
    on (the model ends at the parameters with the best validation accuracy)."""
    if getattr(solver, "_warned_divergence", False):
        return
    solver._warned_divergence = True
    warnings.warn(f"the training loss became {loss_value} at iteration {iteration} "
                  f"(epoch {solver.epoch + 1}); training goes on, as in the course",
                  RuntimeWarning, stacklevel=2)
