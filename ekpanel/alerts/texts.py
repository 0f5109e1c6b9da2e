"""What a failed send tells people: a stored code and its parameters, rendered in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext

from ekpanel.alerts.smtp import SmtpError


def N_(msgid: str) -> str:
    return msgid


# fmt: off
FAILURE_MSGIDS: Mapping[SmtpError, str] = {
    SmtpError.HOST_NOT_FOUND: N_(
        "Nie znaleziono serwera %(host)s. Sprawdź nazwę serwera w EKPANEL_SMTP_URL."
    ),
    SmtpError.CONNECTION_REFUSED: N_(
        "Serwer %(host)s nie przyjmuje połączeń na porcie %(port)s. Sprawdź port i schemat "
        "(smtp:// to STARTTLS, zwykle port 587; smtps:// to TLS, zwykle port 465)."
    ),
    SmtpError.TIMEOUT: N_("Serwer %(host)s nie odpowiedział w wyznaczonym czasie."),
    SmtpError.CONNECTION_LOST: N_("Połączenie z serwerem %(host)s zostało przerwane."),
    SmtpError.TLS_FAILED: N_(
        "Nie udało się nawiązać szyfrowanego połączenia z %(host)s:%(port)s. "
        "Sprawdź, czy port pasuje do schematu (smtp:// albo smtps://)."
    ),
    SmtpError.TLS_UNTRUSTED: N_(
        "Certyfikat serwera %(host)s nie jest zaufany: %(reason)s. "
        "Jeśli to certyfikat własnego urzędu, dodaj go w EKPANEL_CA_BUNDLE."
    ),
    SmtpError.TLS_WRONG_NAME: N_("Certyfikat serwera nie jest wystawiony dla %(host)s: %(reason)s."),
    SmtpError.STARTTLS_MISSING: N_(
        "Serwer %(host)s nie oferuje STARTTLS, więc nic nie zostało wysłane. Użyj smtps:// "
        "(zwykle port 465) albo sprawdź port."
    ),
    SmtpError.AUTH_FAILED: N_("Serwer odrzucił nazwę użytkownika lub hasło (%(answer)s)."),
    SmtpError.AUTH_UNSUPPORTED: N_(
        "Serwer %(host)s nie pozwala się zalogować. Usuń użytkownika i hasło z EKPANEL_SMTP_URL "
        "albo użyj innego serwera."
    ),
    SmtpError.SENDER_REFUSED: N_(
        "Serwer odrzucił adres nadawcy %(address)s (EKPANEL_MAIL_FROM): %(answer)s"
    ),
    SmtpError.RECIPIENT_REFUSED: N_("Serwer odrzucił adres odbiorcy %(address)s: %(answer)s"),
    SmtpError.MESSAGE_REFUSED: N_("Serwer odrzucił wiadomość: %(answer)s"),
    SmtpError.SERVER_BUSY: N_("Serwer chwilowo nie przyjmuje wiadomości (%(answer)s); spróbujemy ponownie."),
    SmtpError.PROTOCOL_ERROR: N_("Serwer %(host)s odpowiedział nieoczekiwanie: %(answer)s"),
    SmtpError.UNCERTAIN: N_(
        "Wiadomość została przekazana serwerowi %(host)s, ale jego odpowiedź nie dotarła. "
        "Mogła zostać doręczona; nie wysyłamy jej ponownie, żeby nie przyszła dwa razy."
    ),
    SmtpError.ALERTS_OFF: N_("Powiadomienia e-mail zostały wyłączone, zanim wiadomość wyszła."),
}
# fmt: on


def render_failure(stored: Mapping[str, Any] | None) -> str:
    """A stored failure (``SmtpFailure.to_json()``) in the reader's language."""
    if not stored:
        return ""
    try:
        msgid = FAILURE_MSGIDS[SmtpError(stored.get("code"))]
    except (ValueError, KeyError):
        return str(stored.get("detail") or stored.get("code") or "")
    params = {name: str(value) for name, value in (stored.get("params") or {}).items()}
    try:
        return gettext(msgid, **params)
    except (KeyError, ValueError):  # a parameter missing from an older row: the code's words, plainly
        return str(stored.get("detail") or stored.get("code"))
