"""One logged-in IMAP connection (imapclient): encrypted as configured, one folder open at a time.

Every failure leaves as a classified MailboxError (``imap_errors``). The session counts what it
costs, the commands sent and the bytes read (:class:`ImapStats`): the benchmarks and the tests
of protocol economy read it.
"""

from __future__ import annotations

import imaplib
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

from imapclient import IMAPClient

from ekpanel.mail.imap_errors import translating_errors
from ekpanel.mail.mailbox import MailboxError, RemoteFolder
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.tls import client_context
from ekpanel.mail.vocabulary import ErrorCode


@dataclass
class ImapStats:
    """What a session cost: the commands sent (names only) and the bytes read."""

    commands: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def count(self, prefix: str) -> int:
        return sum(1 for command in self.commands if command.startswith(prefix))

    def add(self, other: ImapStats) -> None:
        self.commands += other.commands
        self.bytes_read += other.bytes_read


class ImapSession:
    """One IMAP session. ``encryption`` is ``ssl``, ``starttls`` or ``none``."""

    def __init__(
        self, host: str, port: int, encryption: str, username: str, password: str, settings: MailSettings
    ) -> None:
        self.host = host
        self.port = port
        self.encryption = encryption
        self.username = username
        self._password = password
        self.settings = settings
        self.stats = ImapStats()
        self._client: IMAPClient | None = None
        self._selected: tuple[str, bool] | None = None  # (folder ref, writable)
        self._status: dict[bytes, Any] = {}

    def sibling(self) -> ImapSession:
        """Another session (not yet connected) to the same mailbox, as the same user."""
        return ImapSession(
            self.host, self.port, self.encryption, self.username, self._password, self.settings
        )

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> IMAPClient:
        """The logged-in imapclient connection."""
        if self._client is None:
            raise RuntimeError("the mailbox is not connected")
        return self._client

    def connect(self) -> None:
        # imaplib refuses a response line over _MAXLINE (1 MB), which a message with a few thousand
        # parts exceeds in its BODYSTRUCTURE alone. Raised deliberately to the setting; a message
        # beyond it is that message's error (imap_listing), not the mailbox's.
        imaplib._MAXLINE = self.settings.imap_max_line_bytes
        timeout = self.settings.imap_timeout
        context = client_context(self.settings.ca_bundle) if self.encryption != "none" else None
        with self.errors():
            client = IMAPClient(
                self.host,
                self.port,
                ssl=self.encryption == "ssl",
                ssl_context=context,
                timeout=timeout,
            )
        self._client = client
        self._instrument(client)
        # Folder names stay in modified UTF-7 as the server sent them; we decode for display.
        client.folder_encode = False
        client.normalise_times = False  # timezone-aware INTERNALDATE
        try:
            with self.errors():
                if self.encryption == "starttls":
                    if not client.has_capability("STARTTLS"):
                        raise MailboxError(
                            ErrorCode.STARTTLS_MISSING, note(Text.IMAP_STARTTLS_MISSING, host=self.host)
                        )
                    client.starttls(context)
                if f"{self.username}{self._password}".isascii():
                    client.login(self.username, self._password)
                else:
                    # LOGIN can carry only ASCII; SASL PLAIN carries UTF-8 (RFC 4616): "hasło" must work.
                    client.plain_login(self.username, self._password)
                # Servers send their capabilities with the login's answer; imapclient keeps them only
                # until the first SELECT flushes imaplib's responses. Read them now: no round trip.
                client.capabilities()
        except BaseException:
            self.drop()
            raise

    def close(self) -> None:
        if self._client is None:
            return
        try:
            self._client.logout()
        except Exception:  # the connection may be gone already; nothing to save
            self.drop()
        self._client = None
        self._selected = None  # a later connect() must open its folder again

    def drop(self) -> None:
        """Cut the connection without a word to the server."""
        if self._client is not None:
            with suppress(Exception):
                self._client.shutdown()
        self._client = None
        self._selected = None

    def reconnect(self, folder: RemoteFolder) -> None:
        """A new connection, back in ``folder`` (after the server hung up on us)."""
        self.drop()
        self.connect()
        self.select(folder, writable=None)

    def resynchronise(self) -> None:
        """A fresh connection in the same folder, after an answer that could not be read to its end
        (the rest of it is still on the wire, so nothing more can be said on this one)."""
        selected = self._selected
        self.drop()
        self.connect()
        if selected is not None:
            ref, writable = selected
            self.select(RemoteFolder(ref=ref, display=ref), writable=writable)

    def select(self, folder: RemoteFolder, writable: bool | None, *, fresh: bool = False) -> dict[bytes, Any]:
        """Open ``folder``: EXAMINE for reading, SELECT for moving; ``None`` takes what is open.

        ``fresh`` re-opens it for a current UIDVALIDITY / UIDNEXT. A folder that cannot be opened
        concerns that folder, not the whole mailbox (``folder_unavailable``): the check goes on.
        """
        current = self._selected
        if not fresh and current is not None and current[0] == folder.ref and (current[1] or not writable):
            return self._status
        readonly = not writable
        try:
            with self.errors():
                self._status = self.client.select_folder(folder.ref, readonly=readonly)
        except MailboxError as error:
            if error.code != ErrorCode.PROTOCOL_ERROR:
                raise
            self._selected = None
            raise MailboxError(
                ErrorCode.FOLDER_UNAVAILABLE,
                note(Text.IMAP_FOLDER_UNAVAILABLE, folder=folder.display, reason=error.detail),
            ) from error
        self._selected = (folder.ref, not readonly)
        return self._status

    def errors(self) -> AbstractContextManager[None]:
        """Whatever the network, TLS or the server raises inside, as a MailboxError."""
        return translating_errors(
            self.host, self.port, timeout=self.settings.imap_timeout, starttls=self.encryption == "starttls"
        )

    def _instrument(self, client: IMAPClient) -> None:
        """Count bytes read and commands sent (names only, never arguments: LOGIN has a password)."""
        imap = client._imap
        # imapclient sets imaplib's debug level to 5, which makes imaplib format every response,
        # PDF literals included, for a debug log: a third of the check's time for nothing.
        imap.debug = 0
        stats = self.stats
        read, readline, send = imap.read, imap.readline, imap.send
        tag_prefix = imap.tagpre

        def counted_read(size: int) -> bytes:
            data = read(size)
            stats.bytes_read += len(data)
            return data

        def counted_readline() -> bytes:
            data = readline()
            stats.bytes_read += len(data)
            return data

        def counted_send(data: bytes) -> None:
            if data.startswith(tag_prefix):
                words = data.split(None, 3)
                name = b" ".join(words[1:3]) if len(words) > 2 and words[1].upper() == b"UID" else words[1]
                stats.commands.append(name.decode("ascii", "replace").upper())
            send(data)

        imap.read, imap.readline, imap.send = counted_read, counted_readline, counted_send
