"""Time helpers: the database stores UTC; people see the office's time zone."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what the database columns hold on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)
