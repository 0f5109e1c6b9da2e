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
"""

from __future__ import annotations

import email
import re
from collections.abc import Sequence
from email.message import Message
from email.policy import compat32
from typing import Any

from ekpanel.mail.headers import ParamValue, header_parameters, header_text, parameters
from ekpanel.mail.mailbox import AttachmentPart
from ekpanel.mail.pdf import decode_filename

# Deeper nesting than this is an attack on the parser, not a forwarded invoice.
MAX_DEPTH = 32
# Signatures of multipart/signed are not attachments a person sent.
_SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
_FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})
_MEDIA_TYPE = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)")


class StructureError(ValueError):
    """The structure could not be read at all; the caller records it as the message's parse error."""


def parts_from_bodystructure(bs: Any) -> tuple[list[AttachmentPart], bool]:
    """The non-text leaves of an IMAP BODYSTRUCTURE, and whether the message has any attachment.

    ``bs`` is what imapclient gives (BodyData) or the raw nested tuples of the response; any
    value that is not a body structure is a StructureError.
    """
    walker = _Walker()
    walker.imap_message(bs, "", False, 0)
    return walker.parts, walker.has_attachments


def parts_from_mime(raw: bytes) -> list[AttachmentPart]:
    """The non-text leaves of a raw MIME message, numbered as IMAP would number them."""
    return mime_structure(raw)[0]


def mime_structure(raw: bytes) -> tuple[list[AttachmentPart], bool]:
    """Like :func:`parts_from_bodystructure`, for raw MIME bytes."""
    walker = _Walker()
    walker.mime_message(parse_message(raw), "", False, 0)
    return walker.parts, walker.has_attachments


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
    try:
        return email.message_from_bytes(raw, policy=compat32)
    except Exception as exc:  # the parser's failures are not a closed set
        raise StructureError(f"unparseable message: {exc!r}") from exc


class _Walker:
    def __init__(self) -> None:
        self.parts: list[AttachmentPart] = []
        self.has_attachments = False

    # IMAP BODYSTRUCTURE ------------------------------------------------------------------

    def imap_message(self, body: Any, prefix: str, forwarded: bool, depth: int) -> None:
        """The body of a message (the top one, or one inside message/rfc822) numbered under ``prefix``."""
        _check_depth(depth)
        if _imap_is_multipart(body):
            self.imap_multipart(body, prefix, forwarded, depth)
        else:
            self.imap_part(body, _join(prefix, 1), forwarded, depth)

    def imap_multipart(self, body: Any, section: str, forwarded: bool, depth: int) -> None:
        _check_depth(depth)
        for number, child in enumerate(_imap_children(body), start=1):
            self.imap_part(child, _join(section, number), forwarded, depth + 1)

    def imap_part(self, node: Any, section: str, forwarded: bool, depth: int) -> None:
        if not _is_sequence(node) or not node:
            raise StructureError(f"part {section} of the BODYSTRUCTURE is not a list")
        if _imap_is_multipart(node):
            self.imap_multipart(node, section, forwarded, depth)
            return
        content_type = _media_type(_nstring(_at(node, 0)), _nstring(_at(node, 1)))
        params = _imap_params(_at(node, 2))
        size = _number(_at(node, 6))
        inner = None
        if content_type in _FORWARDED_TYPES and _is_sequence(_at(node, 7)) and _is_sequence(_at(node, 8)):
            inner = _at(node, 8)
            disposition_at = 11  # envelope, body, lines, md5 come first
        elif content_type.startswith("text/"):
            disposition_at = 9  # lines, md5
        else:
            disposition_at = 8  # md5
        disposition, disposition_params = _imap_disposition(_at(node, disposition_at))
        raw_name = disposition_params.get("filename") or params.get("name")
        self.leaf(
            AttachmentPart(
                ref=section,
                filename=decode_filename(raw_name),
                content_type=content_type,
                size=size,
                encoding=(_nstring(_at(node, 5)) or "").lower() or None,
                disposition=disposition,
                in_forwarded=forwarded,
            ),
            has_body=inner is not None,
        )
        if inner is not None:
            self.imap_message(inner, section, True, depth + 1)

    # Raw MIME (email package) --------------------------------------------------------------

    def mime_message(self, message: Message, prefix: str, forwarded: bool, depth: int) -> None:
        _check_depth(depth)
        if _mime_is_multipart(message):
            self.mime_multipart(message, prefix, forwarded, depth)
        else:
            self.mime_part(message, _join(prefix, 1), forwarded, depth)

    def mime_multipart(self, node: Message, section: str, forwarded: bool, depth: int) -> None:
        _check_depth(depth)
        for number, child in enumerate(node.get_payload(), start=1):
            self.mime_part(child, _join(section, number), forwarded, depth + 1)

    def mime_part(self, node: Message, section: str, forwarded: bool, depth: int) -> None:
        if _mime_is_multipart(node):
            self.mime_multipart(node, section, forwarded, depth)
            return
        content_type = _mime_content_type(node)
        inner = _mime_inner_message(node)
        self.leaf(
            AttachmentPart(
                ref=section,
                filename=decode_filename(_mime_filename(node)),
                content_type=content_type,
                size=_mime_size(node),
                encoding=(header_text(node, "content-transfer-encoding") or "").lower() or None,
                disposition=_mime_disposition(node),
                in_forwarded=forwarded,
            ),
            has_body=inner is not None,
        )
        if inner is not None:
            self.mime_message(inner, section, True, depth + 1)

    # Both --------------------------------------------------------------------------------

    def leaf(self, part: AttachmentPart, *, has_body: bool) -> None:
        # A multipart without a usable boundary is read as one body, like text.
        is_text = part.content_type.startswith(("text/", "multipart/"))
        looks_attached = part.disposition == "attachment" or part.filename or not is_text
        if looks_attached and part.content_type not in _SIGNATURE_TYPES:
            self.has_attachments = True
        # A forwarded message we can look inside is a container, not a leaf.
        if not is_text and not has_body:
            self.parts.append(part)


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise StructureError("MIME nesting too deep")


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


def _imap_is_multipart(node: Any) -> bool:
    # imapclient turns the top level into BodyData([children], subtype, ...); nested bodies
    # (inside an rfc822 envelope) stay raw tuples whose leading items are the children.
    return _is_sequence(node) and len(node) > 0 and _is_sequence(node[0])


def _imap_children(node: Sequence[Any]) -> Sequence[Any]:
    if isinstance(node[0], list):
        return node[0]  # BodyData's
    children = []
    for item in node:
        if not _is_sequence(item):
            break
        children.append(item)
    return children


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
