"""The rows of alerts: each event once (its keys), one delivery per recipient (the outbox), the choices.

An event is written together with its idempotency keys (``alert_keys``, one primary key each) and its
deliveries, in one transaction: a key already taken means the event was raised before, and the
whole insert is dropped. So a retried job, two clocks or two workers raise an event once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

# A delivery's states. pending → sending (claimed, before the server has the whole message) →
# handed_over (the final dot is about to go) → sent. See ekpanel.alerts.delivery.
PENDING = "pending"
SENDING = "sending"
HANDED_OVER = "handed_over"
SENT = "sent"
FAILED = "failed"  # refused for good (the recipient, the message), or a test message that failed
UNCERTAIN = "uncertain"  # the dot went out and the answer never came back: maybe delivered, not resent


class AlertEvent(db.Model):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # ekpanel.alerts.topics.EventKind
    topic: Mapped[str] = mapped_column(String(30))  # who wants it: ekpanel.alerts.topics.Topic
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    server_id: Mapped[int | None] = mapped_column(ForeignKey("mail_servers.id", ondelete="SET NULL"))
    # A digest is one person's: theirs.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    deliveries = relationship("AlertDelivery", back_populates="event", passive_deletes=True)


class AlertKey(db.Model):
    """An event's idempotency key: ``server:7:episode:123:start``, ``digest:4:2026-03-29``…"""

    __tablename__ = "alert_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"), index=True)


class AlertDelivery(db.Model):
    """One message to one address: composed when the event is raised, then sent by a job."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "address"),
        Index("ix_alert_deliveries_state_due", "state", "next_attempt_at"),
        Index("ix_alert_deliveries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="pl")
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250))  # the same on every attempt
    retry: Mapped[bool] = mapped_column(Boolean, default=True)  # a test message answers at once instead
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)  # a claim older than this was abandoned
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    event = relationship("AlertEvent", back_populates="deliveries")
    user = relationship("User")


class AlertChoice(db.Model):
    """A user's own choice for one topic; without a row, their role's default holds."""

    __tablename__ = "alert_choices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(30), primary_key=True)
    wanted: Mapped[bool] = mapped_column(Boolean)
