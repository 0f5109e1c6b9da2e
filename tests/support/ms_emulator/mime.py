"""MIME in and out: how Exchange reads a delivered RFC 822 message, and the MIME of one added by fields.

``parse_mime`` gives what Graph shows of a message (sender, subject, body, attachments: message/rfc822
parts become itemAttachments); ``internet_headers`` its ``internetMessageHeaders``; ``synthesize_mime`` gives
``$value`` for messages arranged with ``add_message``.
"""

from __future__ import annotations

import email
import email.policy
import mimetypes
import re
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses
from typing import Any

from .model import Attachment
from .values import as_utc, bracket


def header_str(value: Any) -> str:
    try:
        return str(value) if value is not None else ""
    except Exception:  # a header the stdlib cannot decode: keep something readable
        return ""


def parse_mime(raw: bytes) -> dict[str, Any]:
    """Read an RFC 822 message the way Exchange would present it through Graph."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = header_str(msg.get("Subject"))
    sender_name = sender_addr = None
    from_value = header_str(msg.get("From"))
    if from_value:
        pairs = getaddresses([from_value])
        if pairs and (pairs[0][0] or pairs[0][1]):
            sender_name, sender_addr = pairs[0][0] or None, pairs[0][1] or None
    to = [(n, a) for n, a in getaddresses([header_str(v) for v in msg.get_all("To") or []]) if a]
    date = None
    try:
        header = msg.get("Date")
        if header is not None and getattr(header, "datetime", None) is not None:
            date = as_utc(header.datetime)
    except Exception:
        date = None
    state: dict[str, Any] = {"plain": None, "html": None, "attachments": [], "unnamed": 0}
    _walk(msg, state, in_related=False, top=True)
    if state["html"] is not None:
        body_type, body = "html", state["html"]
    else:
        body_type, body = "text", state["plain"] or ""
    return {
        "subject": subject,
        "sender_name": sender_name,
        "sender_addr": sender_addr,
        "to": to,
        "message_id": bracket(header_str(msg.get("Message-ID"))),
        "date": date,
        "body_type": body_type,
        "body": body,
        "attachments": state["attachments"],
    }


_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII but the colon


def internet_headers(raw: bytes) -> list[tuple[str, str]]:
    """The message's header fields as Graph lists them in ``internetMessageHeaders``.

    Exchange keeps the header block as received (the transport headers): every field in order, repeated
    fields (``Received``, ``Authentication-Results``) each on their own, values unfolded (RFC 5322 2.2.3: the
    line breaks go, the whitespace after them stays) but not decoded, so encoded-words stay as written.
    Lines that are no header field (an mbox ``From `` line, garbage) are left out.
    """
    fields: list[tuple[str, str]] = []
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line:
            break  # the blank line that ends the header block
        text = line.decode("utf-8", "replace")
        if text[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, value + text)
            continue
        name, colon, value = text.partition(":")
        if colon and _FIELD_NAME.fullmatch(name):
            fields.append((name, value))
    return [(name, value.strip(" \t")) for name, value in fields]


def _walk(part: Message, state: dict[str, Any], *, in_related: bool, top: bool = False) -> None:
    ctype = part.get_content_type()
    if ctype == "message/rfc822" and not top:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if inner is not None:
            try:
                item = inner.as_bytes(policy=inner.policy.clone(linesep="\r\n"))
            except Exception:  # headers the generator cannot refold: keep the compat32 rendering
                item = inner.as_bytes(policy=email.policy.compat32)
            name = header_str(inner.get("Subject")) or _safe_filename(part) or "Untitled message"
        else:
            item = part.get_payload(decode=True) or b""
            name = _safe_filename(part) or "Untitled message"
        state["attachments"].append(
            {
                "name": name,
                "content_type": "message/rfc822",
                "content": item,
                "is_inline": False,
                "is_item": True,
                "content_id": None,
            }
        )
        return
    if part.is_multipart():
        related = in_related or ctype == "multipart/related"
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _walk(sub, state, in_related=related)
        return
    disposition = part.get_content_disposition()
    filename = _safe_filename(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        slot = "html" if ctype == "text/html" else "plain"
        if state[slot] is None:
            try:
                state[slot] = part.get_content()
            except Exception:
                state[slot] = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
            return
    content = part.get_payload(decode=True) or b""
    content_id = header_str(part.get("Content-ID")).strip() or None
    is_inline = disposition == "inline" or (disposition is None and in_related and content_id is not None)
    if not filename:
        state["unnamed"] += 1
        filename = f"ATT{state['unnamed']:05d}{mimetypes.guess_extension(ctype) or '.bin'}"
    state["attachments"].append(
        {
            "name": filename,
            "content_type": ctype,
            "content": content,
            "is_inline": is_inline,
            "is_item": False,
            "content_id": content_id,
        }
    )


def _safe_filename(part: Message) -> str | None:
    try:
        return part.get_filename() or None
    except Exception:
        return None


def synthesize_mime(
    name: str,
    addr: str,
    to: str,
    subject: str,
    date: datetime,
    message_id: str,
    body: str,
    attachments: list[Attachment],
) -> bytes:
    """The MIME a message added with add_message would have, for ``messages/{id}/$value``."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{addr}>" if name else addr
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg.set_content(body or "")
    for att in attachments:
        if att.is_item:
            inner = email.message_from_bytes(att.content, policy=email.policy.default)
            msg.add_attachment(inner)
        else:
            maintype, _, subtype = att.content_type.partition("/")
            msg.add_attachment(
                att.content,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=att.name,
                disposition="inline" if att.is_inline else "attachment",
                cid=f"<{att.content_id}>" if att.content_id else None,
            )
    return msg.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
