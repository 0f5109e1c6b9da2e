"""Small value helpers shared by both sides of the emulator: times, ids and text as Microsoft writes them."""

from __future__ import annotations

import base64
import mimetypes
import re
import secrets
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str, nbytes: int = 48) -> str:
    """An id shaped like Exchange's: long, URL-safe base64 with ``-``/``_`` and a ``=`` pad."""
    return prefix + secrets.token_urlsafe(nbytes) + "AAA="


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def as_utc(value: datetime | str | None) -> datetime:
    if value is None:
        return now()
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def bracket(message_id: str | None) -> str | None:
    if not message_id:
        return None
    message_id = message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    return message_id


def strip_html(html: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


_ID_RE = re.compile(r"^[A-Za-z0-9+/=_-]{20,}$")


def looks_like_id(ref: str) -> bool:
    """Whether Exchange would take ``ref`` for an id (then an unknown one is 404, otherwise 400 malformed)."""
    return bool(_ID_RE.match(ref))
