"""Searching the audit log: newest first, by text, action and day, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select

from ekpanel.audit.models import AuditEntry
from ekpanel.extensions import db
from ekpanel.textsearch import contains_pattern
from ekpanel.timeutil import day_start_utc

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    text: str = ""  # who, the address, what it concerned, or anything in the details (a sender, a folder)
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


def search(filters: AuditFilters, timezone: str, *, before_id: int | None = None) -> list[AuditEntry]:
    """Up to PAGE_SIZE + 1 entries (one more tells that an older page exists), older than ``before_id``."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.date_from:
        query = query.where(AuditEntry.created_at >= day_start_utc(filters.date_from, timezone))
    if filters.date_to:
        next_day = day_start_utc(filters.date_to + timedelta(days=1), timezone)
        query = query.where(AuditEntry.created_at < next_day)
    text = filters.text.strip()
    if text:
        pattern = contains_pattern(text)
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        AuditEntry.actor_login,
                        AuditEntry.address,
                        AuditEntry.target_label,
                        AuditEntry.details,
                    )
                )
            )
        )
    return list(db.session.scalars(query))
