"""Delivering mail into a mailbox: from fields (``add_message``) or from raw RFC 822 (``add_raw_message``).

Either way the stored message keeps its MIME, and its header fields are read from that MIME, so ``$value``
and ``internetMessageHeaders`` answer like Exchange's.
"""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from .mime import header_str, internet_headers, parse_mime, synthesize_mime
from .model import Attachment
from .store import MailStore, new_attachment
from .values import as_utc, bracket, guess_type, now


def deliver_fields(
    store: MailStore,
    upn: str,
    folder: str,
    *,
    sender: str,
    subject: str,
    received: datetime | str | None,
    message_id: str | None,
    attachments: list[dict[str, Any]] | None,
    is_read: bool,
    body: str,
    to: str | None,
) -> str:
    """Build the message (and its MIME) from fields; see ``MsEmulator.add_message``."""
    name, addr = parseaddr(sender)
    recipient = to or upn
    received_at = as_utc(received)
    mid = bracket(message_id) or f"<{uuid.uuid4().hex}@emulator.invalid>"
    atts = [_attachment_from_spec(spec) for spec in attachments or []]
    raw = synthesize_mime(name, addr, recipient, subject, received_at, mid, body, atts)
    mb = store.mailbox(upn)
    target = store.find_folder(mb, folder)
    return store.store_message(
        mb,
        target,
        subject=subject,
        sender_name=name or None,
        sender_addr=addr or None,
        to=[("", recipient)],
        received=received_at,
        sent=received_at,
        internet_message_id=mid,
        attachments=atts,
        is_read=is_read,
        body_type="text",
        body=body,
        raw=raw,
        headers=internet_headers(raw),
    )


def _attachment_from_spec(spec: dict[str, Any]) -> Attachment:
    if "item" in spec:
        item = bytes(spec["item"])
        inner = email.message_from_bytes(item, policy=email.policy.default)
        return new_attachment(
            spec.get("name") or header_str(inner.get("Subject")) or "Untitled message",
            "message/rfc822",
            item,
            is_inline=bool(spec.get("is_inline", False)),
            is_item=True,
        )
    return new_attachment(
        spec["name"],
        spec.get("content_type") or guess_type(spec["name"]),
        bytes(spec["content"]),
        is_inline=bool(spec.get("is_inline", False)),
        content_id=spec.get("content_id"),
    )


def deliver_raw(
    store: MailStore, upn: str, folder: str, raw: bytes, *, received: datetime | str | None, is_read: bool
) -> str:
    """Store RFC 822 bytes as Exchange would present them; see ``MsEmulator.add_raw_message``."""
    parsed = parse_mime(raw)
    atts = [
        new_attachment(
            a["name"], a["content_type"], a["content"], a["is_inline"], a["is_item"], a["content_id"]
        )
        for a in parsed["attachments"]
    ]
    received_at = as_utc(received) if received is not None else (parsed["date"] or now())
    mb = store.mailbox(upn)
    target = store.find_folder(mb, folder)
    return store.store_message(
        mb,
        target,
        subject=parsed["subject"],
        sender_name=parsed["sender_name"],
        sender_addr=parsed["sender_addr"],
        to=parsed["to"] or [("", mb.upn)],
        received=received_at,
        sent=parsed["date"] or received_at,
        internet_message_id=parsed["message_id"],
        attachments=atts,
        is_read=is_read,
        body_type=parsed["body_type"],
        body=parsed["body"],
        raw=raw,
        headers=internet_headers(raw),
    )
