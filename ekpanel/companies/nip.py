"""NIP, the Polish tax identification number: ten digits, the last one a check digit."""

from __future__ import annotations

import re

_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def normalise_nip(value: str) -> str:
    """Digits only: people write ``123-456-32-18``, ``PL1234563218`` or with spaces."""
    value = value.strip().upper()
    if value.startswith("PL"):
        value = value[2:]
    return re.sub(r"[\s-]", "", value)


def is_valid_nip(value: str) -> bool:
    digits = normalise_nip(value)
    if not re.fullmatch(r"\d{10}", digits):
        return False
    check = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=False)) % 11
    return check != 10 and check == int(digits[9])
