"""An audit entry's details as lines people read: "Adresy e-mail …: dodano a@b.pl; usunięto c@d.pl".

Entries store codes and plain values (JSON); the words come from here, in the reader's language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ekpanel.audit.actions import label
from ekpanel.audit.models import AuditEntry

FIELD_LABELS = {
    # users
    "login": _l("Login"),
    "is_admin": _l("Administrator"),
    "can_refresh": _l("Przekazane dokumenty - e-mail (odświeżenie)"),
    "active": _l("Aktywny"),
    "language": _l("Język"),
    "companies": _l("Firmy"),
    "password": _l("Hasło"),
    "reason": _l("Powód"),
    # companies
    "name": _l("Nazwa"),
    "nip": _l("NIP"),
    # servers
    "company": _l("Firma"),
    "protocol": _l("Protokół"),
    "host": _l("Serwer poczty przychodzącej"),
    "port": _l("Port"),
    "encryption": _l("Rodzaj szyfrowania"),
    "username": _l("Nazwa użytkownika"),
    "client_id": _l("ID aplikacji"),
    "tenant": _l("Tenant ID"),
    "mailbox_address": _l("Adres skrzynki"),
    "secret_expires_on": _l("Klucz ważny do"),
    "secret": _l("Hasło lub klucz sekretny"),
    "consent": _l("Zgoda administratora"),
    "whitelist": _l("Adresy e-mail mogących wysyłać dokumenty"),
    "folders": _l("Foldery IMAP"),
    "sender_policy": _l("Weryfikacja nadawcy"),
    "authserv_id": _l("Identyfikator serwera uwierzytelniającego (authserv-id)"),
    # messages
    "folder": _l("Folder"),
    "sender": _l("Nadawca"),
    "subject": _l("Temat"),
    "verification": _l("Weryfikacja nadawcy"),
    # consent
    "error": _l("Odpowiedź Microsoft"),
}

# Fields whose values are codes, and the codes' names.
CODE_LABELS = {
    "reason": {
        "unknown_login": _l("nie ma takiego loginu"),
        "inactive": _l("konto nieaktywne"),
        "wrong_password": _l("nieprawidłowe hasło"),
    },
    "password": {"changed": _l("zmieniono")},
    "secret": {"changed": _l("zmieniono")},
    "protocol": {"imap": "IMAP", "graph": _l("API Outlook 365")},
    "sender_policy": {"off": _l("Wyłączona"), "mark": _l("Oznaczaj"), "require": _l("Wymagaj")},
    "verification": {
        "sender unconfirmed": _l("nadawca niepotwierdzony"),
        "sender failed": _l("nadawca niezgodny"),
    },
}


@dataclass
class AuditRow:
    entry: AuditEntry
    action: str  # the action's name
    details: list[tuple[str, str]]  # (field, what)


def audit_rows(entries: list[AuditEntry]) -> list[AuditRow]:
    return [AuditRow(entry, label(entry.action), detail_lines(entry)) for entry in entries]


def detail_lines(entry: AuditEntry) -> list[tuple[str, str]]:
    """(field, what) pairs, in the order recorded; an unknown field by its code, so nothing is hidden."""
    try:
        details = json.loads(entry.details or "{}")
    except ValueError:
        return [("", entry.details)]
    return [
        (str(FIELD_LABELS.get(key, key)), _describe_value(value, CODE_LABELS.get(key, {})))
        for key, value in details.items()
    ]


def _describe_value(value, codes: dict) -> str:
    if isinstance(value, dict) and ("added" in value or "removed" in value):
        parts = []
        if value.get("added"):
            parts.append(_("dodano: %(items)s", items=_plain(value["added"], codes)))
        if value.get("removed"):
            parts.append(_("usunięto: %(items)s", items=_plain(value["removed"], codes)))
        return "; ".join(parts)
    if isinstance(value, dict) and value.keys() == {"old", "new"}:
        return f"{_plain(value['old'], codes)} → {_plain(value['new'], codes)}"
    return _plain(value, codes)


def _plain(value, codes: dict) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("tak") if value else _("nie")
    if isinstance(value, list):
        return ", ".join(_plain(item, codes) for item in value)
    return str(codes.get(value, value)) if isinstance(value, str) else str(value)
