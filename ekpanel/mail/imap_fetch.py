"""What the check's FETCH answers hold, made into MessageSummary and decoded parts.

The answers themselves are read by :mod:`ekpanel.mail.fetch_response`.
"""

from __future__ import annotations

import base64
import email.utils
import quopri
import re
from datetime import UTC, datetime
from typing import Any

from ekpanel.mail.fetch_response import PartialStructure
from ekpanel.mail.headers import decode_words, fingerprint, header_fields
from ekpanel.mail.mailbox import AttachmentPart, MessageSummary
from ekpanel.mail.structure import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PARTS,
    StructureBoundExceeded,
    StructureError,
    WalkBound,
    check_bodystructure,
    parts_from_bodystructure,
)
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.whitelist import SenderProblem, read_sender


def sequence_set(uids: list[int]) -> str:
    """``1:3,7,9:10`` for [1, 2, 3, 7, 9, 10] (sorted input)."""
    ranges: list[list[int]] = []
    for uid in uids:
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


def decode_transfer_encoding(raw: bytes, encoding: str | None) -> bytes:
    """A part's bytes from its Content-Transfer-Encoding, tolerant of what mailers really send."""
    encoding = (encoding or "").strip().lower()
    if encoding == "base64":
        # Line breaks, stray characters and missing padding are common; decode what is there.
        alphabet_only = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
        if len(alphabet_only) % 4 == 1:
            alphabet_only = alphabet_only[:-1]
        return base64.b64decode(alphabet_only + b"=" * (-len(alphabet_only) % 4))
    if encoding == "quoted-printable":
        return quopri.decodestring(raw)
    return raw


def summary_from_fetch(
    uid: int,
    data: dict[bytes, Any],
    *,
    with_structure: bool = True,
    max_parts: int = DEFAULT_MAX_PARTS,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> MessageSummary:
    """The summary of one message from its FETCH items; never raises. A structure that cannot be
    read, or is beyond ``max_parts`` / ``max_depth``, is the summary's ``parse_error``."""
    # Servers differ in how they echo the item name; the prefix is enough to find it.
    raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"")
    headers = header_fields(raw if isinstance(raw, bytes) else b"")
    message_id = headers.get("message-id")
    message_id = message_id.strip().strip("<>").strip() if message_id else None
    from_value = headers.get("from")
    subject = decode_words(headers.get("subject") or "")
    date_value = headers.get("date")
    sender = read_sender(from_value)
    summary = MessageSummary(
        ref=str(uid),
        message_id=message_id or None,
        sender=sender.address,
        sender_ambiguous=sender.problem == SenderProblem.AMBIGUOUS,
        subject=subject,
        received_at=_received_at(data.get(b"INTERNALDATE"), date_value),
        header_hash=_imap_header_hash(message_id, from_value, date_value, subject, data.get(b"RFC822.SIZE")),
    )
    if with_structure:
        try:
            summary.parts, summary.has_attachments = _walk_structure(
                data.get(b"BODYSTRUCTURE"), max_parts=max_parts, max_depth=max_depth
            )
        except StructureBoundExceeded as beyond:
            summary.parse_error = bound_note(beyond)
        except StructureError:
            summary.parse_error = note(Text.IMAP_STRUCTURE_UNREADABLE)
    return summary


def _walk_structure(structure: Any, *, max_parts: int, max_depth: int) -> tuple[list[AttachmentPart], bool]:
    """:func:`parts_from_bodystructure`, of a PartialStructure too: where the count over its
    prefix stops, the walk over the whole stops the same way; only when it ends is the whole read."""
    if isinstance(structure, PartialStructure):
        check_bodystructure(structure.prefix, max_parts=max_parts, max_depth=max_depth)
        structure = structure.complete()
    return parts_from_bodystructure(structure, max_parts=max_parts, max_depth=max_depth)


def bound_note(beyond: StructureBoundExceeded) -> Note:
    """The decision's words for a message beyond a bound of the walk, naming the bound."""
    code = Text.TOO_MANY_PARTS if beyond.bound == WalkBound.PARTS else Text.NESTED_TOO_DEEP
    return note(code, limit=beyond.limit)


def _imap_header_hash(
    message_id: str | None, from_value: str | None, date_value: str | None, subject: str, size: Any
) -> str:
    """A stable fingerprint of a message for when it has no Message-ID (the size makes two
    similar messages from the same sender at the same second differ)."""
    pieces = [message_id or "", " ".join((from_value or "").split()), " ".join((date_value or "").split())]
    size_text = str(size or "") if isinstance(size, (int, bytes)) else ""
    return fingerprint([*pieces, " ".join(subject.split()), size_text])


def _received_at(internal_date: Any, date_value: str | None) -> datetime | None:
    for value in (internal_date, date_value):
        try:
            if isinstance(value, str) and value:
                value = email.utils.parsedate_to_datetime(value)
            if isinstance(value, datetime):
                return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):  # no date (or none in UTC's range)
            continue
    return None
