"""The KSeF number of an invoice in the national e-invoice system, and the "OFFLINE" mark.

The format, as the Ministry of Finance publishes it (CIRFMF/ksef-docs, ``faktury/numer-ksef.md``):
``9999999999-RRRRMMDD-FFFFFFFFFFFF-FF``, 35 characters: the seller's NIP, the date KSeF accepted
the invoice, a 12-character technical part in upper-case hexadecimal, and a CRC-8 checksum of
the first 32 characters (polynomial 0x07, initial value 0x00, no reflection, no final XOR) in
two upper-case hexadecimal digits. The Ministry's example ``5265877635-20250826-0100001AF629-AF``
is the test vector. KSeF 1.0 printed the technical part split in two
(``NIP-YYYYMMDD-XXXXXX-XXXXXX-XX``, 36 characters); that form is read too, and checked on its
35-character form.

A visualisation of an invoice that is in KSeF prints its number under the QR code; an invoice
issued offline prints "OFFLINE" there instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Hyphens may be followed by a line break: a narrow column wraps the number.
_KSEF = re.compile(
    r"(?<![0-9A-Za-z])(?P<nip>\d{10})-\s?(?P<date>\d{8})-\s?(?P<tech1>[0-9A-F]{6})(?:-\s?)?"
    r"(?P<tech2>[0-9A-F]{6})-\s?(?P<crc>[0-9A-F]{2})(?![0-9A-Za-z])"
)
_OFFLINE = re.compile(r"(?<![0-9A-Za-z])OFFLINE(?![0-9A-Za-z])")


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _canonical(match: re.Match) -> str | None:
    """The 35-character number when the date is a real date and the checksum holds."""
    try:
        date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
    except ValueError:
        return None
    data = f"{match['nip']}-{match['date']}-{match['tech1']}{match['tech2']}"
    if f"{crc8(data.encode('ascii')):02X}" != match["crc"]:
        return None
    return f"{data}-{match['crc']}"


def normalise_ksef_number(value: str) -> str | None:
    """The canonical 35-character KSeF number, or None when ``value`` is not a valid one."""
    match = _KSEF.fullmatch(re.sub(r"\s", "", value.strip()))
    return _canonical(match) if match else None


def is_valid_ksef_number(value: str) -> bool:
    return normalise_ksef_number(value) is not None


@dataclass(frozen=True)
class KsefMatch:
    value: str
    start: int
    end: int


def find_ksef_numbers(text: str) -> list[KsefMatch]:
    """Every KSeF number in ``text`` whose checksum holds, in its 35-character form."""
    found = []
    for match in _KSEF.finditer(text):
        value = _canonical(match)
        if value:
            found.append(KsefMatch(value, match.start(), match.end()))
    return found


def find_offline_marks(text: str) -> list[tuple[int, int]]:
    """Where the word OFFLINE stands on its own, in capitals, as the mark under the QR code."""
    return [match.span() for match in _OFFLINE.finditer(text)]
