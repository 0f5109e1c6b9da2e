"""What reading one PDF yields: a status, and each field found with the text it came from.

Plain values only (enums, dataclasses, ``Decimal``, ``date``), so the result can be stored as
JSON (``as_json`` / ``from_json``) and rendered later in the reader's language: the library
returns codes, the panel turns them into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class Status(StrEnum):
    OK = "ok"
    # The PDF opened but has no text layer to speak of: an image-only scan.
    NO_TEXT = "no_text"
    # "nie udało się odczytać": see ``failure`` for why.
    UNREADABLE = "unreadable"


class FailureReason(StrEnum):
    TOO_LARGE = "too_large"
    NOT_PDF = "not_pdf"
    ENCRYPTED = "encrypted"
    MALFORMED = "malformed"
    TOO_MANY_PAGES = "too_many_pages"
    TOO_MUCH_TEXT = "too_much_text"
    TIMEOUT = "timeout"
    CPU_LIMIT = "cpu_limit"
    MEMORY_LIMIT = "memory_limit"
    CRASHED = "crashed"


class Role(StrEnum):
    SELLER = "seller"
    BUYER = "buyer"
    # "Odbiorca" next to a "Nabywca": the one who receives the goods, not the one who buys them.
    RECIPIENT = "recipient"


class InvoiceKind(StrEnum):
    REGULAR = "regular"
    CORRECTION = "correction"
    PROFORMA = "proforma"


@dataclass(frozen=True)
class Found(Generic[V]):
    """A value and the text it was read from (one or two lines of the PDF, whitespace collapsed)."""

    value: V
    snippet: str


@dataclass(frozen=True)
class FoundNip:
    value: str
    role: Role | None
    snippet: str
    # The label or words that gave the role ("Sprzedawca", "NIP nabywcy"); "" without a role.
    role_snippet: str = ""


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str | None


@dataclass(frozen=True)
class InvoiceNumber:
    value: str
    kind: InvoiceKind


@dataclass(frozen=True)
class InvoiceDetails:
    status: Status
    failure: FailureReason | None = None
    # Technical detail for the log (PDFium's message, the signal); not for the user's eyes.
    failure_detail: str = ""
    page_count: int = 0
    nips: tuple[FoundNip, ...] = ()
    invoice_number: Found[InvoiceNumber] | None = None
    issue_date: Found[date] | None = None
    amount_due: Found[Amount] | None = None
    bank_accounts: tuple[Found[str], ...] = ()
    ksef_number: Found[str] | None = None
    offline_mark: Found[str] | None = None

    @classmethod
    def unreadable(cls, reason: FailureReason, detail: str = "") -> InvoiceDetails:
        return cls(status=Status.UNREADABLE, failure=reason, failure_detail=detail)

    def nips_in_role(self, role: Role) -> tuple[str, ...]:
        return tuple(dict.fromkeys(nip.value for nip in self.nips if nip.role is role))

    @property
    def seller_nip(self) -> str | None:
        """The seller's NIP when the layout names exactly one."""
        sellers = self.nips_in_role(Role.SELLER)
        return sellers[0] if len(sellers) == 1 else None

    @property
    def all_nips(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(nip.value for nip in self.nips))

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates ISO, amounts as strings), read back by ``from_json``."""

        def found(item: Found | None, value: Any = None) -> dict | None:
            if item is None:
                return None
            return {"value": item.value if value is None else value, "snippet": item.snippet}

        number = self.invoice_number
        amount = self.amount_due
        return {
            "status": self.status.value,
            "failure": self.failure.value if self.failure else None,
            "failure_detail": self.failure_detail,
            "page_count": self.page_count,
            "nips": [
                {
                    "value": n.value,
                    "role": n.role.value if n.role else None,
                    "snippet": n.snippet,
                    "role_snippet": n.role_snippet,
                }
                for n in self.nips
            ],
            "invoice_number": found(
                number, number and {"value": number.value.value, "kind": number.value.kind.value}
            ),
            "issue_date": found(self.issue_date, self.issue_date and self.issue_date.value.isoformat()),
            "amount_due": found(
                amount, amount and {"value": str(amount.value.value), "currency": amount.value.currency}
            ),
            "bank_accounts": [found(account) for account in self.bank_accounts],
            "ksef_number": found(self.ksef_number),
            "offline_mark": found(self.offline_mark),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InvoiceDetails:
        def found(item: dict | None, convert=lambda value: value) -> Found | None:
            return None if item is None else Found(convert(item["value"]), item["snippet"])

        return cls(
            status=Status(data["status"]),
            failure=FailureReason(data["failure"]) if data.get("failure") else None,
            failure_detail=data.get("failure_detail", ""),
            page_count=data.get("page_count", 0),
            nips=tuple(
                FoundNip(
                    n["value"],
                    Role(n["role"]) if n["role"] else None,
                    n["snippet"],
                    n.get("role_snippet", ""),
                )
                for n in data.get("nips", ())
            ),
            invoice_number=found(
                data.get("invoice_number"), lambda v: InvoiceNumber(v["value"], InvoiceKind(v["kind"]))
            ),
            issue_date=found(data.get("issue_date"), date.fromisoformat),
            amount_due=found(data.get("amount_due"), lambda v: Amount(Decimal(v["value"]), v["currency"])),
            bank_accounts=tuple(found(account) for account in data.get("bank_accounts", ())),
            ksef_number=found(data.get("ksef_number")),
            offline_mark=found(data.get("offline_mark")),
        )
