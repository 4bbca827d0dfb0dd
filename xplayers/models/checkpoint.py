"""Saving and loading models: the model side of the checkpoint format.

The file format itself (layout, version, upgrades, pickle-free reading, atomic writing) is
owned by :mod:`xplayers.checkpoint.format`; this module rebuilds and checks models from it.
Every array is checked against the model the stored configuration describes, so a
checkpoint loads exactly what was saved or raises ``ValueError`` naming the file and the
problem.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from ..backend.devices import resolve_device
from ..checkpoint import format as checkpoint_format
from ..checkpoint.format import FORMAT, VERSION, check_arrays
from ..checkpoint.format import GROUPS as ENTRY_GROUPS
from ..checkpoint.format import read as read_archive
from ._registry import MODEL_CLASSES

__all__ = ["ENTRY_GROUPS", "FORMAT", "VERSION", "build_model", "check_arrays", "load_model",
           "read_archive", "save_model"]


def save_model(model: Any, path: str | os.PathLike[str], extra: dict[str, Any] | None = None,
               arrays: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` atomically.

    The archive is written to a temporary file in the same folder and renamed over ``path``
    only once complete, so a crash or an error mid-save leaves any previous file intact.

    Parameters
    ----------
    model : Model
    path : str or path-like
        Written exactly as given (no suffix is added).
    extra : dict, optional
        JSON-serialisable information stored beside the model (training history, say).
    arrays : dict, optional
        More arrays (host or device), keyed by entry name (``optim/W1/m``, ``best/W1``, ...).
    """
    checkpoint_format.write(path, model, extra=extra, arrays=arrays)


# -- checking what was read against the model --------------------------------------------
def _check_config(where: str, cls: type[Any], config: dict[str, Any]
                  ) -> dict[str, tuple[int, ...]] | None:
    """The parameter shapes ``config`` implies (None for a model class that cannot say)."""
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(config) - accepted)
    if unknown:
        raise ValueError(f"{where}: its configuration has keys {unknown} that "
                         f"{cls.__name__} does not take")
    try:
        return cls.param_shapes(config)
    except NotImplementedError:
        return None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: invalid configuration for {cls.__name__}: {exc}") from None


def build_model(path: str | os.PathLike[str], meta: dict[str, Any],
                entries: dict[str, np.ndarray]) -> Any:
    """The host model ``meta`` and ``entries`` (from :func:`read_archive`) describe, checked.

    The configuration is checked and the stored parameters' shapes compared with it before
    anything is allocated; running statistics must be all there (trained) or all absent.
    """
    where = f"checkpoint {str(path)!r}"
    name = meta[checkpoint_format.CLASS]
    cls = MODEL_CLASSES.get(name)
    if cls is None:
        raise ValueError(f"{where} holds a {name!r}, which is not one of the known models "
                         f"{sorted(MODEL_CLASSES)}")
    params = checkpoint_format.group(entries, checkpoint_format.PARAM)
    state = checkpoint_format.group(entries, checkpoint_format.STATE)
    config = meta[checkpoint_format.CONFIG]
    shapes = _check_config(where, cls, config)
    if shapes is not None:  # checked before anything is allocated
        check_arrays(where, "parameters", params, shapes)
    try:
        model = cls(**config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: invalid configuration for {name}: {exc}") from None
    check_arrays(where, "parameters", params,
                 {k: tuple(v.shape) for k, v in model.params.items()})
    if state:
        check_arrays(where, "running statistics", state, model.state_shapes())
    model.params = {k: params[k].astype(model.dtype, copy=False) for k in model.params}
    model.load_state({k: v.astype(model.dtype, copy=False) for k, v in state.items()})
    model.checkpoint_extra = meta[checkpoint_format.EXTRA]
    return model


def load_model(path: str | os.PathLike[str], device: str | None = None) -> Any:
    """Rebuild a model saved with :meth:`Model.save` on ``device``.

    Parameters
    ----------
    path : str or path-like
    device : str or None
        ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'``; None means
        :func:`xplayers.default_device`. A model saved from a GPU loads on a CPU-only
        machine and the other way round.

    Returns
    -------
    Model
        The model, with ``extra`` (what was saved beside it) as ``model.checkpoint_extra``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        For the path itself.
    ValueError
        Naming the file and the problem: a damaged or foreign file, a bad configuration, or
        arrays that do not match the model it describes.
    """
    target = resolve_device(device)
    meta, entries = read_archive(path)
    return build_model(path, meta, entries).to(target)
