"""Template filters and globals shared by every page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal, gettext
from markupsafe import Markup, escape

from ekpanel.mail.texts import MSGIDS, Note

ONE_DECIMAL = "#,##0.0"
TWO_DECIMALS = "#,##0.00"


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


def amount(value: Decimal | None) -> str:
    """Money with two decimals in the user's language: "1 230,00" in Polish, "1,230.00" in English."""
    return "" if value is None else format_decimal(value, format=TWO_DECIMALS)


def breakable(value: str | None) -> Markup:
    """Text that may break after each slash and nowhere else (an invoice number in a narrow column)."""
    return escape(value or "").replace("/", Markup("/<wbr>"))


def render_note(value: Note | Mapping | None) -> str:
    """A stored message in the reader's language: its code's msgid through gettext, with its parameters.

    A mapping is a text stored before messages were notes, which the migration could not read:
    shown as it was stored.
    """
    if value is None:
        return ""
    if not isinstance(value, Note):
        return str(value.get("text") or "")
    params = {
        name: render_note(param) if isinstance(param, Note) else param for name, param in value.params.items()
    }
    return gettext(MSGIDS[value.code], **params)


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(file_size, "file_size")
    app.add_template_filter(amount, "amount")
    app.add_template_filter(breakable, "breakable")
    app.add_template_filter(render_note, "note")
