"""What the panel says about a document once its PDF is read: warnings, and why it could not be read.

A warning is computed in the worker, which has no reader, so it is stored as a code and plain
parameters (like a check's notes, ``ekpanel.mail.texts``) and rendered in the reader's language
when a page shows it. The msgids live here beside their codes; ``N_`` only marks them.

- **inna firma?** the company's NIP is set, the document names NIPs, and none is the company's;
- **ta sama faktura** an earlier document of the company has the same seller NIP and invoice
  number, or the same KSeF number, in a different PDF (the same PDF is the list's "duplikat");
- **zmieniony rachunek** the seller's account is not among the accounts on that seller's
  earlier documents of the company;
- **KSeF** the document is the visualisation of an invoice in KSeF, or was issued OFFLINE.

"Earlier" is intake order (the document id). None of this changes what is taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import gettext

from ekpanel.documents.models import Document
from ekpanel.templating import local_time


def N_(msgid: str) -> str:
    return msgid


class WarningCode(StrEnum):
    """Stored in the database: a value never changes."""

    OTHER_COMPANY = "other_company"
    SAME_INVOICE = "same_invoice"  # the same seller NIP and invoice number
    SAME_KSEF_NUMBER = "same_ksef_number"
    CHANGED_ACCOUNT = "changed_account"
    KSEF = "ksef"
    KSEF_OFFLINE = "ksef_offline"


# The badge in the list (short) and the line on the document page (with the parameters).
BADGES: Mapping[WarningCode, str] = {
    WarningCode.OTHER_COMPANY: N_("inna firma?"),
    WarningCode.SAME_INVOICE: N_("ta sama faktura"),
    WarningCode.SAME_KSEF_NUMBER: N_("ta sama faktura"),
    WarningCode.CHANGED_ACCOUNT: N_("zmieniony rachunek"),
    WarningCode.KSEF: N_("KSeF"),
    WarningCode.KSEF_OFFLINE: N_("KSeF"),
}
# fmt: off
LINES: Mapping[WarningCode, str] = {
    WarningCode.OTHER_COMPANY: N_(
        "Inna firma? Dokument wymienia NIP %(nips)s, a nie NIP firmy %(company_nip)s."
    ),
    WarningCode.SAME_INVOICE: N_(
        "Ta sama faktura: sprzedawca %(seller_nip)s i numer %(number)s jak w dokumencie %(filename)s "
        "otrzymanym %(received)s."
    ),
    WarningCode.SAME_KSEF_NUMBER: N_(
        "Ta sama faktura: numer KSeF %(ksef_number)s jak w dokumencie %(filename)s otrzymanym %(received)s."
    ),
    WarningCode.CHANGED_ACCOUNT: N_(
        "Zmieniony rachunek sprzedawcy %(seller_nip)s: %(new)s; na wcześniejszych dokumentach: %(old)s."
    ),
    WarningCode.KSEF: N_("Faktura jest w KSeF pod numerem %(ksef_number)s."),
    WarningCode.KSEF_OFFLINE: N_(
        "Faktura wystawiona w trybie OFFLINE: trafi do KSeF i otrzyma tam numer."
    ),
}
# fmt: on

# Why a PDF could not be read: ekpanel.invoices.FailureReason's values, and the panel's own two.
FILE_MISSING = "file_missing"
UNEXPECTED = "unexpected"
# fmt: off
FAILURES: Mapping[str, str] = {
    "too_large": N_("plik jest za duży"),
    "not_pdf": N_("plik nie jest PDF-em"),
    "encrypted": N_("PDF jest zabezpieczony hasłem"),
    "malformed": N_("PDF jest uszkodzony"),
    "too_many_pages": N_("PDF ma za dużo stron"),
    "too_much_text": N_("PDF ma za dużo tekstu"),
    "timeout": N_("odczyt trwał za długo"),
    "cpu_limit": N_("odczyt trwał za długo"),
    "memory_limit": N_("odczyt wymagał za dużo pamięci"),
    "crashed": N_("czytnik PDF przerwał pracę"),
    FILE_MISSING: N_("brak pliku w magazynie dokumentów"),
    UNEXPECTED: N_("nieoczekiwany błąd"),
}
# fmt: on


@dataclass(frozen=True)
class DocumentWarning:
    code: WarningCode
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": str(self.code), "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DocumentWarning | None:
        try:
            return cls(WarningCode(data.get("code")), dict(data.get("params") or {}))
        except ValueError:
            return None  # a code this version does not know: not shown rather than shown wrong

    @property
    def earlier_document_id(self) -> int | None:
        """The earlier document a "ta sama faktura" points at."""
        return self.params.get("document_id")


def stored_warnings(document: Document) -> list[DocumentWarning]:
    found = (DocumentWarning.from_json(item) for item in document.warnings or ())
    return [warning for warning in found if warning is not None]


def find_warnings(
    document: Document, company_nip: str | None, earlier: Sequence[Document]
) -> list[DocumentWarning]:
    """The warnings of ``document`` (its reading saved) against ``earlier``: the company's
    documents read before it from the same seller or with the same KSeF number, in intake order."""
    warnings: list[DocumentWarning] = []
    nips = document.nips or []
    if company_nip and nips and company_nip not in nips:
        warnings.append(
            DocumentWarning(WarningCode.OTHER_COMPANY, {"nips": nips, "company_nip": company_nip})
        )
    same = _same_invoice(document, earlier)
    if same is not None:
        warnings.append(same)
    changed = _changed_account(document, earlier)
    if changed is not None:
        warnings.append(changed)
    if document.ksef_number:
        warnings.append(DocumentWarning(WarningCode.KSEF, {"ksef_number": document.ksef_number}))
    elif document.offline_mark:
        warnings.append(DocumentWarning(WarningCode.KSEF_OFFLINE))
    return warnings


def _same_invoice(document: Document, earlier: Sequence[Document]) -> DocumentWarning | None:
    """Against the first earlier document that is the same invoice in another PDF."""
    for other in earlier:
        if other.sha256 == document.sha256:
            continue  # the same bytes: the list's "duplikat" says so already
        about = {
            "document_id": other.id,
            "filename": other.filename,
            "received": _stamp(other.received_at),
        }
        if document.ksef_number and other.ksef_number == document.ksef_number:
            return DocumentWarning(
                WarningCode.SAME_KSEF_NUMBER, {"ksef_number": document.ksef_number, **about}
            )
        if (
            document.seller_nip
            and document.invoice_number_normalised
            and other.seller_nip == document.seller_nip
            and other.invoice_number_normalised == document.invoice_number_normalised
        ):
            return DocumentWarning(
                WarningCode.SAME_INVOICE,
                {"seller_nip": document.seller_nip, "number": document.invoice_number or "", **about},
            )
    return None


def _changed_account(document: Document, earlier: Sequence[Document]) -> DocumentWarning | None:
    if not document.seller_nip or not document.bank_accounts:
        return None
    known = _unique(
        account
        for other in reversed(earlier)  # the most recent first
        if other.seller_nip == document.seller_nip
        for account in other.bank_accounts or ()
    )
    new = [account for account in document.bank_accounts if account not in known]
    if not known or not new:
        return None  # the seller's first account, or one it used before
    return DocumentWarning(
        WarningCode.CHANGED_ACCOUNT, {"seller_nip": document.seller_nip, "new": new, "old": known}
    )


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _stamp(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def format_account(account: str) -> str:
    """A compact IBAN in groups of four, as banks print it: ``PL61 1090 1014 …``."""
    return " ".join(account[index : index + 4] for index in range(0, len(account), 4))


# --- in the reader's language -------------------------------------------------------------------


def badge_text(warning: DocumentWarning) -> str:
    return gettext(BADGES[warning.code])


def line_text(warning: DocumentWarning) -> str:
    return gettext(
        LINES[warning.code], **{name: _shown(name, value) for name, value in warning.params.items()}
    )


def failure_text(code: str | None) -> str:
    return gettext(FAILURES.get(code or "", FAILURES[UNEXPECTED]))


def _shown(name: str, value: Any) -> Any:
    if name in ("new", "old"):
        return ", ".join(format_account(account) for account in value)
    if name == "received":
        return local_time(datetime.fromisoformat(value)) if value else "?"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value
