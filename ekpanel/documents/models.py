"""Documents taken from e-mail: one per PDF of a taken message, and what its PDF says.

What the PDF says is read after intake (``ekpanel.documents.extraction``): the columns from
``extraction_status`` on stay empty until then, and the list, the search and the warnings read
them, never the PDF.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekpanel.documents import search_index
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

STATUS_NEW = "new"  # Nowy
STATUS_REGISTERED = "registered"  # Zarejestrowany

# What reading the PDF gave (ekpanel.invoices.Status), or that it has not been read yet.
EXTRACTION_PENDING = "pending"


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (
        # Exactly once: the same PDF of the same message is one document, however often it is seen.
        UniqueConstraint("company_id", "message_key", "sha256", name="uq_documents_company_message_pdf"),
        Index("ix_documents_company_received", "company_id", "received_at", "id"),
        Index("ix_documents_company_status", "company_id", "status"),
        # The same PDF sent again in another e-mail (an invoice re-sent): see same_file_elsewhere.
        Index("ix_documents_company_sha256", "company_id", "sha256"),
        # "ta sama faktura" and "zmieniony rachunek": the company's documents from one seller.
        Index("ix_documents_company_seller_number", "company_id", "seller_nip", "invoice_number_normalised"),
        Index("ix_documents_company_ksef", "company_id", "ksef_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # A deleted server keeps its documents; its name stays in server_label.
    server_id: Mapped[int | None] = mapped_column(ForeignKey("mail_servers.id", ondelete="SET NULL"))
    server_label: Mapped[str] = mapped_column(String(255), default="")
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id", ondelete="SET NULL"))
    source_folder: Mapped[str] = mapped_column(String(500), default="")
    message_id: Mapped[str | None] = mapped_column(Text)
    message_key: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=STATUS_NEW)
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The receiving server's verdict on the sender (ekpanel.mail.authres.SenderVerdict) and what it
    # rests on (SenderCheck.to_json()); None when the server's sender verification was off.
    sender_verdict: Mapped[str | None] = mapped_column(String(16))
    sender_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Who let this message in though "Wymagaj" kept it out (ekpanel.checks.exceptions).
    allowed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # What the PDF says (ekpanel.invoices.InvoiceDetails), once read.
    extraction_status: Mapped[str] = mapped_column(String(16), default=EXTRACTION_PENDING)
    # Why it could not be read (ekpanel.invoices.FailureReason, or ekpanel.documents.warnings').
    extraction_failure: Mapped[str | None] = mapped_column(String(32))
    extracted_at: Mapped[datetime | None] = mapped_column(DateTime)  # the latest reading
    # The first reading's end, never moved by a reading again (``documents extract --all``): the
    # daily digest tells of a document's warnings in the digest after it (ekpanel.alerts.daily_events).
    first_read_at: Mapped[datetime | None] = mapped_column(DateTime)
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    # As "the same invoice number" compares it (ekpanel.invoices.normalise_invoice_number).
    invoice_number_normalised: Mapped[str | None] = mapped_column(String(64))
    invoice_kind: Mapped[str | None] = mapped_column(String(16))
    seller_nip: Mapped[str | None] = mapped_column(String(10))
    buyer_nip: Mapped[str | None] = mapped_column(String(10))
    amount_due: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date)
    ksef_number: Mapped[str | None] = mapped_column(String(35))
    offline_mark: Mapped[bool] = mapped_column(Boolean, default=False)
    # Compact IBANs (NRBs as PL…), and every NIP the document names whatever its role.
    bank_accounts: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    nips: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # The whole reading with the text each field came from (InvoiceDetails.as_json), for the page.
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # [{"code": ..., "params": {...}}] (ekpanel.documents.warnings), NULL when there are none.
    warnings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))

    company = relationship("Company")
    server = relationship("MailServer")
    status_changed_by = relationship("User", foreign_keys=[status_changed_by_id])
    allowed_by = relationship("User", foreign_keys=[allowed_by_id])


search_index.attach(Document.__table__)
