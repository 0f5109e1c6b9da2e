"""Helpers for the background-check tests: servers in the database, worker and clock processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import Flask

from ekpanel.extensions import db
from ekpanel.servers.models import ENCRYPTION_NONE, MailServer
from ekpanel.servers.secrets import encrypt_secret
from tests.factories import make_company

PROJECT_DIR = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0


def make_server(
    mail_user=None, *, active: bool = True, company_active: bool = True, folders: str = "INBOX", **fields
) -> MailServer:
    """A mail server of a new company; an IMAP login on the test Dovecot when ``mail_user`` is given."""
    company = make_company(active=company_active)
    server = MailServer(company=company, active=active, folders=folders, whitelist="*@*", **fields)
    if mail_user is not None:
        server.host = "127.0.0.1"
        server.port = mail_user.server.imap_port
        server.encryption = ENCRYPTION_NONE
        server.username = mail_user.login
        server.secret_encrypted = encrypt_secret(mail_user.password)
    db.session.add(server)
    db.session.commit()
    return server


def invoice_message(to: str, n: int, sender: str = "faktury@dostawca.example") -> bytes:
    """A message with one small PDF attachment, different for every ``n``."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Faktura {n}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(f"faktura{n}", "dostawca.example")
    message.set_content("W załączniku faktura.")
    pdf = b"%PDF-1.4\n% faktura " + str(n).encode() + b"\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"faktura-{n}.pdf")
    return message.as_bytes()


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
