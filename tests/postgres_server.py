"""A throwaway PostgreSQL server in a temporary folder, for the sweep tests.

The server binaries are found with ``pg_config --bindir`` or under
``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root, so as root the server runs as
the ``postgres`` system user (or ``nobody``), which owns the temporary folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def postgres_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when there is none."""
    candidates = []
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                check=False)
        candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _run(command: list[str], user: str | None) -> None:
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")


@contextlib.contextmanager
def postgres_server(bindir: Path) -> Iterator[str]:
    """Start a server on 127.0.0.1 and a free port; yields its URL; always stops it."""
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="xplayers-pg-"))
    data, log = root / "data", root / "server.log"
    port = _free_port()
    started = False
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
            root.chmod(0o700)
        _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
              "--no-sync"], user)
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w",
              "-t", "60", "start"], user)
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(RuntimeError):
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                      "stop"], user)
        shutil.rmtree(root, ignore_errors=True)
