"""What the Solver needs from a model and its arrays: checks, state, copies, host floats."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.devices import to_device, to_numpy
from ..backend.namespace import get_array_module

__all__ = ["check_model", "checkpoint_name", "copies", "floats", "load_model_state",
           "model_state", "move_model", "num_classes"]


def check_model(model: Any) -> None:
    """Raise ``TypeError`` unless ``model`` has a non-empty ``params`` dict and ``loss``."""
    missing = []
    params = getattr(model, "params", None)
    if not isinstance(params, Mapping) or not params:
        missing.append("a non-empty 'params' dict of arrays")
    if not callable(getattr(model, "loss", None)):
        missing.append("a 'loss(X, y=None)' method")
    if missing:
        raise TypeError(f"model must have {' and '.join(missing)}, like the course's models; "
                        f"got a {type(model).__name__} without them")


def num_classes(model: Any) -> int | None:
    """``model.config['num_classes']`` when the model states it, else None."""
    config = getattr(model, "config", None)
    classes = config.get("num_classes") if isinstance(config, Mapping) else None
    return int(classes) if isinstance(classes, numbers.Integral) else None


def move_model(model: Any, device: str) -> None:
    """Move ``model`` (with ``to()``, or just its ``params``) to ``device``."""
    if callable(getattr(model, "to", None)):
        model.to(device)
    else:
        model.params = to_device(dict(model.params), device)


def model_state(model: Any) -> dict[str, Any]:
    """``model``'s running statistics ({} for models without ``state()``)."""
    return model.state() if callable(getattr(model, "state", None)) else {}


def load_model_state(model: Any, state: Mapping[str, Any]) -> None:
    """Put running statistics back (nothing for models without ``load_state``)."""
    if callable(getattr(model, "load_state", None)):
        model.load_state(state)


def floats(values: list[Any]) -> list[float]:
    """Python floats of 0-d arrays or numbers, read from their device in one transfer."""
    if all(isinstance(v, (numbers.Real, np.ndarray)) for v in values):
        return [float(v) for v in values]
    on_device = [v for v in values if not isinstance(v, (numbers.Real, np.ndarray))]
    xp = get_array_module(*on_device)
    host = to_numpy(xp.stack([xp.reshape(v, ()) for v in on_device]))
    read = iter(host.tolist())
    return [float(v) if isinstance(v, (numbers.Real, np.ndarray)) else float(next(read))
            for v in values]


def copies(arrays: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of each array, in its own library and device."""
    return {name: get_array_module(a).asarray(a, copy=True) for name, a in arrays.items()}


def checkpoint_name(name: Any) -> str | None:
    """``name`` as a string, after checking its folder exists and is writable."""
    if name is None:
        return None
    if not isinstance(name, (str, os.PathLike)):
        raise ValueError(f"checkpoint_name must be a path prefix (str), got {name!r}")
    folder = Path(name).parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ValueError(f"checkpoint_name {str(name)!r}: the folder {str(folder)!r} does not "
                         "exist or is not writable")
    return os.fspath(name)
