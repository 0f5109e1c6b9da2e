"""Messages "Wymagaj" kept out that an administrator allows anyway, once ("Pobierz mimo to").

A message skipped because its sender is not confirmed stays in its folder, and the folder's cursor
moves past it like past any skipped message. Allowing it records a :class:`SenderException`; the
next check fetches the message again by its id (as held-back messages are, ``held``), takes it,
and the documents name who allowed it. The check calls these inside its transaction; it commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ekpanel.checks.models import Decision, SenderException
from ekpanel.extensions import db
from ekpanel.mail import vocabulary
from ekpanel.mail.mailbox import RemoteFolder
from ekpanel.mail.vocabulary import Reason
from ekpanel.timeutil import utcnow

# The skips a person may overrule: only the sender's verdict; a missing PDF stays missing.
ALLOWABLE_REASONS = frozenset({Reason.SENDER_UNCONFIRMED, Reason.SENDER_FAILED})


@dataclass(frozen=True)
class Allowance:
    """A pending exception as the check carries it: whose decision it was."""

    exception_id: int
    allowed_by_id: int | None


def may_allow(decision: Decision) -> bool:
    return decision.decision == vocabulary.Decision.SKIPPED and decision.reason in ALLOWABLE_REASONS


def allow(decision: Decision, user_id: int) -> SenderException | None:
    """Let the message of ``decision`` in at the next check; None when it cannot be allowed (not a
    sender-verification skip) or already was (each message once)."""
    if not may_allow(decision):
        return None
    exception = SenderException(
        server_id=decision.server_id,
        message_key=decision.message_key,
        folder=decision.folder,
        message_ref=decision.message_ref,
        sender=decision.sender,
        subject=decision.subject,
        allowed_by_id=user_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(exception)
    except IntegrityError:  # allowed before (or by someone else just now)
        return None
    return exception


def for_keys(server_id: int, keys: set[str]) -> dict[str, SenderException]:
    """The exceptions of these messages of the server, pending or used: what the log shows."""
    if not keys:
        return {}
    rows = db.session.scalars(
        select(SenderException)
        .where(SenderException.server_id == server_id, SenderException.message_key.in_(keys))
        .options(selectinload(SenderException.allowed_by))  # the log names who allowed each
    )
    return {row.message_key: row for row in rows}


_EXCEPTIONS = SenderException.__table__
# Built once: every check asks it.
_PENDING = select(_EXCEPTIONS.c.message_key, _EXCEPTIONS.c.id, _EXCEPTIONS.c.allowed_by_id).where(
    _EXCEPTIONS.c.server_id == bindparam("server"), _EXCEPTIONS.c.used_at.is_(None)
)


def pending(server_id: int) -> dict[str, Allowance]:
    """Message key → allowance, for every message of the server allowed and not yet taken."""
    rows = db.session.execute(_PENDING, {"server": server_id})
    return {row.message_key: Allowance(row.id, row.allowed_by_id) for row in rows}


def refs_to_fetch(server_id: int, folder: RemoteFolder) -> list[str]:
    """The folder's allowed messages still waiting: the check fetches them again by their ids."""
    return list(
        db.session.scalars(
            select(SenderException.message_ref)
            .where(
                SenderException.server_id == server_id,
                SenderException.folder == folder.display[:500],
                SenderException.used_at.is_(None),
            )
            .order_by(SenderException.id)
        )
    )


def mark_used(server_id: int, keys: list[str]) -> None:
    """These allowed messages were taken: each allowance is spent."""
    if keys:
        db.session.execute(
            update(SenderException)
            .where(
                SenderException.server_id == server_id,
                SenderException.message_key.in_(keys),
                SenderException.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )


def mark_gone(server_id: int, folder: RemoteFolder, refs: list[str]) -> None:
    """These allowed messages are no longer in their folder (deleted, moved by a person)."""
    if refs:
        db.session.execute(
            update(SenderException)
            .where(
                SenderException.server_id == server_id,
                SenderException.folder == folder.display[:500],
                SenderException.message_ref.in_([ref[:500] for ref in refs]),
                SenderException.used_at.is_(None),
            )
            .values(used_at=utcnow(), gone=True)
        )
