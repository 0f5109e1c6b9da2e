"""Forwarded messages (Graph item attachments): their parts, read from their MIME as it downloads.

Graph lists a forwarded message as one ``itemAttachment``, whose ``$value`` is the MIME of that
message; the PDFs in it are parts of that MIME, numbered as IMAP would number them. Such a part's
ref is ``<attachment id>/<section>``.

What this costs is bounded by one forwarded message, never by a mailbox:

- a forwarded message bigger than ``MailSettings.max_forwarded_bytes`` is not read at all (by the
  size Graph lists, then by the bytes that really come); it is that message's error;
- the MIME is parsed as it streams in, so its bytes are never held beside the parsed message;
- a part's size is the length of its body as encoded, as IMAP reports it: nothing is decoded
  until the check asks for a part's bytes (decoding a 100 MB PDF only to learn its size cost
  seconds and a gigabyte);
- only the bodies of the parts are kept, and only until the check has decided the message
  (:meth:`ForwardedMessages.forget`).

The names, types and sections of the parts are ``structure.py``'s, read from a *skeleton* of the
message (its MIME without the leaves' bodies); a second skeleton, each leaf named by its number,
tells which leaf, with its real body, is at which section.
"""

from __future__ import annotations

import binascii
import copy
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32

from ekpanel.mail.mailbox import AttachmentPart, MailboxError
from ekpanel.mail.structure import parts_from_mime
from ekpanel.mail.structure_walk import FORWARDED_TYPES, is_section
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

Download = Callable[
    [str, str], Generator[bytes, None, None]
]  # (message id, attachment id) -> its $value, in chunks


@dataclass
class ForwardedMessage:
    """One forwarded message as read: its parts, and the MIME leaf behind each part's section."""

    parts: list[AttachmentPart]
    leaves: dict[str, Message]  # section -> the leaf, its body still encoded

    def part_bytes(self, section: str) -> bytes:
        leaf = self.leaves.get(section)
        if leaf is None:
            raise MailboxError(
                ErrorCode.MESSAGE_MISSING, note(Text.GRAPH_FORWARDED_PART_MISSING), detail=section
            )
        return _decoded_body(leaf)


class ForwardedMessages:
    """The forwarded messages of one Graph session: read when a message's parts are listed, kept
    until the check has decided that message."""

    def __init__(self, download: Download, limit: int) -> None:
        self._download = download
        self._limit = limit
        self._held: dict[str, dict[str, ForwardedMessage]] = {}  # message id -> attachment id -> it

    def parts(self, message_ref: str, item: dict) -> list[AttachmentPart]:
        """The parts of the forwarded message ``item`` (an attachment of ``message_ref``)."""
        name = item.get("name") or ""
        if (item.get("size") or 0) > self._limit:
            raise too_large(name, self._limit)
        with closing(self._download(message_ref, item["id"])) as chunks:  # no further than the bound
            forwarded = read_forwarded(chunks, attachment_id=item["id"], name=name, limit=self._limit)
        self._held.setdefault(message_ref, {})[item["id"]] = forwarded
        return forwarded.parts

    def part_bytes(self, message_ref: str, part: AttachmentPart) -> bytes | None:
        """The decoded bytes of ``part``; None when it is not a part of a forwarded message."""
        attachment_id, _slash, section = part.ref.rpartition("/")
        if not (part.in_forwarded and attachment_id and is_section(section)):
            return None
        forwarded = self._held.get(message_ref, {}).get(attachment_id)
        if forwarded is None:  # let go already: read it again rather than fail
            with closing(self._download(message_ref, attachment_id)) as chunks:
                forwarded = read_forwarded(chunks, attachment_id=attachment_id, name="", limit=self._limit)
        return forwarded.part_bytes(section)

    def forget(self, message_ref: str) -> None:
        self._held.pop(message_ref, None)

    def clear(self) -> None:
        self._held.clear()


def too_large(name: str, limit: int) -> MailboxError:
    return MailboxError(
        ErrorCode.MESSAGE_MISSING,
        note(Text.GRAPH_FORWARDED_TOO_LARGE, name=name, limit=f"{limit / (1024 * 1024):g} MB"),
    )


def read_forwarded(chunks: Iterable[bytes], *, attachment_id: str, name: str, limit: int) -> ForwardedMessage:
    """The forwarded message whose MIME comes in ``chunks``; at most ``limit`` bytes are read."""
    try:
        message = _parse(chunks, name, limit)
        leaves = list(_leaves(message))
        listed = parts_from_mime(_skeleton(message, numbered=False))
        numbers = {part.ref: part.filename for part in parts_from_mime(_skeleton(message, numbered=True))}
    except MailboxError:
        raise
    except Exception as error:  # the email package's failures are not a closed set
        raise MailboxError(
            ErrorCode.MESSAGE_MISSING, note(Text.GRAPH_FORWARDED_UNREADABLE, name=name), detail=repr(error)
        ) from error
    parts: list[AttachmentPart] = []
    kept: dict[str, Message] = {}
    for part in listed:
        number = numbers.get(part.ref) or ""
        leaf = leaves[int(number)] if number.isdecimal() and int(number) < len(leaves) else None
        if leaf is not None:
            kept[part.ref] = leaf
        parts.append(
            AttachmentPart(
                ref=f"{attachment_id}/{part.ref}",
                filename=part.filename,
                content_type=part.content_type,
                size=_encoded_size(leaf),
                encoding=_transfer_encoding(leaf).strip() or None,
                disposition=part.disposition,
                in_forwarded=True,
            )
        )
    return ForwardedMessage(parts, kept)


def _parse(chunks: Iterable[bytes], name: str, limit: int) -> Message:
    """The MIME parsed as it comes (as ``structure.parse_message`` parses it), never held whole."""
    parser = BytesFeedParser(policy=compat32)
    read = 0
    for chunk in chunks:
        read += len(chunk)
        if read > limit:
            raise too_large(name, limit)
        parser.feed(chunk)
    return parser.close()


def _skeleton(message: Message, *, numbered: bool) -> bytes:
    """``message`` without the bodies of its leaves, for structure.py to read cheaply.

    ``numbered``: every leaf also becomes an attachment named by its place among the leaves, so
    structure.py, which numbers sections, says which leaf is at which section. Only leaves
    change, so the sections stay those of ``message``. (The copy costs only the headers: bodies
    are immutable text, shared.)
    """
    skeleton = copy.deepcopy(message)
    for number, leaf in enumerate(list(_leaves(skeleton))):
        leaf.set_payload("")
        if numbered:
            for header in ("Content-Type", "Content-Disposition", "Content-Transfer-Encoding"):
                del leaf[header]
            leaf["Content-Type"] = "application/octet-stream"
            leaf["Content-Disposition"] = f'attachment; filename="{number}"'
    return skeleton.as_bytes()


def _leaves(node: Message) -> Iterator[Message]:
    """The nodes that are no container, in order: those structure.py lists as parts (and text).

    A container is a multipart or a forwarded message; a ``message/delivery-status`` and the
    like hold header blocks, but are one part to structure.py, as here.
    """
    if node.is_multipart() and (
        node.get_content_maintype() == "multipart" or node.get_content_type() in FORWARDED_TYPES
    ):
        for child in node.get_payload():
            yield from _leaves(child)
    else:
        yield node


def _transfer_encoding(leaf: Message | None) -> str:
    # As the email package reads it to decode (not stripped: " base64" is not decoded there either).
    return str(leaf.get("content-transfer-encoding", "")).lower() if leaf is not None else ""


def _encoded_size(leaf: Message | None) -> int | None:
    body = leaf.get_payload() if leaf is not None else None
    return len(body) if isinstance(body, str) else None


def _decoded_body(leaf: Message) -> bytes:
    """The leaf's body decoded, as ``structure.mime_part_bytes`` decodes it, with less memory:
    the email package makes three copies of a base64 body on the way (bytes, lines, joined)."""
    if leaf.is_multipart():  # header blocks (a delivery status): as BODY[section] gives them
        return b"".join(block.as_bytes() for block in leaf.get_payload() if isinstance(block, Message))
    body = leaf.get_payload()
    if isinstance(body, str) and _transfer_encoding(leaf) == "base64":
        try:
            return binascii.a2b_base64(body)  # skips line breaks and stray characters, as the package does
        except (binascii.Error, ValueError):
            pass  # missing padding, 8-bit bytes: the package's own repairs below
    data = leaf.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""
