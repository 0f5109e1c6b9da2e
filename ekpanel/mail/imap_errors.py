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

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.texts import Text, note
from ekpanel.mail.tls import presented_names
from ekpanel.mail.vocabulary import ErrorCode


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
                ErrorCode.LOGIN_DISABLED,
                note(Text.IMAP_LOGIN_DISABLED),
                detail=detail,
            ) from error
        raise MailboxError(ErrorCode.AUTH_FAILED, note(Text.IMAP_AUTH_FAILED), detail=detail) from error
    except ssl.SSLCertVerificationError as error:
        raise _untrusted(error, host, port, timeout=timeout, starttls=starttls) from error
    except ssl.SSLError as error:
        raise MailboxError(
            ErrorCode.TLS_FAILED,
            note(
                Text.IMAP_TLS_FAILED,
                host=host,
                port=port,
            ),
            detail=str(error),
        ) from error
    except socket.gaierror as error:
        raise MailboxError(
            ErrorCode.HOST_NOT_FOUND,
            note(Text.IMAP_HOST_NOT_FOUND, host=host),
            transient=error.errno in (socket.EAI_AGAIN,),
            detail=str(error),
        ) from error
    except ConnectionRefusedError as error:
        raise MailboxError(
            ErrorCode.CONNECTION_REFUSED,
            note(
                Text.IMAP_CONNECTION_REFUSED,
                host=host,
                port=port,
            ),
            transient=True,
            detail=str(error),
        ) from error
    except (IMAPClientAbortError, EOFError, OSError) as error:
        if isinstance(error, TimeoutError) or "timed out" in str(error):
            raise MailboxError(
                ErrorCode.TIMEOUT,
                note(
                    Text.IMAP_TIMEOUT,
                    host=host,
                    seconds=f"{timeout:g}",
                ),
                transient=True,
                detail=str(error),
            ) from error
        raise MailboxError(
            ErrorCode.CONNECTION_LOST,
            note(Text.IMAP_CONNECTION_LOST, host=host),
            transient=True,
            detail=str(error),
        ) from error
    except (IMAPClientError, imaplib.IMAP4.error) as error:
        raise MailboxError(
            ErrorCode.PROTOCOL_ERROR,
            note(Text.IMAP_PROTOCOL_ERROR, host=host, error=error),
            detail=str(error),
        ) from error


def _untrusted(
    error: ssl.SSLCertVerificationError, host: str, port: int, *, timeout: float, starttls: bool
) -> MailboxError:
    names = presented_names(host, port, starttls=starttls, timeout=timeout)
    shown = ", ".join(names[:5]) if names else note(Text.UNKNOWN_NAME)
    if getattr(error, "verify_code", None) == 62 or "hostname" in str(error).lower():
        message = note(Text.TLS_WRONG_NAME, names=shown, host=host)
    else:
        message = note(
            Text.TLS_UNTRUSTED,
            host=host,
            names=shown,
            reason=getattr(error, "verify_message", "") or error,
        )
    return MailboxError(ErrorCode.TLS_UNTRUSTED, message, detail=str(error))
