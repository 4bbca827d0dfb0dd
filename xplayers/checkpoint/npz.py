"""Reading an ``.npz`` archive without pickle, trusting nothing in it.

Every member is parsed by hand: sizes are checked against the archive before anything is
allocated, object arrays are refused, and any damage becomes a ``ValueError`` saying what is
wrong (the caller adds the file's name).
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np

_NPY_MAGIC = b"\x93NUMPY"
# Deflate cannot expand data by more than about 1032 times.
_MAX_INFLATION = 1100


def _read_npy(data: bytes) -> np.ndarray:
    """One ``.npy`` member, parsed by hand: no pickle and no allocation beyond ``data``."""
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


def read_members(path: Path) -> dict[str, np.ndarray]:
    """Every array in the ``.npz`` archive at ``path``, keyed by member name (no ``.npy``).

    Raises
    ------
    ValueError
        Saying what is wrong (empty, not a zip archive, encrypted, oversized, pickled, ...);
        ``zipfile``, ``zlib`` and ``struct`` may raise their own errors for damaged bytes.
    """
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
