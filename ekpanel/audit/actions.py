"""What the audit log records: one code per action, and its name in the panel."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Action(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    SESSIONS_ENDED = "sessions.ended"  # "Wyloguj ze wszystkich urządzeń"
    PASSWORD_CHANGED = "password.changed"  # by the user, on their own page
    USER_CREATED = "user.created"
    USER_CHANGED = "user.changed"  # login, role, rights, companies, active, password (the fact only)
    COMPANY_CREATED = "company.created"
    COMPANY_CHANGED = "company.changed"
    SERVER_CREATED = "server.created"
    SERVER_CHANGED = "server.changed"  # with the whitelist and folder diff
    SERVER_ENABLED = "server.enabled"
    SERVER_DISABLED = "server.disabled"
    SERVER_DELETED = "server.deleted"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_REFUSED = "consent.refused"
    MESSAGE_RETRY_REQUESTED = "message.retry_requested"  # a message "do wyjaśnienia" sent for another try
    MESSAGE_ALLOWED_ANYWAY = "message.allowed_anyway"  # "Pobierz mimo to": past the sender verification
    ALERTS_CHANGED = "alerts.changed"  # a user's own address for alerts, or which alerts they get


LABELS = {
    Action.LOGIN_SUCCEEDED: _l("Logowanie"),
    Action.LOGIN_FAILED: _l("Nieudane logowanie"),
    Action.SESSIONS_ENDED: _l("Wylogowanie ze wszystkich urządzeń"),
    Action.PASSWORD_CHANGED: _l("Zmiana własnego hasła"),
    Action.USER_CREATED: _l("Dodanie użytkownika"),
    Action.USER_CHANGED: _l("Zmiana użytkownika"),
    Action.COMPANY_CREATED: _l("Dodanie firmy"),
    Action.COMPANY_CHANGED: _l("Zmiana firmy"),
    Action.SERVER_CREATED: _l("Dodanie serwera"),
    Action.SERVER_CHANGED: _l("Zmiana serwera"),
    Action.SERVER_ENABLED: _l("Włączenie serwera"),
    Action.SERVER_DISABLED: _l("Wyłączenie serwera"),
    Action.SERVER_DELETED: _l("Usunięcie serwera"),
    Action.CONSENT_GRANTED: _l("Zgoda administratora Microsoft 365 udzielona"),
    Action.CONSENT_REFUSED: _l("Zgoda administratora Microsoft 365 nie udzielona"),
    Action.MESSAGE_RETRY_REQUESTED: _l("Ponowna próba wiadomości do wyjaśnienia"),
    Action.MESSAGE_ALLOWED_ANYWAY: _l("Pobranie wiadomości mimo weryfikacji nadawcy"),
    Action.ALERTS_CHANGED: _l("Zmiana powiadomień e-mail"),
}


def label(code: str) -> str:
    """The action's name; a code this version does not know (a newer one wrote it) as it is."""
    try:
        return str(LABELS[Action(code)])
    except ValueError:
        return code
