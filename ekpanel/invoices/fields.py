"""The invoice number (and kind), the issue date and the amount due, read from labels in the text.

Each finder returns the one value the text agrees on, with where it was read, or None: no
label, or labels that disagree ("Do zapłaty" twice with two amounts), leave the field empty
rather than guessed. A label reaches its value on the same line (across a tab, so a table cell
next to its heading counts) or at the start of the next line.

``normalise_invoice_number`` is what "the same invoice number" means when two are compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from ekpanel.invoices.details import Amount, InvoiceKind, InvoiceNumber

V = TypeVar("V")

_SPACE = r"[^\S\n]"  # whitespace within a line (tabs too)
_AFTER_LABEL = rf"{_SPACE}*[:.]?{_SPACE}*(?:\n{_SPACE}*)?"


@dataclass(frozen=True)
class Match(Generic[V]):
    value: V
    start: int
    end: int


def _agreed(matches: list[Match[V]], key=lambda value: value) -> Match[V] | None:
    """The first match when every match has the same value (by ``key``), else None."""
    if not matches or len({key(match.value) for match in matches}) != 1:
        return None
    return matches[0]


# --- Invoice number ------------------------------------------------------------------------

_FORMA = r"pro\s*-?\s*forma"
_NUMBER = r"(?:#\s*)?(?P<number>(?:(?-i:[A-Z]{1,5})[ ](?=\d))?[0-9A-Za-z][0-9A-Za-z/\\._#-]{0,48})"
# "Faktura VAT nr …", "FAKTURA KORYGUJĄCA NR …", "Faktura pro forma nr …", "Korekta nr …",
# "Invoice no. …": the words between the noun and "nr" tell the kind.
_NUMBER_AFTER_NOUN = re.compile(
    rf"(?P<before>\b\w+{_SPACE}+)?\b(?P<noun>faktura|rachunek|invoice|korekta|{_FORMA})\b"
    rf"(?P<kind>(?:{_SPACE}+[^\W\d_][\w.-]*){{0,4}}?){_SPACE}*"
    rf"\b(?:nr|numer|no|number|n°)\b{_AFTER_LABEL}{_NUMBER}",
    re.IGNORECASE,
)
# "Numer faktury: …", "Nr faktury …" (the KSeF visualisation puts the number on the next line).
_NUMBER_AFTER_NUMER = re.compile(
    rf"(?P<before>\b\w+{_SPACE}+)?\b(?:numer|nr)\.?{_SPACE}+(?:faktury|dokumentu)\b"
    rf"(?P<kind>{_SPACE}+[^\W\d_]+ej)?{_AFTER_LABEL}{_NUMBER}",
    re.IGNORECASE,
)
# A title without "nr" ("FAKTURA VAT 12/01/2026"): there only a number with a slash counts.
_NUMBER_IN_TITLE = re.compile(
    rf"^{_SPACE}*(?P<noun>faktura|korekta|{_FORMA})"
    rf"(?P<kind>(?:{_SPACE}+(?!(?:nr|numer)\b)[^\W\d_][\w.-]*){{0,3}}?)"
    rf"{_SPACE}+(?P<number>(?=\S*/)(?=\S*\d)[0-9A-Za-z][0-9A-Za-z/\\._-]{{2,48}})(?!\S)",
    re.IGNORECASE | re.MULTILINE,
)
# Words that make the number another invoice's: the corrected one, the original, an advance.
_OTHER_INVOICE = re.compile(r"koryg\w*wan|pierwotn|zaliczkow|źródłow|faktury", re.IGNORECASE)
_REFERENCE = re.compile(r"^(?:do|dot|dotyczy|dotyczące|korekty|korekta|dla)\W*$", re.IGNORECASE)
# A title line saying what the document is ("Faktura korygująca", "KOREKTA", "Pro forma").
_TITLE = re.compile(
    rf"^{_SPACE}*(?:(?P<correction>faktura{_SPACE}+korygująca|korekta|nota{_SPACE}+korygująca)"
    rf"|(?P<proforma>(?:faktura{_SPACE}+)?{_FORMA}))\b",
    re.IGNORECASE | re.MULTILINE,
)


def _kind_from_words(words: str) -> InvoiceKind | None:
    if re.search(r"koryg|korekt", words, re.IGNORECASE):
        return InvoiceKind.CORRECTION
    if re.search(_FORMA, words, re.IGNORECASE):
        return InvoiceKind.PROFORMA
    return None


def find_invoice_number(text: str) -> Match[InvoiceNumber] | None:
    candidates: list[tuple[Match[str], InvoiceKind | None]] = []
    for pattern in (_NUMBER_AFTER_NOUN, _NUMBER_AFTER_NUMER, _NUMBER_IN_TITLE):
        for match in pattern.finditer(text):
            kind_words = match["kind"] or ""
            if _OTHER_INVOICE.search(kind_words):
                continue
            before = match.groupdict().get("before")
            if before and _REFERENCE.match(before.strip()):
                continue
            number = match["number"].rstrip("./\\_#-")
            if not any(char.isdigit() for char in number):
                continue
            words = kind_words + " " + (match.groupdict().get("noun") or "")
            candidates.append((Match(number, match.start(), match.end()), _kind_from_words(words)))
    agreed = _agreed([found for found, _ in candidates], normalise_invoice_number)
    if agreed is None:
        return None
    # The kind its label gives, else a title line's; a document that says neither is a plain invoice.
    kinds = {kind for _, kind in candidates if kind}
    if not kinds:
        kinds = {
            InvoiceKind.CORRECTION if title["correction"] else InvoiceKind.PROFORMA
            for title in _TITLE.finditer(text)
        }
    kind = kinds.pop() if len(kinds) == 1 else InvoiceKind.REGULAR
    return Match(InvoiceNumber(agreed.value, kind), agreed.start, agreed.end)


def normalise_invoice_number(number: str) -> str:
    """The number as compared for "the same invoice": case, separators and leading zeros aside.

    ``FV/001/2026``, ``fv 1/2026`` and ``FV-1-2026`` are one number; ``1/10/2026`` and
    ``11/0/2026`` stay two (separators become "/", they are not dropped).
    """
    groups = re.split(r"[\s/\\._#-]+", number.upper())
    return "/".join(group.lstrip("0") or "0" if group.isdigit() else group for group in groups if group)


# --- Issue date ------------------------------------------------------------------------------

_MONTH_NAMES = (
    "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
    "lipca", "sierpnia", "września", "października", "listopada", "grudnia",
)  # fmt: skip
_DATE = (
    r"(?<!\d)(?:(?P<y1>\d{4})(?P<s1>[-./])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})"
    r"|(?P<d2>\d{1,2})(?P<s2>[-./])(?P<m2>\d{1,2})(?P=s2)(?P<y2>\d{4})"
    rf"|(?P<d3>\d{{1,2}}){_SPACE}+(?P<month>{'|'.join(_MONTH_NAMES)}){_SPACE}+(?P<y3>\d{{4}}))(?!\d)"
)
_DATE_LABEL = (
    # "Data wystawienia/sprzedaży": one date for both.
    r"data\s+wystawienia(?:\s*(?:/|i|oraz)\s*(?:data\s+)?(?:sprzedaży|dostawy|wykonania\s+usługi))?"
    r"(?:,\s*z\s+zastrzeżeniem\s+art\.\s*106na\s+ust\.\s*1\s+ustawy)?"
    r"|data\s+wyst\.|wystawion[aoy]?\s+(?:dnia|w\s+dniu)|issue\s+date|date\s+of\s+issue|invoice\s+date"
)
_ISSUE_DATE = re.compile(
    rf"\b(?:{_DATE_LABEL})(?P<between>[^\n\d]{{0,40}}?|{_SPACE}*:?{_SPACE}*\n{_SPACE}*){_DATE}",
    re.IGNORECASE,
)
# "Faktura nr 1/2026 z dnia 5 stycznia 2026": the number's own line.
_NUMBER_DATED = re.compile(
    rf"(?P<before>\b\w+{_SPACE}+)?\b(?:faktura|korekta|rachunek)\b[^\n]{{0,80}}?\bz{_SPACE}+dnia(?P<between>{_SPACE}*:?{_SPACE}*){_DATE}",
    re.IGNORECASE,
)
# Another date's label between a label and a date means the date may be that one's.
_OTHER_DATE_LABEL = re.compile(r"\b(?:data|termin|date|sprzedaży|dostawy)\b", re.IGNORECASE)


def _date(match: re.Match) -> date | None:
    try:
        if match["y1"]:
            return date(int(match["y1"]), int(match["m1"]), int(match["d1"]))
        if match["y2"]:
            return date(int(match["y2"]), int(match["m2"]), int(match["d2"]))
        return date(int(match["y3"]), _MONTH_NAMES.index(match["month"].lower()) + 1, int(match["d3"]))
    except ValueError:
        return None


def find_issue_date(text: str) -> Match[date] | None:
    candidates = []
    for pattern in (_ISSUE_DATE, _NUMBER_DATED):
        for match in pattern.finditer(text):
            if _OTHER_DATE_LABEL.search(match["between"]):
                continue
            if match.groupdict().get("before") and _REFERENCE.match(match["before"].strip()):
                continue
            value = _date(match)
            if value is not None and 2000 <= value.year <= 2100:
                candidates.append(Match(value, match.start(), match.end()))
    return _agreed(candidates)


# --- Amount due ------------------------------------------------------------------------------

_CURRENCIES = {
    "PLN": "PLN", "ZŁ": "PLN", "ZL": "PLN", "ZŁOTYCH": "PLN", "EUR": "EUR", "€": "EUR", "USD": "USD",
    "$": "USD", "GBP": "GBP", "£": "GBP", "CHF": "CHF", "CZK": "CZK", "SEK": "SEK", "NOK": "NOK",
    "DKK": "DKK", "HUF": "HUF", "UAH": "UAH", "JPY": "JPY", "CNY": "CNY", "CAD": "CAD", "AUD": "AUD",
}  # fmt: skip
_CURRENCY = r"(?:PLN|zł|zl|złotych|EUR|€|USD|\$|GBP|£|CHF|CZK|SEK|NOK|DKK|HUF|UAH|JPY|CNY|CAD|AUD)"
# Two decimals always: "1 230,00", "1.230,00", "1,230.00", "1230.00"; never a piece of a date.
_AMOUNT = (
    rf"(?:(?P<pre>{_CURRENCY}){_SPACE}?)?(?<![\d.,/-])(?P<sign>[-−]{_SPACE}?)?"
    r"(?P<number>\d{1,3}(?:[ .,'](?=\d{3}(?!\d))\d{3})+[.,]\d{2}|\d+[.,]\d{2})(?![.,/-]?\d)"
    rf"(?:{_SPACE}?(?P<post>{_CURRENCY})(?!\w))?"
)
# Labels by preference: what is left to pay, what is due, the gross total.
_AMOUNT_TIERS = (
    r"pozosta(?:ło|je)\s+do\s+zapłaty",
    r"do\s+zapłaty|kwota\s+należności(?:\s+ogółem)?|należność\s+ogółem|amount\s+due|balance\s+due|total\s+due",
    r"razem\s+brutto|brutto\s+razem|suma\s+brutto|ogółem\s+brutto|wartość\s+brutto(?:\s+razem)?",
)
_AMOUNT_LABELS = [
    re.compile(rf"\b(?:{tier})\b(?:[^\n\d]{{0,40}}?|{_SPACE}*:?{_SPACE}*\n{_SPACE}*){_AMOUNT}", re.IGNORECASE)
    for tier in _AMOUNT_TIERS
]
_DOCUMENT_CURRENCY = re.compile(
    r"\b(?:kod\s+waluty|waluta|w\s+walucie)\b[^\S\n]*:?[^\S\n]*(?P<code>[A-Z]{3})\b", re.IGNORECASE
)


def _amount(match: re.Match) -> Decimal | None:
    number = match["number"]
    decimal_separator, whole = number[-3], number[:-3]
    separators = {char for char in whole if not char.isdigit()}
    if decimal_separator in separators or len(separators) > 1:
        return None
    value = Decimal("".join(char for char in whole if char.isdigit()) + "." + number[-2:])
    return -value if match["sign"] else value


def find_amount_due(text: str) -> Match[Amount] | None:
    codes = {match["code"].upper() for match in _DOCUMENT_CURRENCY.finditer(text)} & set(_CURRENCIES)
    document_currency = codes.pop() if len(codes) == 1 else None
    for pattern in _AMOUNT_LABELS:
        candidates = []
        for match in pattern.finditer(text):
            value = _amount(match)
            if value is None:
                continue
            symbol = match["post"] or match["pre"]
            currency = _CURRENCIES[symbol.upper()] if symbol else document_currency
            candidates.append(Match(Amount(value, currency), match.start(), match.end()))
        if candidates:
            return _agreed(candidates)
    return None
