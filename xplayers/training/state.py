"""What a Solver checkpoint holds beyond the model, and checking it when it is read back.

Arrays: ``optim/<param>/<key>`` (each parameter's optimizer state: velocity, cache, m, v),
``best/<param>`` and ``best_state/<statistic>`` (the best parameters and running statistics
so far). JSON, under ``extra['solver']``: the Solver's settings, its position (epoch,
iteration, histories, best validation accuracy), the optimizers' scalar settings
(learning_rate, t, ...) and the minibatch generator's state.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.checkpoint import check_arrays

SETTINGS = ("update_rule", "lr_decay", "batch_size", "num_epochs", "num_train_samples",
            "num_val_samples", "print_every", "seed")
HISTORIES = ("loss_history", "train_acc_history", "val_acc_history", "val_loss_history")


@dataclass
class TrainingState:
    """A Solver's position, read from a checkpoint and checked against its model."""

    settings: dict[str, Any]
    epoch: int
    histories: dict[str, list[float]]
    best_val_acc: float
    rng_state: dict[str, Any]
    optim_configs: dict[str, dict[str, Any]]
    best_params: dict[str, np.ndarray]
    best_state: dict[str, np.ndarray]


def pack(solver: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(json_info, arrays)`` describing ``solver``'s position, to store beside the model."""
    scalars: dict[str, dict[str, Any]] = {}
    arrays: dict[str, Any] = {}
    for name, config in solver.optim_configs.items():
        scalars[name] = {}
        for key, value in config.items():
            if isinstance(value, (bool, numbers.Number)):
                scalars[name][key] = value.item() if isinstance(value, np.generic) else value
            else:
                arrays[f"optim/{name}/{key}"] = value
    arrays.update({f"best/{k}": v for k, v in solver.best_params.items()})
    arrays.update({f"best_state/{k}": v for k, v in solver.best_state.items()})
    random_state = getattr(solver.model, "random_state", None)
    info = {
        "model_random_state": random_state() if callable(random_state) else [],
        "settings": {key: getattr(solver, key) for key in SETTINGS},
        "epoch": solver.epoch,
        "best_val_acc": solver.best_val_acc,
        "rng_state": solver.sampler.rng_state,
        "optim_scalars": scalars,
        **{key: list(getattr(solver, key)) for key in HISTORIES},
    }
    rule = solver.update_rule_name
    info["settings"]["update_rule"] = rule if isinstance(rule, str) else None
    return info, arrays


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"{where}: its training state {problem}")


def _number_list(where: str, name: str, value: Any) -> list[float]:
    if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise _fail(where, f"has a {name} that is not a list of numbers")
    return [float(v) for v in value]


def unpack(where: str, meta: dict[str, Any], entries: dict[str, np.ndarray],
           model: Any) -> TrainingState:
    """The checked :class:`TrainingState` in a checkpoint's ``meta`` and ``entries``.

    Also sets ``model``'s dropout streams to their saved state.

    Raises ``ValueError`` naming ``where`` when the state is missing or does not fit
    ``model`` (the model rebuilt from the same file).
    """
    info = meta["extra"].get("solver")
    if not isinstance(info, dict):
        raise ValueError(f"{where} holds a model but no training state (it was not written "
                         "by a Solver with checkpoint_name)")
    settings = info.get("settings")
    if not isinstance(settings, dict) or set(settings) != set(SETTINGS):
        raise _fail(where, f"needs the settings {list(SETTINGS)}")
    epoch = info.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise _fail(where, f"has epoch {epoch!r}, expected an integer >= 0")
    histories = {key: _number_list(where, key, info.get(key)) for key in HISTORIES}
    if len(histories["val_acc_history"]) not in ({epoch + 1} if epoch else {0, 1}):
        raise _fail(where, f"has {len(histories['val_acc_history'])} validation accuracies "
                           f"for epoch {epoch} (expected {epoch + 1})")
    best = info.get("best_val_acc")
    if not isinstance(best, (int, float)) or isinstance(best, bool) or not math.isfinite(best):
        raise _fail(where, f"has best_val_acc {best!r}, expected a number")
    rng_state = info.get("rng_state")
    if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != "PCG64":
        raise _fail(where, "has no PCG64 generator state")
    try:
        np.random.default_rng().bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(where, f"has a bad generator state ({exc})") from None

    model_random_state = info.get("model_random_state", [])
    try:
        model.set_random_state(model_random_state)
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(where, f"has a bad dropout generator state ({exc})") from None

    params = model.params
    shapes = {k: tuple(v.shape) for k, v in params.items()}
    best_params = {n[5:]: a for n, a in entries.items() if n.startswith("best/")}
    check_arrays(where, "best parameters", best_params, shapes)
    best_state = {n[11:]: a for n, a in entries.items() if n.startswith("best_state/")}
    if best_state:
        check_arrays(where, "best running statistics", best_state, model.state_shapes())
    scalars = info.get("optim_scalars")
    if not isinstance(scalars, dict) or set(scalars) != set(params):
        raise _fail(where, f"needs optimizer settings for each parameter {sorted(params)}")
    configs: dict[str, dict[str, Any]] = {}
    for name, values in scalars.items():
        if not isinstance(values, dict) or not all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in values.values()):
            raise _fail(where, f"has bad optimizer settings for {name!r}")
        configs[name] = dict(values)
    for entry, array in entries.items():
        if not entry.startswith("optim/"):
            continue
        parts = entry.split("/")
        if len(parts) != 3 or parts[1] not in params:
            raise _fail(where, f"has an optimizer entry {entry!r} for no parameter")
        check_arrays(where, "optimizer state", {entry: array}, {entry: shapes[parts[1]]})
        configs[parts[1]][parts[2]] = array.astype(model.dtype, copy=False)
    return TrainingState(settings=settings, epoch=epoch, histories=histories,
                         best_val_acc=float(best), rng_state=rng_state,
                         optim_configs=configs, best_params=best_params,
                         best_state=best_state)
