"""How IMAP failures reach people: every exception classified into a MailboxError.

Messages are Polish, for the administrator testing credentials or reading a failed check.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

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
                "Serwer nie pozwala logować się bez szyfrowania. Wybierz SSL/TLS albo STARTTLS.",
                detail=detail,
            ) from error
        raise MailboxError(
            "auth_failed", "Serwer odrzucił nazwę użytkownika lub hasło.", detail=detail
        ) from error
    except ssl.SSLCertVerificationError as error:
        raise _untrusted(error, host, port, timeout=timeout, starttls=starttls) from error
    except ssl.SSLError as error:
        raise MailboxError(
            "tls_failed",
            f"Nie udało się nawiązać szyfrowanego połączenia z {host}:{port}. "
            "Sprawdź, czy port pasuje do rodzaju szyfrowania.",
            detail=str(error),
        ) from error
    except socket.gaierror as error:
        raise MailboxError(
            "host_not_found",
            f"Nie znaleziono serwera {host}. Sprawdź nazwę serwera poczty przychodzącej.",
            transient=error.errno in (socket.EAI_AGAIN,),
            detail=str(error),
        ) from error
    except ConnectionRefusedError as error:
        raise MailboxError(
            "connection_refused",
            f"Serwer {host} nie przyjmuje połączeń na porcie {port}. Sprawdź port i rodzaj szyfrowania.",
            transient=True,
            detail=str(error),
        ) from error
    except (IMAPClientAbortError, EOFError, OSError) as error:
        if isinstance(error, TimeoutError) or "timed out" in str(error):
            raise MailboxError(
                "timeout",
                f"Serwer {host} nie odpowiedział w ciągu {timeout:g} s.",
                transient=True,
                detail=str(error),
            ) from error
        raise MailboxError(
            "connection_lost",
            f"Połączenie z serwerem {host} zostało przerwane.",
            transient=True,
            detail=str(error),
        ) from error
    except (IMAPClientError, imaplib.IMAP4.error) as error:
        raise MailboxError(
            "protocol_error", f"Serwer {host} odpowiedział nieoczekiwanie: {error}", detail=str(error)
        ) from error


def _untrusted(
    error: ssl.SSLCertVerificationError, host: str, port: int, *, timeout: float, starttls: bool
) -> MailboxError:
    names = presented_names(host, port, starttls=starttls, timeout=timeout)
    shown = ", ".join(names[:5]) if names else "nieznaną nazwę"
    if getattr(error, "verify_code", None) == 62 or "hostname" in str(error).lower():
        message = f"Certyfikat serwera jest wystawiony dla {shown}, a nie dla {host}."
    else:
        message = (
            f"Certyfikat serwera {host} (wystawiony dla {shown}) nie jest zaufany: "
            f"{getattr(error, 'verify_message', '') or error}. "
            "Jeśli to certyfikat własnego urzędu, dodaj go w EKPANEL_CA_BUNDLE."
        )
    return MailboxError("tls_untrusted", message, detail=str(error))
