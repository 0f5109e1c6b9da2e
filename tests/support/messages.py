"""Test mail built with the standard library's ``email`` package: every shape a PDF hides in.

Each builder returns the raw bytes to APPEND. PDFs are small but real enough: they start with
``%PDF-`` and carry a marker, so every test's PDF has its own SHA-256.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid

WHITELISTED = "faktury@dostawca.pl"
STRANGER = "ktos@obcy.example"
_counter = itertools.count(1)


def pdf_bytes(size: int = 3000, marker: str | None = None) -> bytes:
    """A PDF-looking file of about ``size`` bytes, unique unless ``marker`` is given."""
    marker = marker or secrets.token_hex(8)
    head = f"%PDF-1.4\n% {marker}\n1 0 obj << /Type /Catalog >> endobj\n".encode()
    tail = b"\n%%EOF\n"
    filler = (b"0123456789abcdef" * (size // 16 + 1))[: max(size - len(head) - len(tail), 0)]
    return head + filler + tail


def message(
    *,
    sender: str = WHITELISTED,
    subject: str | None = None,
    message_id: str | bool | None = True,
    text: str = "W załączeniu faktura.\n",
    date: datetime | None = None,
) -> EmailMessage:
    """A plain message; add parts with the helpers below, then ``as_bytes(msg)``."""
    msg = EmailMessage(policy=default_policy)
    msg["From"] = sender
    msg["To"] = "biuro@ksiegowa.example"
    msg["Subject"] = subject or f"Faktura {next(_counter)}"
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    if message_id is True:
        msg["Message-ID"] = make_msgid(domain="dostawca.pl")
    elif message_id:
        msg["Message-ID"] = message_id
    msg.set_content(text)
    return msg


def as_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=default_policy)


def with_pdf(data: bytes | None = None, filename: str = "faktura.pdf", **fields) -> bytes:
    """The common case: one ``application/pdf`` attachment."""
    msg = message(**fields)
    add_pdf(msg, data or pdf_bytes(), filename)
    return as_bytes(msg)


def add_pdf(msg: EmailMessage, data: bytes, filename: str | None = "faktura.pdf") -> None:
    msg.add_attachment(data, maintype="application", subtype="pdf", filename=filename)


def add_octet_stream(msg: EmailMessage, data: bytes, filename: str) -> None:
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)


def add_inline(msg: EmailMessage, data: bytes, filename: str = "faktura.pdf") -> None:
    msg.add_attachment(data, maintype="application", subtype="pdf", filename=filename, disposition="inline")


def add_name_only_in_content_type(msg: EmailMessage, data: bytes, filename: str = "faktura.pdf") -> None:
    """``Content-Type: application/octet-stream; name=...`` and no Content-Disposition at all."""
    part = MIMEPart(policy=default_policy)
    part.set_content(data, maintype="application", subtype="octet-stream")
    del part["Content-Disposition"]
    part.set_param("name", filename, header="Content-Type")
    if not msg.is_multipart():
        msg.make_mixed()
    msg.attach(part)


def add_forwarded(msg: EmailMessage, inner: EmailMessage) -> None:
    """Attach ``inner`` as a forwarded ``message/rfc822``."""
    msg.add_attachment(inner)


def add_file(msg: EmailMessage, data: bytes, maintype: str, subtype: str, filename: str) -> None:
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def png_bytes(size: int = 2000) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(size)


def with_png(msg: EmailMessage) -> EmailMessage:
    add_file(msg, png_bytes(), "image", "png", "logo.png")
    return msg


def _shape(add):
    """A builder of a whitelisted message to which ``add(msg, pdf)`` attaches the PDF its way."""

    def build(pdf):
        msg = message()
        add(msg, pdf)
        return msg

    return build


def _forwarded(msg: EmailMessage, pdf: bytes) -> None:
    inner = message(subject="Fwd: faktura")
    add_pdf(inner, pdf, "przekazana.pdf")
    add_forwarded(msg, inner)


# Every shape a PDF hides in, with the file names its documents should get; the IMAP and the
# Outlook 365 checks run the same table.
PDF_SHAPES = {
    "application/pdf": (_shape(lambda msg, pdf: add_pdf(msg, pdf)), ["faktura.pdf"]),
    "octet-stream with a .pdf name": (
        _shape(lambda msg, pdf: add_octet_stream(msg, pdf, "skan.pdf")),
        ["skan.pdf"],
    ),
    "inline part": (_shape(lambda msg, pdf: add_inline(msg, pdf, "w-tresci.pdf")), ["w-tresci.pdf"]),
    "RFC 2231 Polish name": (
        _shape(lambda msg, pdf: add_pdf(msg, pdf, "Faktura_VAT_ąęśćż.pdf")),
        ["Faktura_VAT_ąęśćż.pdf"],
    ),
    "name only in Content-Type": (
        _shape(lambda msg, pdf: add_name_only_in_content_type(msg, pdf, "tylko-typ.pdf")),
        ["tylko-typ.pdf"],
    ),
    "encoded-word name in Content-Type": (
        _shape(
            lambda msg, pdf: add_name_only_in_content_type(
                msg, pdf, "=?utf-8?q?Faktura_=C5=BC=C3=B3=C5=82w.pdf?="
            )
        ),
        ["Faktura żółw.pdf"],
    ),
    "forwarded message/rfc822": (_shape(_forwarded), ["przekazana.pdf"]),
    "PDF named .bin typed application/pdf": (
        _shape(lambda msg, pdf: add_pdf(msg, pdf, "skan.bin")),
        ["skan.bin.pdf"],
    ),
    "a .pdf name on bytes that are no PDF": (
        _shape(lambda msg, pdf: add_octet_stream(msg, b"PK\x03\x04 not a pdf" * 50, "udawany.pdf")),
        [],
    ),
    "two PDFs beside a PNG": (
        _shape(
            lambda msg, pdf: (
                add_pdf(msg, pdf, "a.pdf"),
                with_png(msg),
                add_pdf(msg, pdf_bytes(), "b.pdf"),
            )
        ),
        ["a.pdf", "b.pdf"],
    ),
}


def invoice_message(to: str, n: int, sender: str = WHITELISTED) -> bytes:
    """A message with one small PDF, ``faktura-<n>.pdf``, different for every ``n``."""
    msg = message(sender=sender, subject=f"Faktura {n}")
    msg.replace_header("To", to)
    pdf = b"%PDF-1.4\n% faktura " + str(n).encode() + b"\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    add_pdf(msg, pdf, f"faktura-{n}.pdf")
    return as_bytes(msg)
