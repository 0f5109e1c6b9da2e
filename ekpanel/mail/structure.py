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

The walk has two bounds, keyword arguments of every entry point: parts examined (containers
included) and nesting depth (multiparts and forwarded messages). Beyond one it stops with
:class:`StructureBoundExceeded`, which names the bound; anything that is not a structure at all
is a :class:`StructureError`. Nothing else escapes, whatever the input.

The walk goes twice: first it only counts, reading of each part no more than the bounds need;
only a structure within them has its parts read (names decoded, sizes, dispositions). A message
beyond a bound costs its count, not 500 decoded file names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple

from ekpanel.mail.headers import ParamValue, header_parameters, header_text, parameters
from ekpanel.mail.mailbox import AttachmentPart
from ekpanel.mail.pdf import decode_filename

# Bounds of the walk over one message. Real mail has a few dozen parts, nested a few levels
# (a forwarded message adds two or three); far beyond that is an attack on the reader.
DEFAULT_MAX_PARTS = 500
DEFAULT_MAX_DEPTH = 32
# Raw MIME is parsed this many bytes at a time, so parsing can stop soon after the parts bound.
_FEED_CHUNK = 64 * 1024
# Signatures of multipart/signed are not attachments a person sent.
_SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
_FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})
_MEDIA_TYPE = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)")


class StructureError(ValueError):
    """The structure could not be read at all; the caller records it as the message's parse error."""


class WalkBound(StrEnum):
    """A bound of the walk over one message's structure."""

    PARTS = "parts"  # parts examined, containers included
    DEPTH = "depth"  # containers (multiparts, forwarded messages) within containers


Found = tuple[list[AttachmentPart], bool]  # the parts, and whether the message has attachments


class StructureBoundExceeded(StructureError):
    """The structure is bigger than a bound of the walk: ``bound`` says which, ``limit`` is its
    value, and ``parts`` / ``has_attachments`` are what the walk had found when it stopped
    (the caller decides by the bound; the parts found are not all the message has). Those are
    read only when asked for: the caller deciding by the bound never pays for them."""

    def __init__(
        self, bound: WalkBound, limit: int, found: Callable[[], Found] = lambda: ([], False)
    ) -> None:
        super().__init__(f"the message's structure is beyond the {bound} bound ({limit})")
        self.bound = bound
        self.limit = limit
        self._find = found

    @cached_property
    def _found(self) -> Found:
        return self._find()

    @property
    def parts(self) -> list[AttachmentPart]:
        return self._found[0]

    @property
    def has_attachments(self) -> bool:
        return self._found[1]


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


class _Leaf(NamedTuple):
    """A leaf of a structure, found by the count before anything of it is read."""

    node: Any
    section: str
    forwarded: bool  # inside a forwarded message
    has_body: bool  # a forwarded message whose body the walk looks inside


class _Walk:
    """One walk over a message's structure in document order, within its bounds.

    A loop over pending nodes rather than recursion, so no bound is limited by Python's stack.
    Subclasses say how their kind of node is read.
    """

    def __init__(self, max_parts: int, max_depth: int) -> None:
        self.max_parts, self.max_depth = max_parts, max_depth

    def run(self, body: Any) -> Found:
        return self.read(self.outline(body))

    def outline(self, body: Any) -> list[_Leaf]:
        """The leaves of the structure in document order, reading of each node only whether it
        is a container and what it contains; beyond a bound, StructureBoundExceeded."""
        leaves: list[_Leaf] = []
        # (node, section, inside a forwarded message, depth)
        pending = [(body, self.body_section(body, ""), False, 0)]
        examined = 0
        while pending:
            node, section, forwarded, depth = pending.pop()
            self.check(node, section)
            examined += 1
            if examined > self.max_parts:
                raise self.beyond(WalkBound.PARTS, self.max_parts, leaves)
            if depth > self.max_depth:
                raise self.beyond(WalkBound.DEPTH, self.max_depth, leaves)
            if self.is_multipart(node):
                children = list(enumerate(self.children(node), start=1))
                pending += [
                    (child, _join(section, n), forwarded, depth + 1) for n, child in reversed(children)
                ]
                continue
            inner = self.inner(node)
            leaves.append(_Leaf(node, section, forwarded, inner is not None))
            if inner is not None:
                pending.append((inner, self.body_section(inner, section), True, depth + 1))
        return leaves

    def read(self, leaves: list[_Leaf]) -> Found:
        """The parts the leaves are (text bodies and forwarded messages looked inside are not),
        and whether any of them looks attached."""
        parts: list[AttachmentPart] = []
        has_attachments = False
        for leaf in leaves:
            part = self.leaf(leaf)
            # A multipart without a usable boundary is read as one body, like text.
            is_text = part.content_type.startswith(("text/", "multipart/"))
            looks_attached = part.disposition == "attachment" or part.filename or not is_text
            if looks_attached and part.content_type not in _SIGNATURE_TYPES:
                has_attachments = True
            # A forwarded message we can look inside is a container, not a leaf.
            if not is_text and not leaf.has_body:
                parts.append(part)
        return parts, has_attachments

    def body_section(self, body: Any, prefix: str) -> str:
        """Where a message's body is numbered: a multipart's children under the message's own
        section, a single part as its first (RFC 3501 6.4.5)."""
        return prefix if self.is_multipart(body) else _join(prefix, 1)

    def beyond(self, bound: WalkBound, limit: int, leaves: list[_Leaf]) -> StructureBoundExceeded:
        return StructureBoundExceeded(bound, limit, lambda: self.read(leaves))

    def check(self, node: Any, section: str) -> None:
        raise NotImplementedError

    def is_multipart(self, node: Any) -> bool:
        raise NotImplementedError

    def children(self, node: Any) -> Sequence[Any]:
        raise NotImplementedError

    def inner(self, node: Any) -> Any:
        """The body of the message inside a leaf that is a forwarded one; None for any other."""
        raise NotImplementedError

    def leaf(self, leaf: _Leaf) -> AttachmentPart:
        """The part a leaf is."""
        raise NotImplementedError


class _ImapWalk(_Walk):
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

    def leaf(self, leaf: _Leaf) -> AttachmentPart:
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


class _MimeWalk(_Walk):
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

    def leaf(self, leaf: _Leaf) -> AttachmentPart:
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
    return _media_type(text, _nstring(subtype)) in _FORWARDED_TYPES


def _join(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)


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
    if _mime_content_type(node) not in _FORWARDED_TYPES or not node.is_multipart():
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
