"""A throw-away PostgreSQL server for the test session (initdb + pg_ctl in a temp folder)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise PostgresUnavailable(
        f"PostgreSQL's {name} was not found: install PostgreSQL (Debian: apt-get install "
        "postgresql) or set OPSPERF_TEST_POSTGRES_URL to a server the tests may use"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """initdb a cluster in a temporary folder, start it on a unix socket, stop and remove it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="opsperf-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the postgres user.
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("running as root needs a 'postgres' user") from exc
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True, text=True)

    def start(self) -> str:
        self._run(
            _binary("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        )
        options = f"-F -p {self.port} -k {self.root} -c listen_addresses='' -c max_connections=60"
        self._run(
            _binary("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        self._run(
            _binary("createdb"),
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "opsperf_test",
        )
        return f"postgresql+psycopg://postgres@/opsperf_test?host={self.root}&port={self.port}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, PostgresUnavailable):
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
