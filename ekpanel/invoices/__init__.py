"""What each invoice PDF is: NIPs, number, date, amount due, bank accounts, KSeF number.

A library at the bottom, like ``ekpanel.mail``: it imports the standard library, pypdfium2 (in
the sandboxed child only) and itself; no Flask, no database, no gettext. It returns codes and
plain dataclasses; the panel stores them and renders the words.

    details = extract_invoice(pdf_bytes)           # or a path; Limits() for other bounds
    details.status                                 # ok / no_text / unreadable (+ failure)
    details.seller_nip, details.ksef_number.value, details.amount_due.snippet, ...

Helpers for comparing invoices: ``normalise_account`` (an NRB and its PL IBAN are one account),
``normalise_invoice_number`` (case, separators and leading zeros aside).
"""

from ekpanel.invoices.accounts import is_valid_iban, normalise_account
from ekpanel.invoices.details import (
    Amount,
    FailureReason,
    Found,
    FoundNip,
    InvoiceDetails,
    InvoiceKind,
    InvoiceNumber,
    Role,
    Status,
)
from ekpanel.invoices.extract import extract_invoice
from ekpanel.invoices.fields import normalise_invoice_number
from ekpanel.invoices.ksef import is_valid_ksef_number, normalise_ksef_number
from ekpanel.invoices.nip import is_valid_nip, normalise_nip
from ekpanel.invoices.reading import read_fields
from ekpanel.invoices.sandbox import Limits
from ekpanel.invoices.text import TextLayer

__all__ = [
    "Amount",
    "FailureReason",
    "Found",
    "FoundNip",
    "InvoiceDetails",
    "InvoiceKind",
    "InvoiceNumber",
    "Limits",
    "Role",
    "Status",
    "TextLayer",
    "extract_invoice",
    "is_valid_iban",
    "is_valid_ksef_number",
    "is_valid_nip",
    "normalise_account",
    "normalise_invoice_number",
    "normalise_ksef_number",
    "normalise_nip",
    "read_fields",
]
