"""The checkpoint file format: its layout, its version, reading, writing and upgrading.

Every other module reads and writes checkpoints through this one, so each key below is
spelled here only. A checkpoint is an ``.npz`` archive (no pickle) of host arrays:

=========================  ==============================================================
entry                      holds
=========================  ==============================================================
``__meta__``               one JSON string: ``format`` (:data:`FORMAT`), ``version``
                           (:data:`VERSION`), ``class`` (the model class), ``config`` (its
                           constructor arguments) and ``extra`` (a dict, below)
``param/<name>``           each model parameter
``state/<name>``           each running statistic
``optim/<param>/<key>``    Solver: each parameter's optimizer arrays (velocity, m, v, ...)
``best/<name>``            Solver: the best parameters so far
``best_state/<name>``      Solver: the running statistics that went with them
=========================  ==============================================================

``extra`` is free-form JSON for plain model files (``xplayers train --save`` and the sweeps
store :func:`run_description` there). A Solver checkpoint stores its training record under
``extra['solver']`` (:class:`TrainingRecord`), the Solver's ``checkpoint_extra`` under
``extra['user']`` and, for people reading the file, a summary (:data:`SUMMARY`).

To change the layout: bump :data:`VERSION` and add ``UPGRADES[old] = upgrade_from_v<old>``,
a function turning a version-``old`` ``(meta, entries)`` into version ``old + 1``; files of
every earlier version keep loading (CONTRIBUTING.md, "Change the checkpoint format").
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.devices import to_numpy
from .atomic import atomic_write
from .npz import read_members

FORMAT = "xplayers-checkpoint"
VERSION = 1

# __meta__ and its keys
META = "__meta__"
FORMAT_KEY, VERSION_KEY, CLASS, CONFIG, EXTRA = "format", "version", "class", "config", "extra"
# entry groups: "<group>/<name>"
PARAM, STATE, OPTIM, BEST, BEST_STATE = "param", "state", "optim", "best", "best_state"
GROUPS = (PARAM, STATE, OPTIM, BEST, BEST_STATE)
# extra of a Solver checkpoint
SOLVER, USER, TRAIN_SETTINGS = "solver", "user", "train_settings"
SETTINGS = ("update_rule", "lr_decay", "batch_size", "num_epochs", "num_train_samples",
            "num_val_samples", "print_every", "seed")
HISTORIES = ("loss_history", "train_acc_history", "val_acc_history", "val_loss_history")
SUMMARY = ("update_rule", "lr_decay", "batch_size", "num_epochs", "epoch", "loss_history",
           "train_acc_history", "val_acc_history")
# extra of a model file written by ``xplayers train --save`` or a sweep
DATASET, DATA_DIR, DATA_OPTIONS, REPORT = "dataset", "data_dir", "data_options", "report"

Upgrade = Callable[[dict[str, Any], dict[str, np.ndarray]],
                   tuple[dict[str, Any], dict[str, np.ndarray]]]
#: ``UPGRADES[n]`` turns a version-n ``(meta, entries)`` into version n + 1.
UPGRADES: dict[int, Upgrade] = {}


def entry(group: str, *names: str) -> str:
    """The archive entry ``group/name[/key]``."""
    return "/".join((group, *names))


def group(entries: Mapping[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The arrays of group ``name``, keyed by what follows ``name/``."""
    prefix = f"{name}/"
    return {n[len(prefix):]: a for n, a in entries.items() if n.startswith(prefix)}


# -- writing ---------------------------------------------------------------------------------
def write(path: str | os.PathLike[str], model: Any, extra: Mapping[str, Any] | None = None,
          arrays: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` (its class, config, params and state) and ``arrays`` to ``path``.

    Atomic: a temporary file beside ``path`` is renamed over it once complete, so a failed
    save leaves any previous file intact. ``arrays`` are more entries (host or device),
    keyed by entry name (see :func:`entry`).
    """
    meta = {FORMAT_KEY: FORMAT, VERSION_KEY: VERSION, CLASS: type(model).__name__,
            CONFIG: model.config, EXTRA: dict(extra or {})}
    entries = {entry(PARAM, k): v for k, v in to_numpy(model.params).items()}
    entries.update({entry(STATE, k): v for k, v in to_numpy(model.state()).items()})
    entries.update(to_numpy(dict(arrays or {})))
    entries[META] = np.array(json.dumps(meta, allow_nan=False))
    atomic_write(path, lambda handle: np.savez(handle, **entries))


# -- reading ---------------------------------------------------------------------------------
def _check_path(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"the checkpoint path {str(path)!r} is a directory")
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")


def _parse_meta(raw: np.ndarray | None) -> dict[str, Any]:
    if raw is None:
        raise ValueError(f"it is an .npz archive but not an xplayers checkpoint (it has no "
                         f"{META} entry)")
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"its {META} entry must be one string, got a {raw.dtype} array "
                         f"of shape {raw.shape}")
    try:
        meta = json.loads(str(raw))
    except ValueError as exc:
        raise ValueError(f"its {META} entry is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get(FORMAT_KEY) != FORMAT:
        raise ValueError("it is not an xplayers checkpoint (format tag missing)")
    version = meta.get(VERSION_KEY)
    if isinstance(version, bool) or version not in range(1, VERSION + 1):
        raise ValueError(f"it has checkpoint version {version!r}; this xplayers reads "
                         f"version {VERSION}" + ("" if VERSION == 1 else " and earlier"))
    return meta


def _check_meta(meta: dict[str, Any]) -> dict[str, Any]:
    for key, kind in ((CLASS, str), (CONFIG, dict), (EXTRA, dict)):
        if not isinstance(meta.get(key, {} if key == EXTRA else None), kind):
            raise ValueError(f"its {META} entry's {key!r} must be a {kind.__name__}, got "
                             f"{meta.get(key)!r}")
    meta.setdefault(EXTRA, {})
    return meta


def upgrade(meta: dict[str, Any], entries: dict[str, np.ndarray]
            ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, entries)`` of any readable version, brought to :data:`VERSION`."""
    while meta[VERSION_KEY] < VERSION:
        meta, entries = UPGRADES[meta[VERSION_KEY]](meta, entries)
    return meta, entries


def read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A checkpoint's metadata and every array in it (host arrays, keyed by entry name),
    upgraded to the current layout.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        For the path itself.
    ValueError
        Naming the file and the problem, for anything wrong inside it.
    """
    path = Path(path)
    _check_path(path)
    try:
        entries = read_members(path)
        meta, entries = upgrade(_parse_meta(entries.pop(META, None)), entries)
        meta = _check_meta(meta)
    except ValueError as exc:
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {exc}") from None
    except Exception as exc:  # zipfile, zlib and struct report damage in many ways
        raise ValueError(f"cannot read checkpoint {str(path)!r}: the file is truncated, "
                         f"corrupt or not an .npz archive ({type(exc).__name__}: {exc})"
                         ) from None
    for name in entries:
        if "/" not in name or name.split("/", 1)[0] not in GROUPS:
            raise ValueError(f"checkpoint {str(path)!r} has an unexpected entry {name!r}")
    return meta, entries


def check_arrays(where: str, what: str, found: Mapping[str, np.ndarray],
                 expected: Mapping[str, tuple[int, ...]]) -> None:
    """Raise ``ValueError`` unless ``found`` has exactly ``expected``'s names and shapes and
    a floating dtype everywhere. ``where`` names the file, ``what`` the group of arrays."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{where}: {what} do not match the model: missing {missing}, "
                         f"unexpected {unexpected}")
    for name, array in found.items():
        if tuple(array.shape) != tuple(expected[name]):
            raise ValueError(f"{where}: {what} do not match the model: {name!r} has shape "
                             f"{tuple(array.shape)}, the model needs {tuple(expected[name])}")
        if array.dtype.kind != "f":
            raise ValueError(f"{where}: {what} {name!r} has dtype {array.dtype}, expected a "
                             "floating dtype")


# -- what a Solver stores --------------------------------------------------------------------
@dataclass
class TrainingRecord:
    """A Solver's position as stored in a checkpoint (host arrays, JSON values)."""

    settings: dict[str, Any]
    epoch: int
    histories: dict[str, list[float]]
    best_val_acc: float
    rng_state: dict[str, Any]
    model_random_state: list[Any]
    optim_scalars: dict[str, dict[str, Any]]
    optim_arrays: dict[str, dict[str, Any]]
    best_params: dict[str, Any]
    best_state: dict[str, Any]


def training_contents(record: TrainingRecord, user: Mapping[str, Any], rule_label: str
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(extra, arrays)`` storing ``record`` and ``user`` beside a model (see :func:`write`).

    ``rule_label`` names the update rule in the summary (a custom function's name).
    """
    info: dict[str, Any]
    info = {"model_random_state": record.model_random_state,
            "settings": dict(record.settings), "epoch": record.epoch,
            "best_val_acc": record.best_val_acc, "rng_state": record.rng_state,
            "optim_scalars": record.optim_scalars,
            **{key: list(record.histories[key]) for key in HISTORIES}}
    summary = {key: info[key] if key in info else info["settings"][key] for key in SUMMARY}
    summary[SETTINGS[0]] = rule_label
    arrays = {entry(OPTIM, name, key): value for name, values in record.optim_arrays.items()
              for key, value in values.items()}
    arrays.update({entry(BEST, k): v for k, v in record.best_params.items()})
    arrays.update({entry(BEST_STATE, k): v for k, v in record.best_state.items()})
    return {**summary, SOLVER: info, USER: dict(user)}, arrays


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"{where}: its training state {problem}")


def _number_list(where: str, name: str, value: Any) -> list[float]:
    if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise _fail(where, f"has a {name} that is not a list of numbers")
    return [float(v) for v in value]


def training_record(where: str, meta: Mapping[str, Any],
                    entries: Mapping[str, np.ndarray]) -> TrainingRecord:
    """The :class:`TrainingRecord` in a checkpoint read by :func:`read`, its structure checked
    (``where`` names the file in errors); whether it fits a model is the caller's to check.
    """
    info = meta[EXTRA].get(SOLVER)
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
    scalars = info.get("optim_scalars")
    if not isinstance(scalars, dict):
        raise _fail(where, "needs optimizer settings for each parameter")
    for name, values in scalars.items():
        if not isinstance(values, dict) or not all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in values.values()):
            raise _fail(where, f"has bad optimizer settings for {name!r}")
    optim_arrays: dict[str, dict[str, Any]] = {}
    for name, array in group(entries, OPTIM).items():
        parts = name.split("/")
        if len(parts) != 2:
            raise _fail(where, f"has an optimizer entry {entry(OPTIM, name)!r} for no "
                               "parameter")
        optim_arrays.setdefault(parts[0], {})[parts[1]] = array
    return TrainingRecord(
        settings=settings, epoch=epoch, histories=histories, best_val_acc=float(best),
        rng_state=rng_state, model_random_state=info.get("model_random_state", []),
        optim_scalars={name: dict(values) for name, values in scalars.items()},
        optim_arrays=optim_arrays, best_params=group(entries, BEST),
        best_state=group(entries, BEST_STATE))


def epochs_done(meta: Mapping[str, Any]) -> Any:
    """The epoch count a Solver checkpoint's summary records (None if none; not checked)."""
    return meta[EXTRA].get("epoch")


def user_extra(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What the Solver's ``checkpoint_extra`` held when the file was written ({} if none)."""
    user = meta[EXTRA].get(USER)
    return dict(user) if isinstance(user, dict) else {}


# -- what ``xplayers train`` stores ----------------------------------------------------------
def with_train_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A Solver's ``checkpoint_extra`` recording the ``xplayers train`` settings of its run."""
    return {TRAIN_SETTINGS: dict(settings)}


def train_settings(extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``xplayers train`` settings in a Solver checkpoint's ``extra`` (None if none)."""
    user = extra.get(USER)
    settings = user.get(TRAIN_SETTINGS) if isinstance(user, dict) else None
    return settings if isinstance(settings, dict) else None


def data_description(dataset: str, data_dir: str | None, data_options: Mapping[str, Any]
                     ) -> dict[str, Any]:
    """Which data a model was trained on, as a model file's ``extra`` states it."""
    return {DATASET: dataset, DATA_DIR: data_dir, DATA_OPTIONS: dict(data_options)}


def run_description(dataset: str, data_dir: str | None, data_options: Mapping[str, Any],
                    report: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` of a trained model's file: its data (:func:`data_description`) and the
    run's summary report."""
    return {**data_description(dataset, data_dir, data_options), REPORT: dict(report)}


def described_data(extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """The :func:`data_description` in a model file's ``extra`` (None if it has none)."""
    if DATASET not in extra:
        return None
    return data_description(extra[DATASET], extra.get(DATA_DIR), extra.get(DATA_OPTIONS) or {})


# -- what ``CaptioningSolver.save_checkpoint`` stores -----------------------------------------
CAPTIONING = "captioning_solver"


@dataclass
class CaptioningRecord:
    """A CaptioningSolver's position: its settings, epoch, losses and optimizer scalars."""

    settings: dict[str, Any]
    epoch: Any
    loss_history: list[Any]
    optim_scalars: dict[str, dict[str, Any]]
    rng_state: dict[str, Any] | None


def captioning_extra(record: CaptioningRecord) -> dict[str, Any]:
    """The ``extra`` of a CaptioningSolver checkpoint holding ``record``."""
    return {CAPTIONING: {"settings": record.settings, "epoch": record.epoch,
                         "loss_history": record.loss_history,
                         "optim_scalars": record.optim_scalars, "rng_state": record.rng_state}}


def captioning_record(meta: Mapping[str, Any]) -> CaptioningRecord | None:
    """The CaptioningSolver position in ``meta`` (None if the file holds none)."""
    info = meta[EXTRA].get(CAPTIONING)
    if not isinstance(info, dict) or not isinstance(info.get("settings"), dict):
        return None
    return CaptioningRecord(dict(info["settings"]), info.get("epoch"),
                            list(info.get("loss_history", [])),
                            dict(info.get("optim_scalars", {})), info.get("rng_state"))
