"""Where a study lives: a journal file on disk (the default) or a database URL.

The default is Optuna's journal file storage: Optuna documents it as the storage for several
processes sharing one study through a file (appends under a file lock), and advises against
SQLite for parallel optimisation. ``postgresql://`` (and any other SQLAlchemy URL) gives an
``RDBStorage`` with heartbeats, so a trial whose worker dies, on any machine, is marked failed.
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from pathlib import Path
from typing import Any

__all__ = ["SweepStorageError", "fail_dead_local_trials", "open_storage", "redact",
           "worker_identity"]

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
JOURNAL_LOCK_GRACE_SECONDS = 5


class SweepStorageError(RuntimeError):
    """The study storage cannot be opened or reached."""


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^/]*@", r"\1***@", url)


def is_url(storage: str) -> bool:
    """Whether ``storage`` is a database URL (else it is a journal file path)."""
    return "://" in storage


def _sqlalchemy_url(url: str) -> str:
    # SQLAlchemy's plain postgresql:// means psycopg2; the project installs psycopg 3.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_storage(storage: str, heartbeat: int = HEARTBEAT_SECONDS,
                 grace: int = GRACE_SECONDS) -> Any:
    """An Optuna storage for ``storage``: a database URL, or the path of a journal file.

    Raises
    ------
    SweepStorageError
        If the database cannot be reached or the journal file cannot be created, with the
        (password-free) address and the reason on one line.
    """
    import optuna

    if is_url(storage):
        url = _sqlalchemy_url(storage)
        engine_kwargs: dict[str, Any] = {}
        if url.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
        try:
            with warnings.catch_warnings():  # heartbeats are 'experimental' in Optuna 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                    grace_period=grace)
        except Exception as exc:  # SQLAlchemy, the driver and optuna raise many kinds
            reason = " ".join(str(exc).split("\n")[0].split())
            raise SweepStorageError(f"cannot reach the study storage {redact(storage)}: "
                                    f"{type(exc).__name__}: {reason}") from exc
    path = Path(storage)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        # An append holds the lock for milliseconds; a worker killed while holding it must
        # not stall the others for Optuna's default 30 s.
        lock = JournalFileOpenLock(str(path), grace_period=JOURNAL_LOCK_GRACE_SECONDS)
        backend = JournalFileBackend(str(path), lock_obj=lock)
        return optuna.storages.JournalStorage(backend)
    except (OSError, ValueError) as exc:
        raise SweepStorageError(f"cannot open the study journal {str(path)!r}: {exc}") from exc


def worker_identity(pid: int | None = None) -> str:
    """``'host:pid'`` of a worker process, recorded on each of its trials."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_local_trials(study: Any, pids: set[int] | None = None) -> list[int]:
    """Mark failed the running trials of workers on this host that no longer run.

    With ``pids``, only trials of those (known dead) worker processes; otherwise every running
    trial whose worker on this host is gone. Returns the numbers of the trials marked failed.
    """
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker", "")
        worker_host, _, pid_text = worker.rpartition(":")
        if worker_host != host or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        dead = pid in pids if pids is not None else not _alive(pid)
        if dead and pid != os.getpid():
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed
