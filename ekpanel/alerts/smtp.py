"""Handing one message to the SMTP server, every failure classified for people and for the retry.

Standard library only (and the mail core's TLS context: verified, system store plus
EKPANEL_CA_BUNDLE, never unverified). ``smtp://`` must upgrade with STARTTLS before anything else is
said, so a password never travels in the clear; ``smtps://`` is TLS from the first byte.

The message's DATA is written by hand rather than by ``smtplib.sendmail`` for one reason: the
caller learns the moment before the final ``.``. Until that dot the server has accepted nothing
(a connection cut before it discards the transaction), so a message whose sending died earlier can
safely be sent again; after it, the server may have accepted it whether or not its answer reached
us. ``before_final_dot`` lets the caller record that moment first (ekpanel.alerts.delivery).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from ekpanel.alerts.settings import SmtpTarget
from ekpanel.mail.tls import client_context


class SmtpError(StrEnum):
    """Why a message did not go out; stored with the delivery, so a value never changes."""

    HOST_NOT_FOUND = "host_not_found"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    TLS_FAILED = "tls_failed"
    TLS_UNTRUSTED = "tls_untrusted"
    TLS_WRONG_NAME = "tls_wrong_name"
    STARTTLS_MISSING = "starttls_missing"
    AUTH_FAILED = "auth_failed"
    AUTH_UNSUPPORTED = "auth_unsupported"
    SENDER_REFUSED = "sender_refused"
    RECIPIENT_REFUSED = "recipient_refused"
    MESSAGE_REFUSED = "message_refused"
    SERVER_BUSY = "server_busy"  # a 4xx answer: try later
    PROTOCOL_ERROR = "protocol_error"
    UNCERTAIN = "uncertain"  # the final dot went out, and no answer came back
    ALERTS_OFF = "alerts_off"  # the settings were removed while the message waited


class Outcome(StrEnum):
    """What the outbox does next."""

    RETRY = "retry"  # the server or the settings: try again later, nothing is lost
    REFUSED = "refused"  # this recipient or this message is refused for good
    UNCERTAIN = "uncertain"  # may have been accepted: never sent again by itself


class SmtpFailure(Exception):
    def __init__(self, code: SmtpError, outcome: Outcome, detail: str = "", **params: Any):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.outcome = outcome
        self.detail = detail[:500]
        self.params = {name: str(value) for name, value in params.items()}

    def to_json(self) -> dict[str, Any]:
        return {"code": str(self.code), "params": self.params, "detail": self.detail}


def send(
    target: SmtpTarget,
    payload: bytes,
    *,
    sender: str,
    recipient: str,
    timeout: float,
    ca_bundle: str | None = None,
    before_final_dot: Callable[[], bool] = lambda: True,
) -> bool:
    """Send ``payload`` (a whole message, CRLF line ends) to one recipient; raises SmtpFailure.

    True when the server accepted it; False when ``before_final_dot`` said no, and the transaction
    was abandoned before the server accepted anything.
    """
    host, port = target.host, target.port
    connection: smtplib.SMTP | None = None
    dot_sent = False
    try:
        connection = _connect(target, timeout, ca_bundle)
        if target.username:
            connection.login(target.username, target.password or "")
        _expect(connection.mail(sender), (250,), SmtpError.SENDER_REFUSED, address=sender)
        _expect(connection.rcpt(recipient), (250, 251), SmtpError.RECIPIENT_REFUSED, address=recipient)
        _expect(connection.docmd("DATA"), (354,), SmtpError.MESSAGE_REFUSED)
        connection.send(_dot_stuffed(payload))
        if not before_final_dot():
            connection.close()  # no final dot: the server drops the transaction
            return False
        dot_sent = True
        connection.send(b".\r\n")
        _expect(connection.getreply(), (250,), SmtpError.MESSAGE_REFUSED)
        return True
    except SmtpFailure:
        raise
    except Exception as error:
        if dot_sent:
            raise SmtpFailure(SmtpError.UNCERTAIN, Outcome.UNCERTAIN, repr(error), host=host) from error
        raise _classified(error, host, port) from error
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _connect(target: SmtpTarget, timeout: float, ca_bundle: str | None) -> smtplib.SMTP:
    context = client_context(ca_bundle)
    if target.implicit_tls:
        return smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    connection = smtplib.SMTP(target.host, target.port, timeout=timeout)
    try:
        connection.ehlo()
        if not connection.has_extn("starttls"):
            raise SmtpFailure(SmtpError.STARTTLS_MISSING, Outcome.RETRY, host=target.host, port=target.port)
        connection.starttls(context=context)
        connection.ehlo()
    except BaseException:
        connection.close()
        raise
    return connection


def _expect(reply: tuple[int, bytes], accepted: tuple[int, ...], code: SmtpError, **params: Any) -> None:
    status, text = reply
    if status in accepted:
        return
    answer = f"{status} {text.decode('utf-8', 'replace')}"
    if 400 <= status < 500:
        raise SmtpFailure(SmtpError.SERVER_BUSY, Outcome.RETRY, answer, answer=answer)
    # A refused sender is the panel's own setting (EKPANEL_MAIL_FROM): kept, and tried again once fixed.
    outcome = Outcome.RETRY if code == SmtpError.SENDER_REFUSED else Outcome.REFUSED
    raise SmtpFailure(code, outcome, answer, answer=answer, **params)


def _dot_stuffed(payload: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a dot gets another; the text ends with CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", payload)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _classified(error: BaseException, host: str, port: int) -> SmtpFailure:
    detail = repr(error)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        answer = f"{error.smtp_code} {error.smtp_error.decode('utf-8', 'replace')}"
        return SmtpFailure(SmtpError.AUTH_FAILED, Outcome.RETRY, answer, answer=answer)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return SmtpFailure(SmtpError.AUTH_UNSUPPORTED, Outcome.RETRY, detail, host=host)
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = (getattr(error, "verify_message", "") or str(error)).rstrip(".")
        # 62: the host name, 64: the IP address is not the certificate's
        if getattr(error, "verify_code", None) in (62, 64) or "mismatch" in reason.lower():
            return SmtpFailure(SmtpError.TLS_WRONG_NAME, Outcome.RETRY, detail, host=host, reason=reason)
        return SmtpFailure(SmtpError.TLS_UNTRUSTED, Outcome.RETRY, detail, host=host, reason=reason)
    if isinstance(error, ssl.SSLError):
        return SmtpFailure(SmtpError.TLS_FAILED, Outcome.RETRY, detail, host=host, port=port)
    if isinstance(error, socket.gaierror):
        return SmtpFailure(SmtpError.HOST_NOT_FOUND, Outcome.RETRY, detail, host=host)
    if isinstance(error, ConnectionRefusedError):
        return SmtpFailure(SmtpError.CONNECTION_REFUSED, Outcome.RETRY, detail, host=host, port=port)
    if isinstance(error, TimeoutError):
        return SmtpFailure(SmtpError.TIMEOUT, Outcome.RETRY, detail, host=host)
    if isinstance(error, smtplib.SMTPResponseException):
        answer = f"{error.smtp_code} {error.smtp_error.decode('utf-8', 'replace')}"
        return SmtpFailure(SmtpError.PROTOCOL_ERROR, Outcome.RETRY, answer, host=host, answer=answer)
    if isinstance(error, smtplib.SMTPServerDisconnected | OSError):
        return SmtpFailure(SmtpError.CONNECTION_LOST, Outcome.RETRY, detail, host=host)
    return SmtpFailure(SmtpError.PROTOCOL_ERROR, Outcome.RETRY, detail, host=host, answer=detail)
