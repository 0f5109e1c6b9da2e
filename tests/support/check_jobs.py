"""Helpers for the background-check tests: worker and clock processes, and waiting for them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

PROJECT_DIR = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0


def process_env(app: Flask, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment for worker.py / schedule.py sharing the test app's database, secrets and Redis."""
    config = app.config
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "EKPANEL_INSTANCE_DIR": config["INSTANCE_DIR"],
        "EKPANEL_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "EKPANEL_SECRET_KEY": config["SECRET_KEY"],
        "EKPANEL_STORAGE_DIR": config["STORAGE_DIR"],
        "EKPANEL_REDIS_URL": redis_url,
        "EKPANEL_TIMEZONE": config["TIMEZONE"],
        "EKPANEL_CHECK_TIMEOUT": str(config["CHECK_TIMEOUT"]),
        "EKPANEL_MISFIRE_MINUTES": str(config["MISFIRE_MINUTES"]),
    }
    env.update(extra)
    return env


@dataclass
class Process:
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_process(argv: list[str], env: dict[str, str], log_dir: Path | None = None) -> Process:
    """Start ``argv`` in the project directory, in its own session, output to a log file."""
    log_dir = log_dir or Path(env["EKPANEL_INSTANCE_DIR"])
    log_path = log_dir / f"{Path(argv[-1]).stem}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=PROJECT_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(proc, log_path)


def stop_process(process: Process, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it lingers; always reaped."""
    if process.proc.poll() is None:
        process.proc.send_signal(signal.SIGTERM)
        try:
            process.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            process.proc.kill()
    process.proc.wait()


def kill_pid(pid: int) -> None:
    """SIGKILL one process by its pid (gone already is fine)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def wait_for(
    condition: Callable[[], object], describe: Callable[[], str] = str, seconds: float = WAIT_SECONDS
):
    """Poll ``condition`` until it is true; fail with ``describe()`` if it never becomes so."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {seconds} s:\n{describe()}")
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid`` (rq's work-horse calls setpgrp, so a process group misses it)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_worker(process: Process) -> None:
    """SIGKILL a worker and everything it started (work-horse, scheduler), each by its pid; reap it."""
    for pid in [process.pid, *descendants(process.pid)]:
        kill_pid(pid)
    process.proc.wait()
