"""Template filters and globals shared by every page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal, gettext

ONE_DECIMAL = "#,##0.0"


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A naive-UTC database time, shown in the office's time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)


def file_size(size: int | None) -> str:
    """Bytes as B, KB or MB in the user's language: "2,9 KB" in Polish, "2.9 KB" in English."""
    if size is None:
        return ""
    if size < 1024:
        return f"{format_decimal(size)} B"
    if size < 1024 * 1024:
        return f"{format_decimal(size / 1024, format=ONE_DECIMAL)} KB"
    return f"{format_decimal(size / (1024 * 1024), format=ONE_DECIMAL)} MB"


def stored_text(value: str | None) -> str:
    """A message a check stored as text, in the reader's language when the catalog has it.

    A check runs in a worker, with no user, so it stores its messages in Polish (the msgids). Those
    without parameters ("Serwer odrzucił nazwę użytkownika lub hasło.") are msgids as they stand.
    """
    return gettext(value) if value else ""


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(file_size, "file_size")
    app.add_template_filter(stored_text, "stored_text")
