"""``extract_invoice``: what one PDF is, from its bytes or its path.

The order: check the size and the ``%PDF-`` header here (no child needed to refuse those), read
the text layer in the sandbox, then parse the text in this process (plain strings, no PDF
library). A document with almost no letters or digits is an image-only scan: ``no_text``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ekpanel.invoices.details import FailureReason as Reason
from ekpanel.invoices.details import InvoiceDetails, Status
from ekpanel.invoices.reading import read_fields
from ekpanel.invoices.sandbox import Limits, read_pages
from ekpanel.invoices.text import TextLayer

PDF_MAGIC = b"%PDF-"
# Readers accept the header anywhere in the first kilobyte (some generators prepend junk).
MAGIC_WINDOW = 1024


def extract_invoice(pdf: bytes | str | os.PathLike, limits: Limits | None = None) -> InvoiceDetails:
    limits = limits or Limits()
    data = pdf if isinstance(pdf, bytes) else _read_pdf_file(Path(pdf), limits.max_file_bytes)
    if data is None or len(data) > limits.max_file_bytes:
        return InvoiceDetails.unreadable(Reason.TOO_LARGE, f"over {limits.max_file_bytes} bytes")
    if PDF_MAGIC not in data[: MAGIC_WINDOW + len(PDF_MAGIC) - 1]:
        return InvoiceDetails.unreadable(Reason.NOT_PDF)
    result = read_pages(data, limits)
    if result.failure is not None:
        return InvoiceDetails.unreadable(result.failure, result.detail)
    if not result.pages:
        return InvoiceDetails.unreadable(Reason.MALFORMED, "no pages")
    layer = TextLayer.from_pages(result.pages)
    if not layer.has_text:
        return InvoiceDetails(status=Status.NO_TEXT, page_count=layer.page_count)
    return read_fields(layer)


def _read_pdf_file(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it is larger than ``max_bytes`` (without reading it all)."""
    with path.open("rb") as file:
        data = file.read(max_bytes + 1)
    return None if len(data) > max_bytes else data
