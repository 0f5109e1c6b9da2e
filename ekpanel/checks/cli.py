"""``flask --app wsgi fetch``: check mail servers now, in the foreground."""

from __future__ import annotations

import uuid

import click
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from ekpanel.checks.keys import redis_connection
from ekpanel.checks.lock import CLI_HOLDER_PREFIX, ServerLock
from ekpanel.checks.models import TRIGGER_CLI
from ekpanel.checks.run import CheckResult, run_check
from ekpanel.companies.models import Company
from ekpanel.extensions import db
from ekpanel.mail.vocabulary import Outcome
from ekpanel.servers.models import MailServer


@click.command("fetch")
@click.option("--server", "server_id", type=int, help="Sprawdź jeden serwer (ID).")
@click.option("--company", "company_id", type=int, help="Sprawdź aktywne serwery jednej firmy (ID).")
@click.option("--all", "all_servers", is_flag=True, help="Sprawdź aktywne serwery wszystkich aktywnych firm.")
def fetch_command(server_id: int | None, company_id: int | None, all_servers: bool) -> None:
    """Take documents from mail servers now; exits with 1 when any server's check failed."""
    if [server_id is not None, company_id is not None, all_servers].count(True) != 1:
        raise click.UsageError("Podaj dokładnie jedno z: --server ID, --company ID, --all.")
    servers = _servers(server_id, company_id)
    if not servers:
        raise click.ClickException("Nie ma serwerów do sprawdzenia.")
    failed = False
    for server_id_, label in servers:
        result = _run_unless_running(server_id_, label)
        failed = failed or (result is not None and result.outcome == Outcome.FAILED)
    if failed:
        raise SystemExit(1)


def _run_unless_running(server_id: int, label: str) -> CheckResult | None:
    """Check one server under the same per-server lock the workers take, so a check from the
    terminal never runs beside a background one on the same mailbox."""
    try:
        lock = ServerLock(
            redis_connection(),
            server_id,
            f"{CLI_HOLDER_PREFIX}{uuid.uuid4().hex}",
            current_app.config["CHECK_TIMEOUT"],
        )
        holder = lock.acquire()
    except RedisError as error:
        # Without Redis no worker can be checking either: go on, and say so.
        click.echo(f"serwer {server_id}: Redis niedostępny ({error}); sprawdzam bez blokady.", err=True)
        lock, holder = None, None
    if holder is not None:
        click.echo(f"serwer {server_id} ({label}): sprawdzanie już trwa ({holder}); pominięto.")
        return None
    try:
        result = run_check(
            server_id,
            trigger=TRIGGER_CLI,
            keep_going=lock.reassert if lock else None,
            close_left_running=lock is not None,  # the lock is ours: a check still marked running is dead
        )
    finally:
        if lock is not None:
            lock.release()
    click.echo(summary_line(server_id, label, result))
    return result


def summary_line(server_id: int, label: str, result: CheckResult) -> str:
    counts = result.counts
    line = (
        f"serwer {server_id} ({label}): {result.outcome}; pobrane wiadomości {counts.taken}, "
        f"dokumenty {counts.documents}, pominięte {counts.skipped}, duplikaty {counts.duplicates}, "
        f"błędy {counts.errors}"
    )
    if result.error_code:
        line += f"; {result.error_code}: {result.error.polish() if result.error else ''}"
    if result.warnings:
        line += f"; ostrzeżenia: {len(result.warnings)}"
    return line


def _servers(server_id: int | None, company_id: int | None) -> list[tuple[int, str]]:
    if server_id is not None:
        server = db.session.get(MailServer, server_id)
        if server is None:
            raise click.ClickException(f"Nie ma serwera o ID {server_id}.")
        return [(server.id, server.label)]
    query = select(MailServer).join(Company).where(MailServer.active.is_(True)).order_by(MailServer.id)
    if company_id is not None:
        if db.session.get(Company, company_id) is None:
            raise click.ClickException(f"Nie ma firmy o ID {company_id}.")
        query = query.where(MailServer.company_id == company_id)
    else:
        query = query.where(Company.active.is_(True))
    return [(server.id, server.label) for server in db.session.scalars(query)]
