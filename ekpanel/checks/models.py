"""The record of each check of a server, and of every message it examined."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

TRIGGER_SCHEDULE = "schedule"
TRIGGER_REFRESH = "refresh"
TRIGGER_CLI = "cli"

OUTCOME_RUNNING = "running"
OUTCOME_OK = "ok"
OUTCOME_PARTIAL = "partial"  # the server answered, but some messages or folders had errors
OUTCOME_FAILED = "failed"

DECISION_TAKEN = "taken"
DECISION_SKIPPED = "skipped"
DECISION_ERROR = "error"

# Reasons a message is skipped; stable codes, translated for display.
REASON_SENDER = "sender not on the list"
REASON_NO_ATTACHMENT = "no attachment"
REASON_NO_PDF = "no PDF"
REASON_TOO_LARGE = "PDF too large"
REASON_DUPLICATE = "duplicate"


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
    outcome: Mapped[str] = mapped_column(String(16), default=OUTCOME_RUNNING)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    # The check's own log beside its decisions: folders not found, messages that could not be moved.
    warnings: Mapped[str | None] = mapped_column(Text)

    examined: Mapped[int] = mapped_column(Integer, default=0)
    taken: Mapped[int] = mapped_column(Integer, default=0)  # messages taken
    documents: Mapped[int] = mapped_column(Integer, default=0)  # documents created
    skipped_sender: Mapped[int] = mapped_column(Integer, default=0)
    skipped_no_attachment: Mapped[int] = mapped_column(Integer, default=0)
    skipped_no_pdf: Mapped[int] = mapped_column(Integer, default=0)
    skipped_too_large: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)

    server = relationship("MailServer")
    user = relationship("User")
    decisions = relationship(
        "Decision", back_populates="check", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def skipped(self) -> int:
        return self.skipped_sender + self.skipped_no_attachment + self.skipped_no_pdf + self.skipped_too_large


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
    message_key: Mapped[str] = mapped_column(String(64))  # see ekpanel.mail.check.message_key
    message_id: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    check = relationship("Check", back_populates="decisions")
