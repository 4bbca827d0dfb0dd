"""Saving and loading models as ``.npz`` files: no pickle, device-independent, atomic.

Layout of the archive: ``param/<name>`` for each parameter, ``state/<name>`` for each running
statistic, and ``__meta__``, a JSON string with the format tag, the model class and its
constructor arguments, plus any ``extra`` information the caller attached.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..devices import resolve_device, to_numpy
from .base import Model

FORMAT = "xplayers-checkpoint"
VERSION = 1


def save_model(model: Model, path: str | os.PathLike[str], extra: dict[str, Any] | None = None
               ) -> None:
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
    """
    meta = {"format": FORMAT, "version": VERSION, "class": type(model).__name__,
            "config": model.config, "extra": extra or {}}
    arrays = {f"param/{k}": v for k, v in to_numpy(model.params).items()}
    arrays.update({f"state/{k}": v for k, v in to_numpy(model.state()).items()})
    arrays["__meta__"] = np.array(json.dumps(meta))
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray],
                                                          dict[str, np.ndarray]]:
    """Read a checkpoint's metadata, parameters and running statistics (host arrays).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated, not an ``.npz`` archive, or not an xplayers checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if "__meta__" not in names:
                raise ValueError(f"{str(path)!r} is an .npz archive but not an xplayers "
                                 "checkpoint (it has no __meta__ entry)")
            meta = json.loads(str(archive["__meta__"]))
            params = {n[len("param/"):]: archive[n] for n in names if n.startswith("param/")}
            state = {n[len("state/"):]: archive[n] for n in names if n.startswith("state/")}
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"cannot read checkpoint {str(path)!r}: the file is truncated, "
                         f"corrupt or not an .npz archive ({type(exc).__name__}: {exc})"
                         ) from exc
    except ValueError as exc:
        if "xplayers checkpoint" in str(exc):
            raise
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an xplayers checkpoint (format tag missing)")
    if meta.get("version") != VERSION:
        raise ValueError(f"{str(path)!r} has checkpoint version {meta.get('version')!r}; "
                         f"this xplayers reads version {VERSION}")
    return meta, params, state


def load_model(path: str | os.PathLike[str], device: str | None = None) -> Model:
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
    """
    from . import MODELS

    meta, params, state = read_checkpoint(path)
    name = meta.get("class")
    if name not in MODELS:
        raise ValueError(f"{str(path)!r} holds a {name!r}, which is not one of the known "
                         f"models {sorted(MODELS)}")
    target = resolve_device(device)
    model = MODELS[name](**meta["config"])
    expected = {k: v.shape for k, v in model.params.items()}
    found = {k: v.shape for k, v in params.items()}
    if expected != found:
        raise ValueError(f"{str(path)!r}: parameters {found} do not match what a {name} with "
                         f"its saved configuration has: {expected}")
    model.params = {k: v.astype(model.dtype, copy=False) for k, v in params.items()}
    model.load_state({k: v.astype(model.dtype, copy=False) for k, v in state.items()})
    model.checkpoint_extra = meta.get("extra", {})
    return model.to(target)
