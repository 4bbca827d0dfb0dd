"""Saving and loading models as ``.npz`` files: no pickle, device-independent, atomic.

Layout of the archive: ``param/<name>`` for each parameter, ``state/<name>`` for each running
statistic, and ``__meta__``, a JSON string with the format tag, the model class and its
constructor arguments, plus any ``extra`` information the caller attached. A Solver adds
``optim/<param>/<key>``, ``best/<name>`` and ``best_state/<name>`` (see
:mod:`xplayers._training_state`).

Reading trusts nothing in the file: every entry is parsed by hand (no pickle, sizes checked
against the archive before anything is allocated) and every array is checked against the
model the stored configuration describes, so a checkpoint loads exactly what was saved or
raises ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..backend.devices import resolve_device, to_numpy
from ..checkpoint.atomic import atomic_write
from ._registry import MODEL_CLASSES

FORMAT = "xplayers-checkpoint"
VERSION = 1
ENTRY_GROUPS = ("param", "state", "optim", "best", "best_state")
_NPY_MAGIC = b"\x93NUMPY"
# Deflate cannot expand data by more than about 1032 times.
_MAX_INFLATION = 1100


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
    meta = {"format": FORMAT, "version": VERSION, "class": type(model).__name__,
            "config": model.config, "extra": extra or {}}
    entries = {f"param/{k}": v for k, v in to_numpy(model.params).items()}
    entries.update({f"state/{k}": v for k, v in to_numpy(model.state()).items()})
    entries.update(to_numpy(dict(arrays or {})))
    entries["__meta__"] = np.array(json.dumps(meta, allow_nan=False))
    atomic_write(path, lambda handle: np.savez(handle, **entries))


# -- reading the archive ------------------------------------------------------------------
def _check_path(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"the checkpoint path {str(path)!r} is a directory")
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")


def _read_npy(data: bytes) -> np.ndarray:
    """One ``.npy`` member, parsed by hand: no pickle and no allocation beyond ``data``."""
    import io

    handle = io.BytesIO(data)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unknown .npy version {version}")
    if dtype.hasobject:
        raise ValueError("it holds Python objects (pickled data), which are never loaded")
    count = math.prod(shape)
    body = memoryview(data)[handle.tell():]
    if count * dtype.itemsize != len(body):
        raise ValueError(f"its header announces {count * dtype.itemsize} bytes of data, "
                         f"it holds {len(body)}")
    array = np.frombuffer(body, dtype=dtype, count=count).reshape(shape,
                                                                  order="F" if fortran else "C")
    return array.copy()


def _read_members(path: Path) -> dict[str, np.ndarray]:
    size = path.stat().st_size
    if size == 0:
        raise ValueError("the file is empty")
    with open(path, "rb") as handle:
        head = handle.read(len(_NPY_MAGIC))
    if head == _NPY_MAGIC:
        raise ValueError("it is a single .npy array, not an .npz checkpoint archive")
    if not zipfile.is_zipfile(path):
        raise ValueError("the file is truncated, corrupt or not an .npz archive (no zip "
                         "directory found)")
    entries = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            where = f"entry {info.filename!r}"
            if info.flag_bits & 0x1:
                raise ValueError(f"{where} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ValueError(f"{where} uses an unsupported compression method "
                                 f"({info.compress_type})")
            limit = size if info.compress_type == zipfile.ZIP_STORED else size * _MAX_INFLATION
            if info.file_size > limit:
                raise ValueError(f"{where} claims {info.file_size} bytes in a "
                                 f"{size}-byte file")
            if not info.filename.endswith(".npy"):
                raise ValueError(f"{where} is not an .npy array")
            name = info.filename[: -len(".npy")]
            if name in entries:
                raise ValueError(f"{where} appears twice")
            try:
                entries[name] = _read_npy(archive.read(info))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
    return entries


def _parse_meta(raw: np.ndarray | None) -> dict[str, Any]:
    if raw is None:
        raise ValueError("it is an .npz archive but not an xplayers checkpoint (it has no "
                         "__meta__ entry)")
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"its __meta__ entry must be one string, got a {raw.dtype} array "
                         f"of shape {raw.shape}")
    try:
        meta = json.loads(str(raw))
    except ValueError as exc:
        raise ValueError(f"its __meta__ entry is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("it is not an xplayers checkpoint (format tag missing)")
    if meta.get("version") != VERSION:
        raise ValueError(f"it has checkpoint version {meta.get('version')!r}; this xplayers "
                         f"reads version {VERSION}")
    for key, kind in (("class", str), ("config", dict), ("extra", dict)):
        if not isinstance(meta.get(key, {} if key == "extra" else None), kind):
            raise ValueError(f"its __meta__ entry's {key!r} must be a {kind.__name__}, got "
                             f"{meta.get(key)!r}")
    meta.setdefault("extra", {})
    return meta


def read_archive(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a checkpoint's metadata and every array in it (host arrays, keyed by entry name).

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
        entries = _read_members(path)
        meta = _parse_meta(entries.pop("__meta__", None))
    except ValueError as exc:
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {exc}") from None
    except Exception as exc:  # zipfile, zlib and struct report damage in many ways
        raise ValueError(f"cannot read checkpoint {str(path)!r}: the file is truncated, "
                         f"corrupt or not an .npz archive ({type(exc).__name__}: {exc})"
                         ) from None
    for name in entries:
        group = name.split("/", 1)[0]
        if "/" not in name or group not in ENTRY_GROUPS:
            raise ValueError(f"checkpoint {str(path)!r} has an unexpected entry {name!r}")
    return meta, entries


def _group(entries: dict[str, np.ndarray], group: str) -> dict[str, np.ndarray]:
    prefix = f"{group}/"
    return {n[len(prefix):]: a for n, a in entries.items() if n.startswith(prefix)}


# -- checking what was read against the model --------------------------------------------
def check_arrays(where: str, what: str, found: dict[str, np.ndarray],
                 expected: dict[str, tuple[int, ...]]) -> None:
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


def _check_config(where: str, cls: type, config: dict[str, Any]
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
    name = meta["class"]
    cls = MODEL_CLASSES.get(name)
    if cls is None:
        raise ValueError(f"{where} holds a {name!r}, which is not one of the known models "
                         f"{sorted(MODEL_CLASSES)}")
    params, state = _group(entries, "param"), _group(entries, "state")
    shapes = _check_config(where, cls, meta["config"])
    if shapes is not None:  # checked before anything is allocated
        check_arrays(where, "parameters", params, shapes)
    try:
        model = cls(**meta["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: invalid configuration for {name}: {exc}") from None
    check_arrays(where, "parameters", params,
                 {k: tuple(v.shape) for k, v in model.params.items()})
    if state:
        check_arrays(where, "running statistics", state, model.state_shapes())
    model.params = {k: params[k].astype(model.dtype, copy=False) for k in model.params}
    model.load_state({k: v.astype(model.dtype, copy=False) for k, v in state.items()})
    model.checkpoint_extra = meta["extra"]
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
