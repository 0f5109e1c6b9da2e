"""A throw-away redis-server for integration tests.

Why: RQ's ``unique=True``, locks and rate limits run Lua scripts that fakeredis only partly
emulates, so the jobs are tested against the real thing on a private port.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from tests.support.ports import free_port

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class RedisServer:
    """``redis-server`` without persistence on a free loopback port, in its own session."""

    def __init__(self) -> None:
        self.port: int | None = None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """URL of database 0, for redis-py and RQ."""
        if self.port is None:
            raise RuntimeError("RedisServer is not started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """Pid of the running server, None when stopped."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> RedisServer:
        """Start the server and wait until PING answers, so tests never race its start-up."""
        if self.pid is not None:
            raise RuntimeError("RedisServer is already running")
        self._dir = Path(tempfile.mkdtemp(prefix="ekredis-"))
        self.port = free_port()
        log = self._dir / "redis.log"
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self._dir)]
        with log.open("ab") as out:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited at start:\n{log.read_text(errors='replace')}")
                try:
                    if client.ping():
                        return self
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not answer PING in {START_TIMEOUT} s") from None
                    time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers), reap it and remove its directory."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
