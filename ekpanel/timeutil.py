"""Time helpers: the database stores UTC; people see the office's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what the database columns hold on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def day_start_utc(day: date, timezone: str) -> datetime:
    """Midnight at the start of ``day`` in ``timezone``, as naive UTC: a date filter's lower bound."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC).replace(tzinfo=None)
