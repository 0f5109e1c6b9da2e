"""``./scripts/run`` as an operator uses it: everything starts, and Ctrl-C in the terminal stops it all.

The script runs in its own process group, which is then sent SIGINT as a whole, as a terminal does
on Ctrl-C. Its Redis runs on a private port (the machine's Redis on 6379 is never touched) and its
database in a private instance folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.check_jobs import (
    PROJECT_DIR,
    Process,
    descendants,
    kill_pid,
    start_process,
    wait_for,
)
from tests.support.ports import free_port

CREATE_ADMIN_HINT = ".venv/bin/flask --app wsgi create-user LOGIN --admin"


def run_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("EKPANEL_")}
    instance = tmp_path / "instance"
    instance.mkdir()
    env.update(
        PYTHONUNBUFFERED="1",
        EKPANEL_INSTANCE_DIR=str(instance),
        EKPANEL_HOST="127.0.0.1",
        EKPANEL_PORT=str(free_port()),
        EKPANEL_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        EKPANEL_WEB_WORKERS="1",
    )
    return env


def flask_command(env: dict[str, str], *args: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT_DIR,
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        check=True,
    )


def _alive(pid: int) -> bool:
    """True unless the process is gone or only a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def _login_page_answers(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def started_runs():
    """Every ``scripts/run`` a test starts; whatever is left of it is killed by pid at the end."""
    runs: list[tuple[Process, list[int]]] = []
    yield runs
    for run, pids in runs:
        for pid in [run.pid, *pids, *descendants(run.pid)]:
            kill_pid(pid)
        run.proc.wait()


def start_and_interrupt(env: dict[str, str], started_runs) -> str:
    """Start the script, wait until web, worker and clock are up, press Ctrl-C; its whole output."""
    run = start_process(["./scripts/run"], env, log_dir=Path(env["EKPANEL_INSTANCE_DIR"]))
    started: list[int] = []
    started_runs.append((run, started))
    port = env["EKPANEL_PORT"]

    def up() -> bool:
        assert run.proc.poll() is None, run.output()
        output = run.output()
        return (
            "==> ekpanel is running" in output
            and "Listening on ekpanel-checks" in output
            and "Clock started" in output
            and "Scheduler for ekpanel-checks started" in output
            and _login_page_answers(port)
        )

    wait_for(up, run.output, seconds=120)
    started.extend(descendants(run.pid))
    by_pid = {pid: _command_line(pid) for pid in started}
    redis_pids = [pid for pid, command in by_pid.items() if command.startswith("redis-server")]
    assert len(redis_pids) == 1, by_pid
    # The terminal's Ctrl-C must not reach Redis: the worker and clock still need it while they stop.
    assert os.getpgid(redis_pids[0]) != run.pid
    # Nor the web workers: it would end them in the middle of a request (the one up() just made, even).
    web_pids = [pid for pid, command in by_pid.items() if "gunicorn" in command]
    assert web_pids and all(os.getpgid(pid) != run.pid for pid in web_pids), by_pid

    os.killpg(run.pid, signal.SIGINT)  # what a terminal does on Ctrl-C

    try:
        run.proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scripts/run did not exit after Ctrl-C:\n{run.output()}")
    wait_for(lambda: not [pid for pid in started if _alive(pid)], lambda: f"left running: {by_pid}")
    return run.output()


def test_ctrl_c_stops_everything_redis_last_and_a_new_database_asks_for_an_administrator(
    tmp_path, started_runs
):
    env = run_env(tmp_path)

    output = start_and_interrupt(env, started_runs)

    redis_port = env["EKPANEL_REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
    assert f"starting redis-server on 127.0.0.1:{redis_port}" in output
    assert "==> Stopping" in output
    assert "ConnectionError" not in output, output
    assert "Traceback" not in output, output
    redis_log = (Path(env["EKPANEL_INSTANCE_DIR"]) / "redis.log").read_text()
    assert "Received SIGINT" not in redis_log  # the terminal's Ctrl-C did not reach it...
    assert "Received SIGTERM" in redis_log  # ...the script stopped it
    assert "There is no administrator yet" in output
    assert CREATE_ADMIN_HINT in output


def test_with_an_administrator_there_is_no_hint(tmp_path, started_runs):
    env = run_env(tmp_path)
    flask_command(env, "db", "upgrade")
    flask_command(env, "create-user", "szef", "--admin", "--password-stdin", stdin="tajne-haslo-1\n")

    output = start_and_interrupt(env, started_runs)

    assert "There is no administrator yet" not in output
    assert "create-user" not in output
    assert "Traceback" not in output, output
