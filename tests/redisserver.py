"""A throw-away Redis server for the test session (redis-server on a free port, no disk)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class RedisUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempRedis:
    """Start redis-server on loopback with persistence off; stop it and remove its folder."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(
                "redis-server was not found: install it (Debian: apt-get install redis-server) "
                "or set OPSPERF_TEST_REDIS_URL to a server the tests may use"
            )
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="opsperf-redis-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        options = {"port": str(self.port), "bind": "127.0.0.1", "dir": str(self.root)}
        options |= {"save": "", "appendonly": "no"}
        arguments = [item for key, value in options.items() for item in (f"--{key}", value)]
        self.process = subprocess.Popen(
            [self.binary, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return f"redis://127.0.0.1:{self.port}/0"
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RedisUnavailable("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
