"""A Solver's resumable state: what it saves beside the model, and putting it back.

The file layout belongs to :mod:`xplayers.checkpoint.format`; this module turns a Solver
into a :class:`~xplayers.checkpoint.format.TrainingRecord` and back, checking a record read
from a file against the model rebuilt from the same file.
"""

from __future__ import annotations

import numbers
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.devices import device_name, to_device
from ..backend.namespace import get_array_module, is_cupy_array
from ..checkpoint import format as checkpoint_format
from ..checkpoint.format import HISTORIES, SETTINGS, TrainingRecord, check_arrays

__all__ = ["HISTORIES", "SETTINGS", "TrainingState", "load", "pack", "restore",
           "resumed_checkpoint_name", "save", "unpack"]

#: Old name of :class:`~xplayers.checkpoint.format.TrainingRecord`.
TrainingState = TrainingRecord


def pack(solver: Any) -> TrainingRecord:
    """``solver``'s position (optimizer state, histories, best so far, generators)."""
    scalars: dict[str, dict[str, Any]] = {}
    arrays: dict[str, dict[str, Any]] = {}
    for name, config in solver.optim_configs.items():
        scalars[name], arrays[name] = {}, {}
        for key, value in config.items():
            if isinstance(value, (bool, numbers.Number)):
                scalars[name][key] = value.item() if isinstance(value, np.generic) else value
            else:
                arrays[name][key] = value
    random_state = getattr(solver.model, "random_state", None)
    settings = {key: getattr(solver, key) for key in SETTINGS}
    rule = solver.update_rule_name
    settings["update_rule"] = rule if isinstance(rule, str) else None
    return TrainingRecord(
        settings=settings, epoch=solver.epoch,
        histories={key: list(getattr(solver, key)) for key in HISTORIES},
        best_val_acc=solver.best_val_acc, rng_state=solver.sampler.rng_state,
        model_random_state=random_state() if callable(random_state) else [],
        optim_scalars=scalars, optim_arrays=arrays, best_params=dict(solver.best_params),
        best_state=dict(solver.best_state))


def save(solver: Any, path: str | os.PathLike[str]) -> None:
    """Write ``solver``'s model and position to ``path`` (atomically)."""
    rule = solver.update_rule_name
    label = rule if isinstance(rule, str) else getattr(rule, "__name__", "custom")
    extra, arrays = checkpoint_format.training_contents(pack(solver), solver.checkpoint_extra,
                                                        label)
    checkpoint_format.write(path, solver.model, extra=extra, arrays=arrays)


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"{where}: its training state {problem}")


def unpack(where: str, meta: dict[str, Any], entries: dict[str, np.ndarray],
           model: Any) -> TrainingRecord:
    """The checked record in a checkpoint's ``meta`` and ``entries``, fitted to ``model``.

    Also sets ``model``'s dropout streams to their saved state; the optimizer arrays come
    back in ``model``'s dtype.

    Raises ``ValueError`` naming ``where`` when the state is missing or does not fit
    ``model`` (the model rebuilt from the same file).
    """
    record = checkpoint_format.training_record(where, meta, entries)
    try:
        np.random.default_rng().bit_generator.state = record.rng_state
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(where, f"has a bad generator state ({exc})") from None
    try:
        model.set_random_state(record.model_random_state)
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(where, f"has a bad dropout generator state ({exc})") from None

    shapes = {k: tuple(v.shape) for k, v in model.params.items()}
    check_arrays(where, "best parameters", record.best_params, shapes)
    if record.best_state:
        check_arrays(where, "best running statistics", record.best_state,
                     model.state_shapes())
    if set(record.optim_scalars) != set(shapes):
        raise _fail(where, f"needs optimizer settings for each parameter {sorted(shapes)}")
    for name, values in record.optim_arrays.items():
        if name not in shapes:
            entry = checkpoint_format.entry(checkpoint_format.OPTIM, name, next(iter(values)))
            raise _fail(where, f"has an optimizer entry {entry!r} for no parameter")
        for key, array in values.items():
            entry = checkpoint_format.entry(checkpoint_format.OPTIM, name, key)
            check_arrays(where, "optimizer state", {entry: array}, {entry: shapes[name]})
            values[key] = array.astype(model.dtype, copy=False)
    return record


def load(path: str | os.PathLike[str]) -> tuple[Any, TrainingRecord, dict[str, Any]]:
    """``(host model, checked record, user extra)`` of the Solver checkpoint at ``path``."""
    from ..models.checkpoint import build_model

    meta, entries = checkpoint_format.read(path)
    model = build_model(path, meta, entries)
    record = unpack(f"checkpoint {str(path)!r}", meta, entries, model)
    return model, record, checkpoint_format.user_extra(meta)


def restore(solver: Any, record: TrainingRecord) -> None:
    """Put ``record`` (from :func:`unpack`) into ``solver``, on its model's device."""
    solver.epoch = record.epoch
    for key, values in record.histories.items():
        setattr(solver, key, list(values))
    solver.best_val_acc = record.best_val_acc
    solver.sampler.rng_state = record.rng_state
    params, dtype = solver.model.params, solver.model.dtype
    solver.optim_configs = {
        name: beside(params, {**scalars, **record.optim_arrays.get(name, {})})
        for name, scalars in record.optim_scalars.items()}
    solver.best_params = beside(params, {k: v.astype(dtype) for k, v in
                                         record.best_params.items()})
    solver.best_state = beside(params, {k: v.astype(dtype) for k, v in
                                        record.best_state.items()})


def beside(params: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values``' host arrays moved to the library and device of ``params`` (scalars kept)."""
    first = next(iter(params.values()))
    if isinstance(first, np.ndarray):
        return dict(values)
    if is_cupy_array(first):
        return to_device(dict(values), device_name(first))
    xp = get_array_module(first)
    return {k: xp.asarray(v, device=first.device) if isinstance(v, np.ndarray) else v
            for k, v in values.items()}


def resumed_checkpoint_name(path: str | os.PathLike[str], epoch: int) -> str | None:
    """The prefix of ``{prefix}_epoch_{epoch}.npz`` (None for a file named otherwise).

    A folder the resumed run cannot write to gives a warning and None.
    """
    match = re.fullmatch(rf"(.+)_epoch_{epoch}\.npz", os.fspath(path))
    if match is None:
        return None
    prefix = match.group(1)
    folder = Path(prefix).parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        warnings.warn(f"the resumed run writes no checkpoints: the folder {str(folder)!r} of "
                      f"{os.fspath(path)!r} is not writable; pass checkpoint_name=",
                      stacklevel=4)
        return None
    return prefix
