"""A real SMTP server for the alerts' tests: aiosmtpd on a free loopback port, with STARTTLS (or TLS
from the first byte) on a certificate of the test's own CA (trustme, as the Dovecot of
tests/support/dovecot.py), and a login required. It keeps every message it accepted.

Faults to inject: ``refuse_recipients`` (550 at RCPT), ``busy`` (451 at MAIL), and ``hold`` — the
handler stops at RCPT or after the final dot until the test releases it, so a test can kill the
sender exactly there.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port

HOST = "127.0.0.1"
LOGIN = "ekpanel@biuro.example"
PASSWORD = "haslo-smtp-1"
HOLD_SECONDS = 60.0


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    def html(self) -> str:
        return self.message.get_body(("html",)).get_content().replace("\r\n", "\n")


@dataclass
class _Hold:
    stage: str  # "rcpt" or "data"
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def _maybe_hold(self, stage: str) -> None:
        hold = self.server.hold_at
        if hold is not None and hold.stage == stage:
            hold.reached.set()
            await asyncio.get_running_loop().run_in_executor(None, hold.release.wait, HOLD_SECONDS)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.server.busy:
            return "451 4.3.0 Try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self._maybe_hold("rcpt")
        if address.lower() in self.server.refuse_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        self.server.received.append(received)
        await self._maybe_hold("data")
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller, which also drops the connections still open when it stops.

    Its own ``stop`` stops the event loop and closes it with those connections' sockets still open:
    one a client never closed, or one whose TLS goodbye still waits for the client's. Such a socket is
    garbage-collected later, during whichever test runs then, and its ResourceWarning fails that test.
    """

    async def _drop_connections(self) -> None:
        # The selector loop's own registry of its sockets' transports (asyncio keeps it to notice a
        # reused descriptor). It is the one place that holds them all: under a TLS transport aiosmtpd
        # may have closed twice, which forgets the transport under it, the socket is still open.
        for transport in list(self.loop._transports.values()):
            transport.abort()
        await asyncio.sleep(0)  # the sockets close in the callbacks abort() schedules

    def stop(self, no_assert: bool = False) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._drop_connections(), self.loop).result(10)
        super().stop(no_assert)


class SmtpServer:
    """``with SmtpServer() as smtp: smtp.url`` — ``smtp://login:password@127.0.0.1:PORT``."""

    def __init__(
        self, *, implicit_tls: bool = False, certificate_host: str = HOST, starttls: bool = True
    ) -> None:
        self.implicit_tls = implicit_tls
        self.starttls = starttls and not implicit_tls
        self.port = free_port(HOST)
        self.received: list[Received] = []
        self.refuse_recipients: set[str] = set()
        self.busy = False
        self.hold_at: _Hold | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="eksmtp-"))
        self.ca_path = self._dir / "ca.pem"
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(certificate_host).configure_cert(context)
        self._controller = self._make_controller(context)

    def _make_controller(self, context: ssl.SSLContext) -> _Controller:
        implicit_tls = self.implicit_tls
        return _Controller(
            _Handler(self),
            hostname=HOST,
            port=self.port,
            ssl_context=context if implicit_tls else None,
            tls_context=context if self.starttls else None,
            require_starttls=self.starttls,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=self.starttls,  # with TLS from the first byte, already over TLS
        )

    def url(self, login: str = LOGIN, password: str = PASSWORD) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{login}:{password}@{HOST}:{self.port}"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            LOGIN.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def hold(self, stage: str) -> _Hold:
        """Stop the next transaction at ``stage`` ("rcpt" or "data": after the final dot) until released."""
        self.hold_at = _Hold(stage)
        return self.hold_at

    def release(self) -> None:
        if self.hold_at is not None:
            self.hold_at.release.set()
            self.hold_at = None

    def to(self, address: str) -> list[Received]:
        return [item for item in self.received if address in item.recipients]

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release()
        self._controller.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
