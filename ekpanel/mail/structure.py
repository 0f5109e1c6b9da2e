"""A message's MIME structure as the list of parts the intake looks at.

Two sources, one numbering: an IMAP ``BODYSTRUCTURE`` (as imapclient parses it) and raw MIME
bytes (Graph item attachments, tests). Sections follow RFC 3501 6.4.5, so a part found in
either can be fetched as ``BODY[section]``:

- the body of a single-part message is section ``1``;
- the children of a multipart are ``1``..``n`` under the multipart's own section;
- a ``message/rfc822`` part at ``2`` numbers its message's body as a message would, under ``2``
  (``2.1``, ``2.2``; ``2.1`` alone when that message is single-part).

Only non-text leaves become :class:`AttachmentPart` (text bodies are never documents); the
``has_attachments`` flag also counts named or ``attachment`` text parts and forwarded messages.

The walk itself, its bounds and what it raises beyond them are ekpanel.mail.structure_walk's;
this module reads each of the two kinds of node for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from typing import Any

from ekpanel.mail.headers import ParamValue, header_parameters, header_text, parameters
from ekpanel.mail.mailbox import AttachmentPart
from ekpanel.mail.pdf import decode_filename
from ekpanel.mail.structure_walk import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PARTS,
    FORWARDED_TYPES,
    Leaf,
    StructureBoundExceeded,
    StructureError,
    Walk,
    WalkBound,
)

# Names of the walk callers import from here, the entry points' module.
__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_PARTS",
    "StructureBoundExceeded",
    "StructureError",
    "WalkBound",
    "check_bodystructure",
    "is_forwarded_type",
    "mime_part_bytes",
    "mime_structure",
    "parse_message",
    "parts_from_bodystructure",
    "parts_from_mime",
]

# Raw MIME is parsed this many bytes at a time, so parsing can stop soon after the parts bound.
_FEED_CHUNK = 64 * 1024
_MEDIA_TYPE = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)")


def parts_from_bodystructure(
    bs: Any, *, max_parts: int = DEFAULT_MAX_PARTS, max_depth: int = DEFAULT_MAX_DEPTH
) -> tuple[list[AttachmentPart], bool]:
    """The non-text leaves of an IMAP BODYSTRUCTURE, and whether the message has any attachment.

    ``bs`` is what imapclient gives (BodyData) or the raw nested tuples of the response; any
    value that is not a body structure is a StructureError, a structure with more than
    ``max_parts`` parts or nested deeper than ``max_depth`` a StructureBoundExceeded.
    """
    return _ImapWalk(max_parts, max_depth).run(bs)


def check_bodystructure(
    bs: Any, *, max_parts: int = DEFAULT_MAX_PARTS, max_depth: int = DEFAULT_MAX_DEPTH
) -> None:
    """Raise what :func:`parts_from_bodystructure` would raise for ``bs``, reading no part."""
    _ImapWalk(max_parts, max_depth).outline(bs)


def parts_from_mime(
    raw: bytes, *, max_parts: int = DEFAULT_MAX_PARTS, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[AttachmentPart]:
    """The non-text leaves of a raw MIME message, numbered as IMAP would number them."""
    return mime_structure(raw, max_parts=max_parts, max_depth=max_depth)[0]


def mime_structure(
    raw: bytes, *, max_parts: int = DEFAULT_MAX_PARTS, max_depth: int = DEFAULT_MAX_DEPTH
) -> tuple[list[AttachmentPart], bool]:
    """Like :func:`parts_from_bodystructure`, for raw MIME bytes."""
    message, complete = _parse_at_most(raw, max_parts, max_depth)
    walk = _MimeWalk(max_parts, max_depth)
    leaves = walk.outline(message)
    if not complete:  # parsing stopped past the bound, so the count must have met it too; make sure
        raise walk.beyond(WalkBound.PARTS, max_parts, leaves)
    return walk.read(leaves)


def mime_part_bytes(raw: bytes, ref: str) -> bytes:
    """The decoded bytes of the part at section ``ref``; KeyError when there is no such part."""
    try:
        sections = [int(s) for s in ref.split(".")]
    except ValueError:
        raise KeyError(ref) from None
    node = _locate(parse_message(raw), sections, ref)
    if node.is_multipart():
        # A container's bytes, as BODY[section] of a message/* part would give them.
        return b"".join(p.as_bytes() for p in node.get_payload() if isinstance(p, Message))
    payload = node.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def parse_message(raw: bytes) -> Message:
    """Parse raw mail without letting it crash us.

    compat32 reads headers lazily and leniently; policy=default has raised on real messages
    (``UnicodeDecodeError`` on a broken header), and names are decoded by our own code anyway.
    """
    return _parse_at_most(raw, None, DEFAULT_MAX_DEPTH)[0]


def _parse_at_most(raw: bytes, max_parts: int | None, max_depth: int) -> tuple[Message, bool]:
    """The parsed message, and whether all of it was parsed: with ``max_parts``, parsing stops
    once that many parts and one more exist (the email package parses 10 000 parts in about a
    second, and a walk that stops at the bound does not need the rest)."""
    created = 0

    def new_part(policy: Any = compat32) -> Message:
        nonlocal created
        created += 1
        return Message(policy)

    parser = BytesFeedParser(new_part, policy=compat32)
    created = 0  # the parser made one to learn how to call the factory
    complete = True
    try:
        for start in range(0, len(raw), _FEED_CHUNK):
            if max_parts is not None and created > max_parts:
                complete = False
                break
            parser.feed(raw[start : start + _FEED_CHUNK])
        return parser.close(), complete
    except RecursionError as exc:
        # The parser recurses once per nested multipart: what it cannot nest into is beyond
        # the depth bound, whichever it is.
        raise StructureBoundExceeded(WalkBound.DEPTH, max_depth) from exc
    except Exception as exc:  # the parser's failures are not a closed set
        raise StructureError(f"unparseable message: {exc!r}") from exc


class _ImapWalk(Walk):
    """Over an IMAP BODYSTRUCTURE as imapclient parses it (RFC 3501 7.4.2)."""

    def check(self, node: Any, section: str) -> None:
        if not _is_sequence(node) or not node:
            raise StructureError(f"part {section or 1} of the BODYSTRUCTURE is not a list")

    def is_multipart(self, node: Any) -> bool:
        # imapclient turns the top level into BodyData([children], subtype, ...); nested bodies
        # (inside an rfc822 envelope) stay raw tuples whose leading items are the children.
        return _is_sequence(node) and len(node) > 0 and _is_sequence(node[0])

    def children(self, node: Any) -> Sequence[Any]:
        if isinstance(node[0], list):
            return node[0]  # BodyData's
        children = []
        for item in node:
            if not _is_sequence(item):
                break
            children.append(item)
        return children

    def inner(self, node: Any) -> Any:
        # A forwarded message the server described the inside of: envelope, then body.
        if not (_is_sequence(_at(node, 7)) and _is_sequence(_at(node, 8))):
            return None
        return node[8] if is_forwarded_type(_at(node, 0), _at(node, 1)) else None

    def leaf(self, leaf: Leaf) -> AttachmentPart:
        node = leaf.node
        content_type = _media_type(_nstring(_at(node, 0)), _nstring(_at(node, 1)))
        params = _imap_params(_at(node, 2))
        if leaf.has_body:  # a forwarded message
            disposition_at = 11  # envelope, body, lines, md5 come first
        elif content_type.startswith("text/"):
            disposition_at = 9  # lines, md5
        else:
            disposition_at = 8  # md5
        disposition, disposition_params = _imap_disposition(_at(node, disposition_at))
        return AttachmentPart(
            ref=leaf.section,
            filename=decode_filename(disposition_params.get("filename") or params.get("name")),
            content_type=content_type,
            size=_number(_at(node, 6)),
            encoding=(_nstring(_at(node, 5)) or "").lower() or None,
            disposition=disposition,
            in_forwarded=leaf.forwarded,
        )


class _MimeWalk(Walk):
    """Over a message parsed by the email package (compat32)."""

    def check(self, node: Any, section: str) -> None:
        if not isinstance(node, Message):
            raise StructureError(f"part {section or 1} is not a MIME part")

    def is_multipart(self, node: Any) -> bool:
        return _mime_is_multipart(node)

    def children(self, node: Any) -> Sequence[Any]:
        return node.get_payload()

    def inner(self, node: Any) -> Any:
        return _mime_inner_message(node)

    def leaf(self, leaf: Leaf) -> AttachmentPart:
        node = leaf.node
        return AttachmentPart(
            ref=leaf.section,
            filename=decode_filename(_mime_filename(node)),
            content_type=_mime_content_type(node),
            size=_mime_size(node),
            encoding=(header_text(node, "content-transfer-encoding") or "").lower() or None,
            disposition=_mime_disposition(node),
            in_forwarded=leaf.forwarded,
        )


def is_forwarded_type(maintype: Any, subtype: Any) -> bool:
    """Whether a BODYSTRUCTURE part that begins with these two items is a forwarded message
    (the only kind of part the walk looks inside of; its body is the part's ninth item)."""
    text = _nstring(maintype)
    if text is None or "message" not in text.lower():  # the media type's own letters: most parts
        return False
    return _media_type(text, _nstring(subtype)) in FORWARDED_TYPES


def _media_type(maintype: str | None, subtype: str | None) -> str:
    """Lower-case ``type/subtype``; junk after it (``application/pdf name=""``) is dropped."""
    if maintype is None:
        return "text/plain"  # RFC 2045's default
    if not maintype.strip():
        # Dovecot answers ("" "") for a Content-Type it cannot parse (``application/pdf name=""``):
        # unknown, so the file name and the bytes decide.
        return "application/octet-stream"
    text = f"{maintype}/{subtype}" if subtype and "/" not in maintype else maintype
    match = _MEDIA_TYPE.match(text)
    return match.group(1).lower() if match else "application/octet-stream"


# IMAP helpers ------------------------------------------------------------------------------


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (tuple, list))


def _at(node: Sequence[Any], index: int) -> Any:
    return node[index] if len(node) > index else None


def _nstring(value: Any) -> str | None:
    """An IMAP string (or number) as text; None for NIL and for what is neither (a list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int)):
        return str(value)
    return None


def _number(value: Any) -> int | None:
    if isinstance(value, bytes) and value.isdigit() and len(value) <= 20:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _imap_params(value: Any) -> dict[str, ParamValue]:
    if not _is_sequence(value):
        return {}
    return parameters(zip(value[::2], value[1::2], strict=False))


def _imap_disposition(value: Any) -> tuple[str | None, dict[str, ParamValue]]:
    if isinstance(value, (bytes, str)):
        return (_nstring(value) or "").lower() or None, {}
    if not _is_sequence(value) or not value:
        return None, {}
    kind = (_nstring(value[0]) or "").lower() or None
    return kind, _imap_params(_at(value, 1))


# email-package helpers ---------------------------------------------------------------------


def _mime_is_multipart(node: Message) -> bool:
    return node.is_multipart() and _mime_content_type(node).startswith("multipart/")


def _mime_content_type(node: Message) -> str:
    # The declared type, also where the email package would fall back to text/plain
    # (``application/pdf name=""`` still declares a PDF).
    declared = (header_text(node, "content-type") or "").split(";", 1)[0].strip()
    if "/" in declared:
        return _media_type(declared, None)
    return node.get_content_type()


def _mime_disposition(node: Message) -> str | None:
    value = (header_text(node, "content-disposition") or "").split(";", 1)[0].strip().lower()
    return value or None


def _mime_inner_message(node: Message) -> Message | None:
    if _mime_content_type(node) not in FORWARDED_TYPES or not node.is_multipart():
        return None
    payload = node.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def _mime_filename(node: Message) -> ParamValue | None:
    for header, name in (("content-disposition", "filename"), ("content-type", "name")):
        found = header_parameters(node, header).get(name)
        if found:
            return found
    return None


def _mime_size(node: Message) -> int | None:
    try:
        payload = node.get_payload(decode=True)
    except Exception:
        return None
    return len(payload) if isinstance(payload, bytes) else None


def _locate(message: Message, sections: list[int], ref: str) -> Message:
    """The part at ``sections``, walking as IMAP numbers parts."""
    node = message
    in_message = True  # section 1 of a single-part message is the message itself
    for position, number in enumerate(sections):
        if _mime_is_multipart(node):
            children = node.get_payload()
            if not 1 <= number <= len(children):
                raise KeyError(ref)
            node = children[number - 1]
        elif not (in_message and number == 1):
            raise KeyError(ref)
        in_message = False
        # Step into a forwarded message only when the section goes on inside it.
        inner = _mime_inner_message(node) if position < len(sections) - 1 else None
        if inner is not None:
            node, in_message = inner, True
    return node
