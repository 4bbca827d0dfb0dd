"""One trial: an ordinary ``xplayers train`` run with settings drawn from the search space."""

from __future__ import annotations

import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..training.experiment import TrainConfig, run_training, saved_model_extra
from ..training.solver import Solver, TrainingDiverged
from .space import SearchSpace, to_train_settings
from .storage import worker_identity

__all__ = ["OBJECTIVES", "TrialObjective", "checkpoint_extra"]

# objective name -> (direction, the per-epoch value reported for pruning)
OBJECTIVES = {
    "val_accuracy": ("maximize", lambda s: s.val_acc_history[-1]),
    "train_accuracy": ("maximize", lambda s: s.train_acc_history[-1]),
    "final_loss": ("minimize", lambda s: s.loss_history[-1]),
}
METRICS = ("train_accuracy", "val_accuracy", "test_accuracy", "final_loss", "seconds",
           "iterations")


def checkpoint_extra(config: TrainConfig, report: Mapping[str, Any]) -> dict[str, Any]:
    """What ``xplayers train --save`` stores beside a model (so ``xplayers evaluate`` works)."""
    return saved_model_extra(config, dict(report))


@dataclass
class TrialObjective:
    """Callable for ``study.optimize``: trains one model and returns the objective.

    Parameters
    ----------
    space : SearchSpace
    base : dict
        ``TrainConfig`` fields every trial shares (dataset, data_dir, seed).
    objective : str
        A key of :data:`OBJECTIVES`.
    device : str
        Where this worker trains.
    checkpoint_dir : Path or None
        A trial that beats every finished one saves its model here as ``trial_N.npz``.
    """

    space: SearchSpace
    base: dict[str, Any]
    objective: str
    device: str
    checkpoint_dir: Path | None = None

    def __call__(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", worker_identity())
        trial.set_user_attr("device", self.device)
        settings = to_train_settings(self.space.suggest(trial))
        config = TrainConfig(**{**self.base, **settings, "device": self.device,
                                "verbose": False})
        direction, per_epoch = OBJECTIVES[self.objective]

        def report(solver: Solver) -> None:
            trial.report(float(per_epoch(solver)), solver.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {solver.epoch}")

        try:
            result = run_training(config, epoch_callback=report)
        except TrainingDiverged as exc:
            trial.set_user_attr("diverged", str(exc).split(";")[0])
            raise optuna.TrialPruned(f"diverged: {exc}") from exc
        for name in METRICS:
            trial.set_user_attr(name, result.report[name])
        value = float(result.report[self.objective])
        if not math.isfinite(value):
            raise optuna.TrialPruned(f"{self.objective} is {value}")
        if self.checkpoint_dir is not None and _beats_finished(trial.study, value, direction):
            self._save(trial, config, result)
        return value

    def _save(self, trial: Any, config: TrainConfig, result: Any) -> None:
        from ..models.checkpoint import save_model

        assert self.checkpoint_dir is not None  # only called when checkpoints are kept
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        path = (self.checkpoint_dir / f"trial_{trial.number}.npz").resolve()
        extra = checkpoint_extra(config, result.report)
        extra["sweep"] = {"study": trial.study.study_name, "trial": trial.number}
        save_model(result.model, path, extra=extra)
        trial.set_user_attr("checkpoint", f"{socket.gethostname()}:{path}")


def _beats_finished(study: Any, value: float, direction: str) -> bool:
    try:
        best = study.best_value
    except ValueError:  # no trial has completed yet
        return True
    return value > best if direction == "maximize" else value < best
