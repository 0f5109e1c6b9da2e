"""What Graph's JSON says of a message, as the mailbox interface's plain data.

A line of a delta page becomes a :class:`GraphMessageSummary`, whose attachments are listed
from Graph only when the check first looks at them, and whose Authentication-Results fields are
read (from ``internetMessageHeaders``) only when the sender's verdict is first asked for; a
``fileAttachment`` of that list becomes an
:class:`AttachmentPart`. (A forwarded message, an ``itemAttachment``, is read from its MIME:
``graph_forwarded``.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ekpanel.mail.mailbox import AttachmentPart, MessageSummary
from ekpanel.mail.pdf import decode_filename


@dataclass
class Attachments:
    """A message's attachments as the check sees them: its parts, and whether it has any at all."""

    parts: list[AttachmentPart]
    has_attachments: bool


def _lazy(name: str) -> property:
    def get(self: GraphMessageSummary) -> Any:
        if name in self._assigned:
            return self._assigned[name]
        return getattr(self.attachments(), name)

    def set(self: GraphMessageSummary, value: Any) -> None:
        self._assigned[name] = value

    return property(get, set)


def _lazy_authentication_results() -> property:
    name = "authentication_results"

    def get(self: GraphMessageSummary) -> tuple[str, ...] | None:
        if name in self._assigned:
            return self._assigned[name]
        if self._authentication_results is None and self._load_headers is not None:
            self._authentication_results = self._load_headers()
        return self._authentication_results

    def set(self: GraphMessageSummary, value: tuple[str, ...] | None) -> None:
        self._assigned[name] = value

    return property(get, set)


class GraphMessageSummary(MessageSummary):
    """A message summary whose attachment list is read from Graph on first use.

    The check (``decide``) looks at ``parse_error`` and the sender before the attachments, so a
    message from a sender who is not on the whitelist never costs an attachment request.
    ``parts`` and ``has_attachments`` load together on first access to either; everything
    else is plain data. ``parse_error`` stays None: a structure that cannot be read shows up
    when it is loaded, as ``MailboxError("message_missing")``, which the check records as that
    message's error. Graph's own ``hasAttachments`` is kept aside (``graph_has_attachments``)
    and not used for the decision: it ignores inline attachments. ``authentication_results`` is
    read on its first access, with ``load_headers`` (one request), and only then.
    """

    parts = _lazy("parts")
    has_attachments = _lazy("has_attachments")
    authentication_results = _lazy_authentication_results()

    def __init__(
        self,
        load: Callable[[], Attachments],
        graph_has_attachments: bool,
        load_headers: Callable[[], tuple[str, ...]] | None = None,
        **fields: Any,
    ) -> None:
        self._assigned: dict[str, Any] = {}
        self._load = load
        self._attachments: Attachments | None = None
        self._load_headers = load_headers
        self._authentication_results: tuple[str, ...] | None = None
        self.graph_has_attachments = graph_has_attachments
        super().__init__(**fields)
        self._assigned.clear()  # the dataclass __init__ set the defaults through the properties

    @property
    def loaded(self) -> bool:
        return self._attachments is not None

    def attachments(self) -> Attachments:
        if self._attachments is None:
            self._attachments = self._load()
        return self._attachments

    def __repr__(self) -> str:  # never a request just to print a message
        state = f"{len(self.parts)} parts" if self.loaded else "parts not loaded"
        return f"<GraphMessageSummary {self.ref[:16]}… from {self.sender!r} {self.subject!r} ({state})>"


def summary_from_item(
    item: dict,
    load: Callable[[], Attachments],
    load_headers: Callable[[], tuple[str, ...]] | None = None,
) -> GraphMessageSummary:
    """The summary of one message of a delta page; ``load`` lists its attachments when asked,
    ``load_headers`` reads its Authentication-Results fields when asked."""
    message_id = (item.get("internetMessageId") or "").strip().strip("<>").strip() or None
    sender = ((item.get("from") or {}).get("emailAddress") or {}).get("address") or None
    subject = item.get("subject") or ""
    return GraphMessageSummary(
        load,
        bool(item.get("hasAttachments")),
        load_headers,
        ref=item["id"],
        message_id=message_id,
        sender=sender.strip() if sender else None,
        subject=subject,
        received_at=_datetime(item.get("receivedDateTime")),
        header_hash=_header_hash(message_id, sender, item.get("sentDateTime"), subject),
    )


def attachment_kind(item: dict) -> str:
    """``file``, ``item`` (a forwarded message) or ``reference`` (a link to a file in the cloud)."""
    kind = (item.get("@odata.type") or "").lower()
    for name in ("file", "item", "reference"):
        if kind.endswith(f"{name}attachment"):
            return name
    return ""


def file_part(item: dict) -> AttachmentPart:
    """A ``fileAttachment`` of the attachment list as a part (its content is not loaded)."""
    return AttachmentPart(
        ref=item["id"],
        filename=decode_filename(item.get("name")),
        content_type=media_type(item.get("contentType")),
        size=item.get("size"),
        disposition="inline" if item.get("isInline") else "attachment",
    )


def _header_hash(message_id: str | None, sender: str | None, sent: str | None, subject: str) -> str:
    """A stable fingerprint of a message for when it has no Message-ID."""
    pieces = [message_id or "", (sender or "").lower(), sent or "", " ".join(subject.split())]
    return hashlib.sha256("\x00".join(pieces).encode("utf-8", "surrogatepass")).hexdigest()


def media_type(value: str | None) -> str:
    """Lower-case ``type/subtype`` of a ``contentType``; anything unreadable is octet-stream."""
    text = (value or "").split(";", 1)[0].strip().lower()
    return text if "/" in text else "application/octet-stream"


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
