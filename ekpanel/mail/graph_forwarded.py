"""Forwarded messages (Graph item attachments): their parts, read from their MIME.

Graph lists a forwarded message as one ``itemAttachment``, whose ``$value`` is the MIME of that
message; the PDFs in it are parts of that MIME, numbered as IMAP would number them. Such a part's
ref is ``<attachment id>/<section>``. The MIME is downloaded once per message and kept for the
session, so listing the parts and taking one of them cost one download.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ekpanel.mail.mailbox import AttachmentPart, MailboxError
from ekpanel.mail.structure import StructureError, mime_part_bytes, parts_from_mime
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

_SECTION = re.compile(r"\d+(\.\d+)*")

Download = Callable[[str, str], bytes]  # (message id, attachment id) -> the attachment's $value


class ForwardedMessages:
    """The forwarded messages of one Graph session, each downloaded once."""

    def __init__(self, download: Download) -> None:
        self._download = download
        self._mime: dict[tuple[str, str], bytes] = {}  # (message id, attachment id) -> MIME

    def parts(self, message_ref: str, item: dict) -> list[AttachmentPart]:
        """The parts of the forwarded message ``item`` (an attachment of ``message_ref``)."""
        raw = self._raw(message_ref, item["id"])
        try:
            inner = parts_from_mime(raw)
        except StructureError as error:
            raise MailboxError(
                ErrorCode.MESSAGE_MISSING,
                note(Text.GRAPH_FORWARDED_UNREADABLE, name=item.get("name") or ""),
                detail=str(error),
            ) from error
        return [
            AttachmentPart(
                ref=f"{item['id']}/{part.ref}",
                filename=part.filename,
                content_type=part.content_type,
                size=part.size,
                disposition=part.disposition,
                in_forwarded=True,
            )
            for part in inner
        ]

    def part_bytes(self, message_ref: str, part: AttachmentPart) -> bytes | None:
        """The decoded bytes of ``part``; None when it is not a part of a forwarded message."""
        attachment_id, _slash, section = part.ref.rpartition("/")
        if not (part.in_forwarded and attachment_id and _SECTION.fullmatch(section)):
            return None
        try:
            return mime_part_bytes(self._raw(message_ref, attachment_id), section)
        except (KeyError, StructureError) as error:
            raise MailboxError(
                ErrorCode.MESSAGE_MISSING, note(Text.GRAPH_FORWARDED_PART_MISSING), detail=str(error)
            ) from error

    def clear(self) -> None:
        self._mime.clear()

    def _raw(self, message_ref: str, attachment_id: str) -> bytes:
        key = (message_ref, attachment_id)
        if key not in self._mime:
            self._mime[key] = self._download(message_ref, attachment_id)
        return self._mime[key]
