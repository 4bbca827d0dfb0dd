"""A lock that makes "is a trial left? then create it" one step across worker processes.

Without it two workers can both see one trial left and both start one. On the journal file it
is an ``flock`` on a file beside the journal; on PostgreSQL a session advisory lock. Both are
released by the operating system or the server when the holder dies. Other databases get no
lock (a race there can add at most one trial per extra worker).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

__all__ = ["ClaimLock", "claim_lock"]


class ClaimLock:
    """No-op base: ``acquire`` and ``release`` (releasing twice is harmless)."""

    def acquire(self) -> None:
        """Block until this process holds the lock."""

    def release(self) -> None:
        """Let the next process in."""


class _FileClaimLock(ClaimLock):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def acquire(self) -> None:
        import fcntl

        self._handle = open(self.path, "a")
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None


class _PostgresClaimLock(ClaimLock):
    def __init__(self, engine: Any, study_name: str) -> None:
        self.engine = engine
        self.key = zlib.crc32(f"xplayers-sweep:{study_name}".encode()) - 2**31
        self._connection: Any = None

    def acquire(self) -> None:
        from sqlalchemy import text

        self._connection = self.engine.connect()
        self._connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})

    def release(self) -> None:
        if self._connection is not None:
            from sqlalchemy import text

            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": self.key})
            except Exception:  # never hand a connection still holding the lock to the pool
                self._connection.invalidate()
            self._connection.close()
            self._connection = None


def claim_lock(storage: Any, address: str, study_name: str) -> ClaimLock:
    """The claim lock for a study in ``storage`` (opened from ``address``)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        return (_PostgresClaimLock(engine, study_name) if engine.dialect.name == "postgresql"
                else ClaimLock())
    try:
        import fcntl  # noqa: F401 (POSIX only)
    except ImportError:
        return ClaimLock()
    return _FileClaimLock(Path(f"{address}.{study_name}.claim"))
