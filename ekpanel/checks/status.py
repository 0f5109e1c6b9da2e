"""What each server's checks are doing, for the pages: running now, failing, or how the last one ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.held import needing_person_counts
from ekpanel.checks.models import Check
from ekpanel.checks.progress import STATE_CHECKING, job_progress
from ekpanel.checks.queries import failing_server_ids, last_check_summaries
from ekpanel.checks.queue import last_server_job
from ekpanel.extensions import db
from ekpanel.mail.texts import Note
from ekpanel.mail.vocabulary import Outcome
from ekpanel.servers.models import MailServer


def enabled_servers(company_id: int) -> list[MailServer]:
    return list(
        db.session.scalars(
            select(MailServer)
            .where(MailServer.company_id == company_id, MailServer.active.is_(True))
            .order_by(MailServer.name, MailServer.id)
        )
    )


def companies_with_failing_server(company_ids: list[int]) -> set[int]:
    """Of these companies, those with an enabled server whose last check failed (for the list on the left)."""
    servers = db.session.execute(
        select(MailServer.id, MailServer.company_id).where(
            MailServer.company_id.in_(company_ids), MailServer.active.is_(True)
        )
    ).all()
    failing = failing_server_ids([server_id for server_id, _company in servers])
    return {company_id for server_id, company_id in servers if server_id in failing}


@dataclass(frozen=True)
class FailingServer:
    """An enabled server whose last check failed: the list warns that its mail is not being taken."""

    server: MailServer
    since: datetime  # start of the first failed check of the run that ends with the last check
    reason: Note | dict | None  # the last check's note (None: see error_code)
    error_code: str | None = None


def failing_servers(company_id: int) -> list[FailingServer]:
    """The company's enabled servers whose last finished check failed (disabled ones are not checked)."""
    servers = enabled_servers(company_id)
    down = failing_server_ids([server.id for server in servers])  # one query; details only for these
    summaries = last_check_summaries([server.id for server in servers if server.id in down])
    return [
        FailingServer(server, summary["failing_since"], summary["error"], summary["error_code"])
        for server in servers
        if (summary := summaries.get(server.id)) is not None
    ]


@dataclass(frozen=True)
class ServerWithHeldMessages:
    """An enabled server with messages that failed three checks and wait for a person."""

    server: MailServer
    count: int


def servers_with_held_messages(company_id: int) -> list[ServerWithHeldMessages]:
    servers = enabled_servers(company_id)
    counts = needing_person_counts([server.id for server in servers])
    return [ServerWithHeldMessages(server, counts[server.id]) for server in servers if counts.get(server.id)]


@dataclass
class ServerProgress:
    """One line of the progress panel."""

    server: MailServer
    state: str  # queued / checking / done / failed
    folder: str | None = None
    to_examine: int | None = None
    documents: int | None = None  # documents so far (stored PDFs included while it runs)
    counts: CheckCounts = field(default_factory=CheckCounts)
    error: Note | dict | None = None
    error_code: str | None = None

    @property
    def running(self) -> bool:
        return self.state in ("queued", "checking")


def server_progress(server: MailServer) -> ServerProgress:
    """The server's queued or running check from its job, else the outcome of its last check."""
    job = last_server_job(server.id)
    progress = job_progress(job)  # a job queued, waiting for a retry or running is not finished
    if job is not None and not progress.finished:
        return ServerProgress(
            server,
            "checking" if progress.state == STATE_CHECKING else "queued",
            folder=progress.run.folder,
            to_examine=progress.run.to_examine,
            documents=progress.run.documents,
            counts=progress.run.counts,
        )
    check = db.session.get(Check, progress.check_id) if progress.check_id else None
    if check is None:
        check = db.session.scalar(
            select(Check)
            .where(Check.server_id == server.id)
            .order_by(Check.started_at.desc(), Check.id.desc())
            .limit(1)
        )
    if check is None or check.outcome == Outcome.RUNNING:
        # No record, or one its job no longer carries on (a killed worker): the check ended without one.
        return ServerProgress(server, "failed", error_code=progress.error_code or "interrupted")
    return ServerProgress(
        server,
        "failed" if check.outcome == Outcome.FAILED else "done",
        documents=check.documents,
        counts=check.counts,
        error=check.error,
        error_code=check.error_code,
    )
