"""Reading the check history: a server's checks, one check's decisions, the last check's summary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import selectinload

from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.held import needing_person_counts
from ekpanel.checks.models import Check, Decision
from ekpanel.checks.sender_exceptions import ALLOWABLE_REASONS
from ekpanel.extensions import db
from ekpanel.mail.vocabulary import Outcome

CHECKS_PAGE = 50
DECISIONS_PAGE = 200


def last_check_summary(server_id: int) -> dict:
    """What a server row shows about its checks.

    Keys: ``check`` (the last finished Check or None), ``finished_at``, ``outcome``
    (``ok``/``partial``/``failed`` or None when never checked), ``error_code``, ``error`` (its note),
    ``counts`` (of that check, all 0 when none),
    ``running`` (a check is under way now), ``failing_since`` (start of the first of the failed checks
    in a row that ends with the last one; None unless the last check failed), ``needs_person`` (how
    many of its messages wait for a person: "do wyjaśnienia"), ``authres_absent`` (the last check
    that judged senders found no Authentication-Results on any of their messages: the server adds
    none, so it can vouch for no one).
    """
    last = db.session.scalar(
        select(Check)
        .where(Check.server_id == server_id, Check.outcome != Outcome.RUNNING)
        .order_by(Check.started_at.desc(), Check.id.desc())
        .limit(1)
    )
    running = (
        db.session.scalar(
            select(Check.id)
            .where(Check.server_id == server_id, Check.outcome == Outcome.RUNNING)
            .where(Check.started_at >= last.started_at if last is not None else true())
            .limit(1)
        )
        is not None
    )
    summary = {
        "check": last,
        "finished_at": last.finished_at if last else None,
        "outcome": last.outcome if last else None,
        "error_code": last.error_code if last else None,
        "error": last.error if last else None,
        "counts": last.counts if last else CheckCounts(),
        "running": running,
        "failing_since": None,
        "needs_person": needing_person_counts([server_id]).get(server_id, 0),
        "authres_absent": authres_absent(server_id),
    }
    if last is not None and last.outcome == Outcome.FAILED:
        summary["failing_since"] = failing_since(server_id)
    return summary


def authres_absent(server_id: int) -> bool:
    """Whether the last check that gave any message a sender verdict found no Authentication-Results
    field on any of those messages."""
    return server_id in authres_absent_ids([server_id])


def authres_absent_ids(server_ids: list[int]) -> set[int]:
    """Of these servers, those for which :func:`authres_absent` holds: one query for a whole list."""
    if not server_ids:
        return set()
    newest_first = (Check.started_at.desc(), Check.id.desc())
    ranked = (
        select(
            Check.server_id,
            Check.senders_judged,
            Check.senders_without_authres,
            func.row_number().over(partition_by=Check.server_id, order_by=newest_first).label("n"),
        )
        .where(Check.server_id.in_(server_ids), Check.senders_judged > 0)
        .subquery()
    )
    query = select(ranked.c.server_id).where(
        ranked.c.n == 1, ranked.c.senders_without_authres == ranked.c.senders_judged
    )
    return set(db.session.scalars(query))


def failing_server_ids(server_ids: list[int]) -> set[int]:
    """Of these servers, those whose last finished check failed: one query for a whole list."""
    if not server_ids:
        return set()
    newest_first = (Check.started_at.desc(), Check.id.desc())
    ranked = (
        select(
            Check.server_id,
            Check.outcome,
            func.row_number().over(partition_by=Check.server_id, order_by=newest_first).label("n"),
        )
        .where(Check.server_id.in_(server_ids), Check.outcome != Outcome.RUNNING)
        .subquery()
    )
    query = select(ranked.c.server_id).where(ranked.c.n == 1, ranked.c.outcome == Outcome.FAILED)
    return set(db.session.scalars(query))


def failing_since(server_id: int) -> datetime | None:
    """When the current run of failed checks began (the start of its first check)."""
    last_good = db.session.scalar(
        select(func.max(Check.started_at)).where(
            Check.server_id == server_id, Check.outcome.in_((Outcome.OK, Outcome.PARTIAL))
        )
    )
    query = select(func.min(Check.started_at)).where(
        Check.server_id == server_id, Check.outcome == Outcome.FAILED
    )
    if last_good is not None:
        query = query.where(Check.started_at > last_good)
    return db.session.scalar(query)


def server_checks(server_id: int, *, before_id: int | None = None, limit: int = CHECKS_PAGE) -> list[Check]:
    """The server's checks, newest first; ``limit + 1`` rows tell the caller there is a next page."""
    # Who started each check comes in one more query, not one per row of the page.
    query = select(Check).options(selectinload(Check.user)).where(Check.server_id == server_id)
    if before_id is not None:
        query = query.where(Check.id < before_id)
    return list(db.session.scalars(query.order_by(Check.id.desc()).limit(limit + 1)))


def _matching(text: str):
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(Decision.sender.ilike(pattern, escape="\\"), Decision.subject.ilike(pattern, escape="\\"))


def check_decisions(
    check_id: int, text: str = "", *, after_id: int | None = None, limit: int = DECISIONS_PAGE
) -> list[Decision]:
    """The messages one check examined, in the order it examined them, optionally by sender/subject."""
    query = select(Decision).where(Decision.check_id == check_id)
    if text.strip():
        query = query.where(_matching(text.strip()))
    if after_id is not None:
        query = query.where(Decision.id > after_id)
    return list(db.session.scalars(query.order_by(Decision.id).limit(limit + 1)))


def server_decisions(server_id: int, text: str, *, limit: int = DECISIONS_PAGE) -> list[Decision]:
    """Every check's decisions about messages whose sender or subject matches, newest first.

    A skipped message is recorded once, by the check that first saw it, so "why did this invoice
    not arrive?" is answered by searching across all of a server's checks, not the last one.
    """
    query = (
        select(Decision)
        .where(Decision.server_id == server_id, _matching(text.strip()))
        .order_by(Decision.id.desc())
        .limit(limit + 1)
    )
    return list(db.session.scalars(query))


def sender_skips(server_id: int, *, limit: int = DECISIONS_PAGE) -> list[Decision]:
    """The messages "Wymagaj" kept out of this server's checks (within the log's days), newest first."""
    query = (
        select(Decision)
        .where(Decision.server_id == server_id, Decision.reason.in_(sorted(ALLOWABLE_REASONS)))
        .order_by(Decision.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))
