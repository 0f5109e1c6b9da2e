"""What counts as a PDF, and how its file name is read.

A part is a *candidate* when its headers suggest a PDF; it becomes a document only when its
decoded bytes say so (``%PDF-`` within the first kilobyte). Headers lie in both directions:
``application/octet-stream`` PDFs are common, and so are ``.pdf`` names on other things.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

from ekpanel.mail.mailbox import AttachmentPart

PDF_CONTENT_TYPES = frozenset({"application/pdf", "application/x-pdf"})
PDF_MAGIC = b"%PDF-"
# Acrobat accepts the header anywhere in the first 1024 bytes (some generators prepend junk).
MAGIC_WINDOW = 1024
DEFAULT_MAX_PDF_MB = 50
MAX_FILENAME_LENGTH = 255

RFC2231Value = tuple[str | None, str | None, str | bytes]
RawFilename = str | bytes | RFC2231Value | None

# Some mailers leave spaces inside encoded words; a "?" still cannot occur in one.
_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BETWEEN_ENCODED_WORDS = re.compile(rb"(\?=)[ \t\r\n]+(?==\?)")
# Bidi overrides can disguise ``fdp.exe`` as ``exe.pdf``; zero-width characters hide differences.
_INVISIBLE_CATEGORIES = frozenset({"Cf"})


def is_pdf_candidate(part: AttachmentPart) -> bool:
    """Whether the part's headers make it worth downloading to look at its bytes."""
    content_type = (part.content_type or "").lower()
    if content_type in PDF_CONTENT_TYPES:
        return True
    if content_type.startswith(("text/", "multipart/")):
        return False
    return bool(part.filename) and part.filename.strip().lower().endswith(".pdf")


def looks_like_pdf(data: bytes) -> bool:
    """Whether the decoded bytes are a PDF, whatever the headers claimed."""
    return PDF_MAGIC in data[: MAGIC_WINDOW + len(PDF_MAGIC) - 1]


def pdf_filename(part: AttachmentPart, index: int) -> str:
    """The name a PDF document is stored under; ``index`` counts the message's PDFs from 1.

    Every stored document is a PDF by its bytes, so a name without ``.pdf`` gets it appended:
    the file must open when downloaded.
    """
    name = part.filename
    if not name:
        return f"zalacznik-{index}.pdf"
    if not name.lower().endswith(".pdf"):
        return _fit_length(name + ".pdf")
    return name


def part_too_large(part: AttachmentPart, limit_bytes: int) -> bool:
    """Whether the part is over the limit judging by its reported size, before downloading it.

    IMAP reports encoded octets; base64 with CRLF-terminated 76-character lines decodes to
    57 bytes per 78, so the estimate does not skip a PDF that is really under the limit.
    The caller checks the real length again after downloading.
    """
    if part.size is None:
        return False
    estimate = part.size * 57 // 78 if (part.encoding or "").lower() == "base64" else part.size
    return estimate > limit_bytes


def decode_filename(raw: RawFilename) -> str | None:
    """A displayable, header-safe file name from what the parser gave, or None.

    Accepts bytes (imapclient), str (possibly with surrogate escapes from ``email``'s compat32
    parser), or an RFC 2231 ``(charset, language, value)`` tuple. Decodes encoded words and raw
    8-bit names (UTF-8, else Windows-1250 / ISO-8859-2), NFC-normalises, and removes path
    components and control characters.
    """
    if raw is None:
        return None
    if isinstance(raw, tuple):
        text = _decode_rfc2231(raw)
    else:
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        text = _decode_encoded_words(data)
    return _sanitise(text)


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from bytes in a declared charset, else UTF-8, else the Polish single-byte charsets."""
    if charset:
        charset = _CHARSET_ALIASES.get(charset.strip().lower(), charset.strip())
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1250 uses 0x80-0x9F for letters (ś, ź); ISO-8859-2 has only controls there.
    if any(0x80 <= byte <= 0x9F for byte in data):
        return data.decode("cp1250", "replace")
    return data.decode("iso-8859-2")


# Names that mail software writes but Python's codecs do not know.
_CHARSET_ALIASES = {"ks_c_5601-1987": "cp949", "unknown-8bit": "utf-8", "x-unknown": "utf-8"}


def _decode_rfc2231(value: RFC2231Value) -> str:
    charset, _language, text = value
    if isinstance(text, str):
        # email's parser hands the octets over as latin-1 characters (or surrogate escapes).
        text = text.encode("latin-1", "surrogateescape") if _is_latin1(text) else text.encode()
    return decode_bytes(text, charset)


def _is_latin1(text: str) -> bool:
    return all(ord(ch) < 256 or 0xDC80 <= ord(ch) <= 0xDCFF for ch in text)


def _decode_encoded_words(data: bytes) -> str:
    if b"=?" not in data:
        return decode_bytes(data)
    # RFC 2047: white space between two encoded words is not part of the text.
    data = _BETWEEN_ENCODED_WORDS.sub(rb"\1", data)
    pieces: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(data):
        pieces.append(decode_bytes(data[position : match.start()]))
        charset, encoding, payload = match.groups()
        decoded = _decode_encoded_payload(encoding, payload)
        if decoded is None:
            pieces.append(decode_bytes(match.group(0)))
        else:
            # RFC 2231 allows a language suffix: ``utf-8*pl``.
            pieces.append(decode_bytes(decoded, charset.decode("ascii", "replace").split("*")[0]))
        position = match.end()
    pieces.append(decode_bytes(data[position:]))
    return "".join(pieces)


def _decode_encoded_payload(encoding: bytes, payload: bytes) -> bytes | None:
    try:
        if encoding in (b"b", b"B"):
            return base64.b64decode(payload + b"=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload, header=True)
    except (binascii.Error, ValueError):
        return None


def _sanitise(name: str) -> str | None:
    name = unicodedata.normalize("NFC", name)
    cleaned = []
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cc":
            cleaned.append(" ")  # a folded header or a newline in an encoded word
        elif category in _INVISIBLE_CATEGORIES or 0xD800 <= ord(ch) <= 0xDFFF:
            continue
        else:
            cleaned.append(ch)
    name = " ".join("".join(cleaned).split())
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].strip()
    name = _strip_path(name)
    # A leading dot hides the file; trailing dots and spaces are dropped by Windows anyway.
    name = name.lstrip(". ").rstrip(". ")
    if not name:
        return None
    return _fit_length(name)


def _strip_path(name: str) -> str:
    # Old Windows clients sent full paths (``C:\\Dokumenty\\faktura.pdf``): keep the base name.
    name = name.rsplit("\\", 1)[-1]
    if name.startswith("/") or "../" in name:
        return name.rsplit("/", 1)[-1]
    # Otherwise a slash is most likely an invoice number (``FV 12/2026.pdf``): keep the information.
    return name.replace("/", "_")


def _fit_length(name: str) -> str:
    if len(name) <= MAX_FILENAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and 0 < len(extension) <= 10:
        return stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
    return name[:MAX_FILENAME_LENGTH]
