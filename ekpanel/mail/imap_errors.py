"""How IMAP failures reach people: every exception classified into a MailboxError.

Messages are for the administrator testing credentials or reading a failed check: Polish
msgids through gettext, so the server dialog speaks the user's language.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import gettext as _
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.tls import presented_names


@contextmanager
def translating_errors(host: str, port: int, *, timeout: float, starttls: bool) -> Iterator[None]:
    """Translate whatever the network, TLS or the server raised into a MailboxError.

    A tagged NO/BAD becomes ``protocol_error``, which some callers handle locally.
    """
    try:
        yield
    except MailboxError:
        raise
    except LoginError as error:
        detail = str(error)
        if "LOGINDISABLED" in detail.upper() or "PLAINTEXT" in detail.upper():
            raise MailboxError(
                "login_disabled",
                _("Serwer nie pozwala logować się bez szyfrowania. Wybierz SSL/TLS albo STARTTLS."),
                detail=detail,
            ) from error
        raise MailboxError(
            "auth_failed", _("Serwer odrzucił nazwę użytkownika lub hasło."), detail=detail
        ) from error
    except ssl.SSLCertVerificationError as error:
        raise _untrusted(error, host, port, timeout=timeout, starttls=starttls) from error
    except ssl.SSLError as error:
        raise MailboxError(
            "tls_failed",
            _(
                "Nie udało się nawiązać szyfrowanego połączenia z %(host)s:%(port)s. "
                "Sprawdź, czy port pasuje do rodzaju szyfrowania.",
                host=host,
                port=port,
            ),
            detail=str(error),
        ) from error
    except socket.gaierror as error:
        raise MailboxError(
            "host_not_found",
            _("Nie znaleziono serwera %(host)s. Sprawdź nazwę serwera poczty przychodzącej.", host=host),
            transient=error.errno in (socket.EAI_AGAIN,),
            detail=str(error),
        ) from error
    except ConnectionRefusedError as error:
        raise MailboxError(
            "connection_refused",
            _(
                "Serwer %(host)s nie przyjmuje połączeń na porcie %(port)s. "
                "Sprawdź port i rodzaj szyfrowania.",
                host=host,
                port=port,
            ),
            transient=True,
            detail=str(error),
        ) from error
    except (IMAPClientAbortError, EOFError, OSError) as error:
        if isinstance(error, TimeoutError) or "timed out" in str(error):
            raise MailboxError(
                "timeout",
                _(
                    "Serwer %(host)s nie odpowiedział w ciągu %(seconds)s s.",
                    host=host,
                    seconds=f"{timeout:g}",
                ),
                transient=True,
                detail=str(error),
            ) from error
        raise MailboxError(
            "connection_lost",
            _("Połączenie z serwerem %(host)s zostało przerwane.", host=host),
            transient=True,
            detail=str(error),
        ) from error
    except (IMAPClientError, imaplib.IMAP4.error) as error:
        raise MailboxError(
            "protocol_error",
            _("Serwer %(host)s odpowiedział nieoczekiwanie: %(error)s", host=host, error=error),
            detail=str(error),
        ) from error


def _untrusted(
    error: ssl.SSLCertVerificationError, host: str, port: int, *, timeout: float, starttls: bool
) -> MailboxError:
    names = presented_names(host, port, starttls=starttls, timeout=timeout)
    shown = ", ".join(names[:5]) if names else _("nieznaną nazwę")
    if getattr(error, "verify_code", None) == 62 or "hostname" in str(error).lower():
        message = _(
            "Certyfikat serwera jest wystawiony dla %(names)s, a nie dla %(host)s.", names=shown, host=host
        )
    else:
        message = _(
            "Certyfikat serwera %(host)s (wystawiony dla %(names)s) nie jest zaufany: %(reason)s. "
            "Jeśli to certyfikat własnego urzędu, dodaj go w EKPANEL_CA_BUNDLE.",
            host=host,
            names=shown,
            reason=getattr(error, "verify_message", "") or error,
        )
    return MailboxError("tls_untrusted", message, detail=str(error))
