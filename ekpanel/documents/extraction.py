"""Reading each document's PDF after intake: the follow-up job, and saving what the PDF says.

Intake never waits for this. The check (``ekpanel.checks.run``) commits a batch's documents, moves
their messages, and only asks for :func:`extract_documents` on the queue (best effort); a worker
then reads each PDF in the sandbox of ``ekpanel.invoices`` and saves the reading and its warnings
on the document, one commit per document. ``flask --app wsgi documents extract`` runs the same
over documents already taken. A PDF that cannot be read (a bomb, a malformed file, a timeout) ends
as ``unreadable`` with a reason; nothing here raises out of the job for one bad document.

Warnings compare a document with the company's documents read before it in intake order (lower
id) from the same seller or with the same KSeF number. When a document is read for the first time
after later ones were (two workers, or a backfill of old documents while new mail comes in), the
later ones' warnings are computed again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import false, or_, select
from sqlalchemy.orm import load_only

from ekpanel.companies.models import Company
from ekpanel.documents.models import EXTRACTION_PENDING, Document
from ekpanel.documents.storage import pdf_path
from ekpanel.documents.warnings import FILE_MISSING, UNEXPECTED, find_warnings
from ekpanel.extensions import db
from ekpanel.invoices import InvoiceDetails, Limits, Role, Status, extract_invoice, normalise_invoice_number
from ekpanel.invoices.sandbox import MiB
from ekpanel.timeutil import utcnow

log = logging.getLogger(__name__)

# A hostile PDF may name thousands of NIPs or accounts: an invoice names a few.
MAX_NIPS = 20
MAX_ACCOUNTS = 10
# Numeric(15, 2): anything larger is no amount due of an invoice.
MAX_AMOUNT = 10**13
# What the warnings read of the company's other documents.
_COMPARED = (
    Document.id,
    Document.sha256,
    Document.filename,
    Document.received_at,
    Document.seller_nip,
    Document.invoice_number,
    Document.invoice_number_normalised,
    Document.ksef_number,
    Document.bank_accounts,
)


def extraction_limits() -> Limits:
    config = current_app.config
    return Limits(
        max_file_bytes=int(config["MAX_PDF_MB"]) * MiB, wall_seconds=float(config["EXTRACT_SECONDS"])
    )


def job_timeout(count: int) -> int:
    """Seconds a job reading ``count`` PDFs may take: each may use its whole deadline and more."""
    return 60 + count * (int(current_app.config["EXTRACT_SECONDS"]) + 15)


def extract_documents(document_ids: list[int]) -> dict[str, int]:
    """The job: read these documents' PDFs and save what they say. Returns how many ended how."""
    limits = extraction_limits()
    ended: Counter[str] = Counter()
    for document_id in sorted(set(document_ids)):
        document = db.session.get(Document, document_id)
        if document is None:  # deleted meanwhile, with its company
            continue
        ended[extract_document(document, limits)] += 1
        db.session.commit()
    return dict(ended)


def extract_document(document: Document, limits: Limits, *, recheck_later: bool = True) -> str:
    """Read one document's PDF and save the reading and warnings (the caller commits); its status.

    ``recheck_later``: when this is the document's first reading, compute again the warnings of
    the company's later documents that were read before it. A backfill that reads documents in
    order does that once at its end instead (:func:`recheck_warnings`).
    """
    first_reading = document.extraction_status == EXTRACTION_PENDING
    try:
        details = extract_invoice(pdf_path(document.sha256), limits)
    except FileNotFoundError:
        log.error("PDF of document %s is missing from storage", document.id)
        details, failure = None, FILE_MISSING
    except Exception:
        # The reading runs in the sandbox; what is left here is parsing plain text. Should that
        # fail, it is this document's problem, not the worker's.
        log.exception("Reading document %s failed unexpectedly", document.id)
        details, failure = None, UNEXPECTED
    if details is None:
        _save_failure(document, failure)
    else:
        if details.status is Status.UNREADABLE:
            log.info("Document %s unreadable: %s (%s)", document.id, details.failure, details.failure_detail)
        save_reading(document, details)
    update_warnings(document)
    if recheck_later and first_reading:
        for later in related_documents(document, later=True):
            update_warnings(later)
    return document.extraction_status


def save_reading(document: Document, details: InvoiceDetails) -> None:
    """Put a reading on the document's columns (the list, the search and the warnings read them)."""
    number = details.invoice_number
    amount = details.amount_due
    buyers = details.nips_in_role(Role.BUYER)
    reading = details.as_json()
    reading["nips"] = reading["nips"][:MAX_NIPS]
    reading["bank_accounts"] = reading["bank_accounts"][:MAX_ACCOUNTS]

    document.extraction_status = details.status.value
    document.extraction_failure = details.failure.value if details.failure else None
    document.extracted_at = utcnow()
    if document.first_read_at is None:
        document.first_read_at = document.extracted_at
    document.extraction = reading
    document.invoice_number = number.value.value[:64] if number else None
    document.invoice_number_normalised = normalise_invoice_number(number.value.value)[:64] if number else None
    document.invoice_kind = number.value.kind.value if number else None
    document.seller_nip = details.seller_nip
    document.buyer_nip = buyers[0] if len(buyers) == 1 else None
    in_range = amount is not None and abs(amount.value.value) < MAX_AMOUNT
    document.amount_due = amount.value.value if in_range else None
    document.currency = amount.value.currency if in_range else None
    document.issue_date = details.issue_date.value if details.issue_date else None
    document.ksef_number = details.ksef_number.value if details.ksef_number else None
    document.offline_mark = details.offline_mark is not None
    document.bank_accounts = [found.value for found in details.bank_accounts[:MAX_ACCOUNTS]] or None
    document.nips = list(details.all_nips[:MAX_NIPS]) or None


def _save_failure(document: Document, failure: str) -> None:
    save_reading(document, InvoiceDetails(status=Status.UNREADABLE))
    document.extraction_failure = failure


def update_warnings(document: Document) -> None:
    """Compute the document's warnings against the company's documents read before it."""
    if document.extraction_status != Status.OK:
        document.warnings = None
        return
    company_nip = db.session.scalar(select(Company.nip).where(Company.id == document.company_id))
    found = find_warnings(document, company_nip, related_documents(document, later=False))
    document.warnings = [warning.to_json() for warning in found] or None


def related_documents(document: Document, *, later: bool) -> list[Document]:
    """The company's read documents from the same seller or with the same KSeF number, before
    ``document`` in intake order (or after it, ``later``), oldest first."""
    same_seller = Document.seller_nip == document.seller_nip if document.seller_nip else false()
    same_ksef = Document.ksef_number == document.ksef_number if document.ksef_number else false()
    query = (
        select(Document)
        .where(
            Document.company_id == document.company_id,
            Document.id > document.id if later else Document.id < document.id,
            Document.extraction_status == Status.OK.value,
            or_(same_seller, same_ksef),
        )
        .order_by(Document.id)
    )
    if not later:  # only compared: the columns the warnings read (a seller may have sent hundreds)
        query = query.options(load_only(*_COMPARED))
    return list(db.session.scalars(query))


def recheck_warnings(company_ids: Iterable[int], after_id: int, skip: set[int]) -> int:
    """Compute again the warnings of the companies' read documents after ``after_id`` (except
    ``skip``): a backfill read earlier documents after them. Returns how many were looked at."""
    query = (
        select(Document.id)
        .where(
            Document.company_id.in_(sorted(set(company_ids))),
            Document.id > after_id,
            Document.extraction_status == Status.OK.value,
        )
        .order_by(Document.id)
    )
    count = 0
    for document_id in db.session.scalars(query).all():
        if document_id in skip:
            continue
        update_warnings(db.session.get(Document, document_id))
        db.session.commit()
        count += 1
    return count
