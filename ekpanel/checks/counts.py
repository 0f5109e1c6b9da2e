"""The counts of one check: the one shape the Check row, the job's progress, the CLI and the pages share."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ekpanel.mail.vocabulary import Reason

_SKIP_FIELDS = {
    Reason.SENDER: "skipped_sender",
    Reason.SENDER_AMBIGUOUS: "skipped_sender",  # a sender rejected all the same
    Reason.NO_ATTACHMENT: "skipped_no_attachment",
    Reason.NO_PDF: "skipped_no_pdf",
    Reason.TOO_LARGE: "skipped_too_large",
    Reason.SENDER_UNCONFIRMED: "skipped_unverified",
    Reason.SENDER_FAILED: "skipped_unverified",
}


@dataclass
class CheckCounts:
    examined: int = 0
    taken: int = 0  # messages taken
    documents: int = 0  # documents created
    skipped_sender: int = 0
    skipped_no_attachment: int = 0
    skipped_no_pdf: int = 0
    skipped_too_large: int = 0
    skipped_unverified: int = 0  # "Wymagaj": the receiving server does not vouch for the sender
    duplicates: int = 0  # messages met again whose documents exist already (not counted as skipped)
    errors: int = 0
    # Messages given a sender verdict, and of those how many carried no Authentication-Results
    # field at all: all of them means the server adds none and cannot vouch for anyone.
    senders_judged: int = 0
    senders_without_authres: int = 0

    @property
    def skipped(self) -> int:
        return sum(getattr(self, name) for name in set(_SKIP_FIELDS.values()))

    def add_skip(self, reason: Reason) -> None:
        name = _SKIP_FIELDS[reason]
        setattr(self, name, getattr(self, name) + 1)

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_COLUMNS}  # asdict() costs 10 times as much

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CheckCounts:
        """From a job's progress; unknown or missing keys (an older or newer worker) are ignored."""
        data = data or {}
        return cls(**{f.name: int(data.get(f.name) or 0) for f in fields(cls)})

    # SQLAlchemy's composite() reads the columns back through this.
    def __composite_values__(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


COUNT_COLUMNS = tuple(f.name for f in fields(CheckCounts))
