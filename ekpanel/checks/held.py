"""Messages held back after a failure: tried again by the next checks, then handed to a person.

The check (``ekpanel.checks.run``) calls these inside its transaction; it commits.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, select

from ekpanel.checks.models import HELD_NEEDS_PERSON, HELD_RETRY_REQUESTED, HELD_RETRYING, HeldMessage
from ekpanel.checks.records import naive_utc
from ekpanel.extensions import db
from ekpanel.mail.mailbox import MessageSummary, RemoteFolder
from ekpanel.mail.texts import Note
from ekpanel.timeutil import utcnow

_HELD = HeldMessage.__table__
# Built once: every check of every folder asks it.
_TO_RETRY = (
    select(_HELD.c.message_ref)
    .where(
        _HELD.c.server_id == bindparam("server"),
        _HELD.c.folder == bindparam("folder"),
        _HELD.c.state.in_((HELD_RETRYING, HELD_RETRY_REQUESTED)),
    )
    .order_by(_HELD.c.id)
)


def refs_to_retry(server_id: int, folder: RemoteFolder) -> list[str]:
    """The folder's held messages the next check fetches again."""
    return list(db.session.scalars(_TO_RETRY, {"server": server_id, "folder": folder.ref}))


def record_failure(
    server_id: int, folder: RemoteFolder, message: MessageSummary, why: Note | None
) -> HeldMessage:
    """One more failed attempt at ``message``; after the last one it waits for a person."""
    held = _held(server_id, folder, message.ref)
    if held is None:
        held = HeldMessage(
            server_id=server_id,
            folder=folder.ref,
            folder_display=folder.display[:500],
            message_ref=message.ref[:500],
        )
        db.session.add(held)
    held.sender = (message.sender or "")[:320] or None
    held.subject = message.subject
    held.received_at = naive_utc(message.received_at)
    _count_attempt(held, why)
    return held


def record_unreadable(server_id: int, folder: RemoteFolder, ref: str, why: Note) -> None:
    """A held message the server failed to hand over this time: one more failed attempt at it.
    What was known of it (sender, subject) stays."""
    held = _held(server_id, folder, ref)
    if held is not None:
        _count_attempt(held, why)


def _held(server_id: int, folder: RemoteFolder, ref: str) -> HeldMessage | None:
    return db.session.scalars(
        select(HeldMessage).where(
            HeldMessage.server_id == server_id,
            HeldMessage.folder == folder.ref,
            HeldMessage.message_ref == ref[:500],
        )
    ).first()


def _count_attempt(held: HeldMessage, why: Note | None) -> None:
    if held.state == HELD_RETRY_REQUESTED:
        held.state, held.attempts = HELD_RETRYING, HeldMessage.MAX_ATTEMPTS - 1  # one more try, as asked
    held.attempts = (held.attempts or 0) + 1
    held.error_note = why.to_json() if why else None
    held.last_failed_at = utcnow()
    if held.attempts >= HeldMessage.MAX_ATTEMPTS:
        held.state = HELD_NEEDS_PERSON


def release(server_id: int, folder: RemoteFolder, refs: list[str]) -> None:
    """These messages were decided (taken, skipped) or are gone: nothing holds them any more."""
    if refs:
        db.session.execute(
            delete(HeldMessage).where(
                HeldMessage.server_id == server_id,
                HeldMessage.folder == folder.ref,
                HeldMessage.message_ref.in_([ref[:500] for ref in refs]),
            )
        )


def forget_folder(server_id: int, folder: RemoteFolder) -> bool:
    """The folder is scanned in full again (its UIDs changed): every message in it will be met anew.

    True when there was something to forget. Looked for first: on SQLite a DELETE takes the write
    lock even when it deletes nothing, and the check goes on talking to its mail server meanwhile.
    """
    rows = (HeldMessage.server_id == server_id, HeldMessage.folder == folder.ref)
    if db.session.scalar(select(HeldMessage.id).where(*rows).limit(1)) is None:
        return False
    db.session.execute(delete(HeldMessage).where(*rows))
    return True


def needing_person(server_id: int) -> list[HeldMessage]:
    return list(
        db.session.scalars(
            select(HeldMessage)
            .where(HeldMessage.server_id == server_id, HeldMessage.state == HELD_NEEDS_PERSON)
            .order_by(HeldMessage.last_failed_at.desc())
        )
    )


def needing_person_counts(server_ids: list[int]) -> dict[int, int]:
    """Per server, how many messages wait for a person: one query for a whole list."""
    if not server_ids:
        return {}
    rows = db.session.execute(
        select(HeldMessage.server_id, func.count())
        .where(HeldMessage.server_id.in_(server_ids), HeldMessage.state == HELD_NEEDS_PERSON)
        .group_by(HeldMessage.server_id)
    )
    return {server_id: count for server_id, count in rows}


def request_retry(held: HeldMessage) -> None:
    """An administrator sends the message for one more try (by the next check)."""
    held.state = HELD_RETRY_REQUESTED
