"""What counts as a PDF, and what name it is stored under.

A part is a *candidate* when its headers suggest a PDF; it becomes a document only when its
decoded bytes say so (``%PDF-`` within the first kilobyte). Headers lie in both directions:
``application/octet-stream`` PDFs are common, and so are ``.pdf`` names on other things.
"""

from __future__ import annotations

import unicodedata

from ekpanel.mail.headers import RawValue, parameter_text
from ekpanel.mail.mailbox import AttachmentPart

PDF_CONTENT_TYPES = frozenset({"application/pdf", "application/x-pdf"})
PDF_MAGIC = b"%PDF-"
# Acrobat accepts the header anywhere in the first 1024 bytes (some generators prepend junk).
MAGIC_WINDOW = 1024
DEFAULT_MAX_PDF_MB = 50
MAX_FILENAME_LENGTH = 255

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


def decode_filename(raw: RawValue) -> str | None:
    """A displayable, header-safe file name from what the parser gave, or None.

    Accepts what :func:`ekpanel.mail.headers.parameter_text` reads (bytes, text, an RFC 2231
    tuple), NFC-normalises, and removes path components and control characters.
    """
    text = parameter_text(raw)
    return None if text is None else _sanitise(text)


def _sanitise(name: str) -> str | None:
    if not (name.isascii() and name.isprintable()):
        # Printable ASCII is already NFC and has no control or invisible characters: only
        # other names need the look at every character (a name of 240 is 240 lookups).
        name = _visible(unicodedata.normalize("NFC", name))
    name = " ".join(name.split())
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].strip()
    name = _strip_path(name)
    # A leading dot hides the file; trailing dots and spaces are dropped by Windows anyway.
    name = name.lstrip(". ").rstrip(". ")
    if not name:
        return None
    return _fit_length(name)


def _visible(name: str) -> str:
    cleaned = []
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cc":
            cleaned.append(" ")  # a folded header or a newline in an encoded word
        elif category in _INVISIBLE_CATEGORIES or 0xD800 <= ord(ch) <= 0xDFFF:
            continue
        else:
            cleaned.append(ch)
    return "".join(cleaned)


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
