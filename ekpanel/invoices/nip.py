"""NIP, the Polish tax identification number: ten digits, the last one a check digit.

``normalise_nip`` and ``is_valid_nip`` validate what a person types (the company form uses
them); ``find_nips`` finds NIPs in an invoice's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)

# Ten digits, optionally in groups joined by one dash or space ("526-000-12-46", "526 000 12 46"),
# optionally after a "PL" prefix (the EU VAT number form). Not part of a longer number: a bank
# account or a KSeF number holds ten-digit runs too.
_CANDIDATE = re.compile(
    r"(?<![\w-])(?<!\d )(?<!\d-)"
    r"(?P<prefix>PL[ ]?)?"
    r"(?P<digits>\d(?:[- ]?\d){9})"
    r"(?!\w)(?![- ]\d)"
)
# A number this close after one of these words is a NIP by its label.
_NIP_LABEL = re.compile(r"\b(?:NIP|VAT|Tax\s*ID|TIN)\b", re.IGNORECASE)
_LABEL_REACH = 40
# Without a label, only the two ways NIPs are conventionally written with dashes count: a random
# ten-digit number (an order, a phone) passes the check digit one time in eleven.
_DASHED_FORMS = (re.compile(r"\d{3}-\d{3}-\d{2}-\d{2}"), re.compile(r"\d{3}-\d{2}-\d{2}-\d{3}"))


def normalise_nip(value: str) -> str:
    """Digits only: people write ``123-456-32-18``, ``PL1234563218`` or with spaces."""
    value = value.strip().upper()
    if value.startswith("PL"):
        value = value[2:]
    return re.sub(r"[\s-]", "", value)


def is_valid_nip(value: str) -> bool:
    digits = normalise_nip(value)
    if not re.fullmatch(r"\d{10}", digits) or digits == "0000000000":
        return False
    check = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=False)) % 11
    return check != 10 and check == int(digits[9])


@dataclass(frozen=True)
class NipMatch:
    value: str
    start: int
    end: int


def find_nips(text: str) -> list[NipMatch]:
    """Every NIP in ``text`` with a valid check digit that is labelled, prefixed or dashed as one."""
    found = []
    for match in _CANDIDATE.finditer(text):
        digits = match["digits"]
        if not is_valid_nip(digits):
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        before = text[max(line_start, match.start() - _LABEL_REACH) : match.start()]
        labelled = bool(match["prefix"]) or bool(_NIP_LABEL.search(before))
        if labelled or any(form.fullmatch(digits) for form in _DASHED_FORMS):
            found.append(NipMatch(digits.replace("-", "").replace(" ", ""), match.start(), match.end()))
    return found
