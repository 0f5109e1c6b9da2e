"""Reading the check history: a server's checks, one check's decisions, the last check's summary."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.held import needing_person_counts
from ekpanel.checks.models import Check, Decision
from ekpanel.checks.sender_exceptions import ALLOWABLE_REASONS
from ekpanel.extensions import db
from ekpanel.mail.vocabulary import Outcome
from ekpanel.textsearch import contains_pattern

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
    return last_check_summaries([server_id])[server_id]


def last_check_summaries(server_ids: list[int]) -> dict[int, dict]:
    """:func:`last_check_summary` of each server, in a handful of queries for them all."""
    summaries = {server_id: _summary(None) for server_id in server_ids}
    if not server_ids:
        return summaries
    for check in _last_finished_checks(server_ids):
        summaries[check.server_id] = _summary(check)
    for server_id, started_at in _newest_running(server_ids):
        last = summaries[server_id]["check"]
        summaries[server_id]["running"] = last is None or started_at >= last.started_at
    failed = [server_id for server_id, s in summaries.items() if s["outcome"] == Outcome.FAILED]
    for server_id, since in _failing_since(failed):
        summaries[server_id]["failing_since"] = since
    for server_id, count in needing_person_counts(server_ids).items():
        summaries[server_id]["needs_person"] = count
    for server_id in authres_absent_ids(server_ids):
        summaries[server_id]["authres_absent"] = True
    return summaries


def authres_absent_ids(server_ids: list[int]) -> set[int]:
    """Of these servers, those whose last check that gave any message a sender verdict found no
    Authentication-Results field on any of those messages: one query for a whole list."""
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


def server_checks(server_id: int, *, before_id: int | None = None, limit: int = CHECKS_PAGE) -> list[Check]:
    """The server's checks, newest first; ``limit + 1`` rows tell the caller there is a next page."""
    # Who started each check comes in one more query, not one per row of the page.
    query = select(Check).options(selectinload(Check.user)).where(Check.server_id == server_id)
    if before_id is not None:
        query = query.where(Check.id < before_id)
    return list(db.session.scalars(query.order_by(Check.id.desc()).limit(limit + 1)))


def _matching(text: str):
    pattern = contains_pattern(text)
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


def _summary(check: Check | None) -> dict:
    return {
        "check": check,
        "finished_at": check.finished_at if check else None,
        "outcome": check.outcome if check else None,
        "error_code": check.error_code if check else None,
        "error": check.error if check else None,
        "counts": check.counts if check else CheckCounts(),
        "running": False,
        "failing_since": None,
        "needs_person": 0,
        "authres_absent": False,
    }


def _last_finished_checks(server_ids: list[int]) -> list[Check]:
    newest_first = (Check.started_at.desc(), Check.id.desc())
    rank = func.row_number().over(partition_by=Check.server_id, order_by=newest_first)
    ranked = (
        select(Check.id, rank.label("n"))
        .where(Check.server_id.in_(server_ids), Check.outcome != Outcome.RUNNING)
        .subquery()
    )
    query = select(Check).join(ranked, ranked.c.id == Check.id).where(ranked.c.n == 1)
    return list(db.session.scalars(query))


def _newest_running(server_ids: list[int]):
    return db.session.execute(
        select(Check.server_id, func.max(Check.started_at))
        .where(Check.server_id.in_(server_ids), Check.outcome == Outcome.RUNNING)
        .group_by(Check.server_id)
    ).all()


def _failing_since(server_ids: list[int]):
    """When each server's current run of failed checks began (the first check after its last good one)."""
    if not server_ids:
        return []
    last_good = (
        select(Check.server_id, func.max(Check.started_at).label("at"))
        .where(Check.server_id.in_(server_ids), Check.outcome.in_((Outcome.OK, Outcome.PARTIAL)))
        .group_by(Check.server_id)
        .subquery()
    )
    return db.session.execute(
        select(Check.server_id, func.min(Check.started_at))
        .outerjoin(last_good, last_good.c.server_id == Check.server_id)
        .where(
            Check.server_id.in_(server_ids),
            Check.outcome == Outcome.FAILED,
            or_(last_good.c.at.is_(None), Check.started_at > last_good.c.at),
        )
        .group_by(Check.server_id)
    ).all()
