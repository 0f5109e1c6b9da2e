"""Bank accounts: Polish NRB (26 digits) and IBAN, each with a valid ISO 13616 mod-97 checksum.

An NRB is a Polish IBAN without its "PL", so ``normalise_account`` turns both into the IBAN:
``61 1090 1014 0000 0712 1981 2874`` and ``PL61109010140000071219812874`` are one account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# IBAN lengths by country, from SWIFT's IBAN registry (Europe and the countries Polish firms
# most often pay). A country not listed is not read: its length cannot be checked.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
NRB_LENGTH = 26

# A run of letters and digits in groups joined by single spaces or dashes, starting like an
# account: two check digits, or a country code and two check digits.
_CANDIDATE = re.compile(r"(?<![\w-])(?:[A-Z]{2}[ ]?)?\d\d(?:[ -]?[0-9A-Z]){10,34}")


def _mod97(iban: str) -> int:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def is_valid_iban(value: str) -> bool:
    compact = re.sub(r"[\s-]", "", value).upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if not re.fullmatch(r"[A-Z]{2}\d{2}[0-9A-Z]+", compact):
        return False
    return _mod97(compact) == 1


def normalise_account(value: str) -> str | None:
    """The account as a compact IBAN (NRBs become ``PL…``), or None when it is not a valid one.

    Compare accounts by this: spaces, dashes, case and the "PL" of a Polish account don't matter.
    """
    compact = re.sub(r"[\s-]", "", value).upper()
    if re.fullmatch(rf"\d{{{NRB_LENGTH}}}", compact):
        compact = "PL" + compact
    return compact if is_valid_iban(compact) else None


@dataclass(frozen=True)
class AccountMatch:
    value: str
    start: int
    end: int


def find_accounts(text: str) -> list[AccountMatch]:
    """Every NRB or IBAN in ``text`` that passes its checksum, as a compact IBAN."""
    found = []
    for match in _CANDIDATE.finditer(text):
        account = _account_at_start(match.group())
        if account is not None:
            value, length = account
            found.append(AccountMatch(value, match.start(), match.start() + length))
    return found


def _account_at_start(run: str) -> tuple[str, int] | None:
    """The account that ``run`` starts with, and how many characters of ``run`` it takes.

    The run may go on past an IBAN ("PL61 1090 … 2874 BIC WBKPPLPP" reads on into the BIC), so
    the account's length comes from its country, and it must end where a group ends.
    """
    has_country = run[:2].isalpha()
    wanted = IBAN_LENGTHS.get(run[:2]) if has_country else NRB_LENGTH
    if wanted is None:
        return None
    compact = ""
    for index, char in enumerate(run):
        if char in " -":
            continue
        compact += char
        if len(compact) == wanted:
            rest = run[index + 1 :]
            if rest and rest[0] not in " -":
                return None
            # Digits going on past an NRB make a longer number, not an account.
            if not has_country and (not compact.isdigit() or rest[1:2].isdigit()):
                return None
            value = normalise_account(compact)
            return (value, index + 1) if value else None
    return None
