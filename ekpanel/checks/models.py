"""The rows a check writes: the check itself, every message it examined, and each folder's cursor.

Messages for people (an error, warnings, a decision's detail) are stored as notes: a code and its
parameters as JSON (``ekpanel.mail.texts``), rendered in the reader's language when shown. A text
stored before notes existed that the migration could not read stays as ``{"text": ...}`` and is
shown as it was stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, composite, mapped_column, relationship

from ekpanel.checks.counts import COUNT_COLUMNS, CheckCounts
from ekpanel.extensions import db
from ekpanel.mail.texts import Note
from ekpanel.mail.vocabulary import Outcome
from ekpanel.timeutil import utcnow

TRIGGER_SCHEDULE = "schedule"
TRIGGER_REFRESH = "refresh"
TRIGGER_CLI = "cli"


class Check(db.Model):
    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_server_started", "server_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mail_servers.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_id: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.RUNNING)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_note: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The check's own log beside its decisions: folders not found, messages that could not be moved.
    warning_notes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    examined: Mapped[int] = mapped_column(Integer, default=0)
    taken: Mapped[int] = mapped_column(Integer, default=0)  # messages taken
    documents: Mapped[int] = mapped_column(Integer, default=0)  # documents created
    skipped_sender: Mapped[int] = mapped_column(Integer, default=0)
    skipped_no_attachment: Mapped[int] = mapped_column(Integer, default=0)
    skipped_no_pdf: Mapped[int] = mapped_column(Integer, default=0)
    skipped_too_large: Mapped[int] = mapped_column(Integer, default=0)
    skipped_unverified: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    senders_judged: Mapped[int] = mapped_column(Integer, default=0)
    senders_without_authres: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[CheckCounts] = composite(CheckCounts, *COUNT_COLUMNS)

    server = relationship("MailServer")
    user = relationship("User")
    decisions = relationship(
        "Decision", back_populates="check", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def error(self) -> Note | dict | None:
        return stored_note(self.error_note)

    @property
    def warnings(self) -> list[Note | dict]:
        return [stored_note(item) for item in self.warning_notes or []]


class Decision(db.Model):
    """One message a check examined, and what became of it."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_check", "check_id"),
        Index("ix_decisions_server_message", "server_id", "message_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    server_id: Mapped[int] = mapped_column(ForeignKey("mail_servers.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(500))
    message_ref: Mapped[str] = mapped_column(String(500))  # UID or Graph id at the time
    message_key: Mapped[str] = mapped_column(String(64))  # see ekpanel.mail.decide.message_key
    message_id: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail_note: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    check = relationship("Check", back_populates="decisions")

    @property
    def detail(self) -> Note | dict | None:
        return stored_note(self.detail_note)


class FolderState(db.Model):
    """Where the last check of one configured folder stopped (IMAP UID or Graph delta link).

    ``config_hash`` is the whitelist and folder list it was made under: when they change,
    the folder is scanned in full again.
    """

    __tablename__ = "folder_states"
    __table_args__ = (UniqueConstraint("server_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mail_servers.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(500))  # the folder as resolved on the server
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int | None] = mapped_column(BigInteger)
    delta_link: Mapped[str | None] = mapped_column(Text)
    config_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    server = relationship("MailServer", back_populates="folder_states")


HELD_RETRYING = "retrying"  # tried again by the next checks
HELD_NEEDS_PERSON = "needs_person"  # "do wyjaśnienia": failed MAX_ATTEMPTS times, waits for a person
HELD_RETRY_REQUESTED = "retry_requested"  # an administrator asked for one more try


class HeldMessage(db.Model):
    """A message whose check failed (unreadable structure, a part that vanished, a refused fetch).

    The folder's cursor moves past it, so the messages behind it are not held up; this row keeps it
    from being skipped. The next checks fetch it again by its id, up to MAX_ATTEMPTS times in all;
    then it waits for a person. A message that is taken, skipped for a reason, or gone from the
    folder lets its row go.
    """

    __tablename__ = "held_messages"
    __table_args__ = (UniqueConstraint("server_id", "folder", "message_ref"),)

    MAX_ATTEMPTS = 3

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mail_servers.id", ondelete="CASCADE"), index=True)
    folder: Mapped[str] = mapped_column(String(500))  # the folder's ref, as FolderState.folder
    folder_display: Mapped[str] = mapped_column(String(500))
    message_ref: Mapped[str] = mapped_column(String(500))  # IMAP UID or Graph id
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default=HELD_RETRYING)
    error_note: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_failed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def error(self) -> Note | dict | None:
        return stored_note(self.error_note)


class SenderException(db.Model):
    """A message "Wymagaj" kept out, which an administrator allowed anyway, once.

    The folder's cursor moved past the message when it was skipped, so the next check fetches it
    again by its id (``message_ref`` in the folder shown as ``folder``), and any check that meets
    its ``message_key`` takes it, recording ``allowed_by`` on its documents. ``used_at`` is when a
    check took it, or found it gone from its folder (``gone``); after that it allows nothing more.
    """

    __tablename__ = "sender_exceptions"
    __table_args__ = (UniqueConstraint("server_id", "message_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mail_servers.id", ondelete="CASCADE"))
    message_key: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(String(500))  # as the decision shows it (RemoteFolder.display)
    message_ref: Mapped[str] = mapped_column(String(500))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    allowed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)

    allowed_by = relationship("User")


def stored_note(value: dict[str, Any] | None) -> Note | dict | None:
    """A stored message: a Note, or ``{"text": ...}`` for an old text the migration could not read."""
    if not value:
        return None
    if "code" in value:
        return Note.from_json(value) or {"text": value.get("code")}
    return value
