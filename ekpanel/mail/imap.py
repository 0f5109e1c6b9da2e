"""The IMAP mailbox (imapclient): the Mailbox interface over one logged-in connection.

Protocol economy is the point (SPEC, "checks cost what the new mail costs"):

- a folder is opened with EXAMINE (read-only); when its UIDNEXT shows nothing above the
  remembered UID, that single command is the whole check of the folder;
- otherwise ``UID SEARCH UID n:*`` and ``UID FETCH`` of four header fields in batches, then of
  the structure only for the senders the check admits (the server need not parse the bodies of
  mail it would skip anyway), never a body; when there is more than one batch, the next is read
  on a second read-only session while the check downloads, stores and moves the current one;
- only candidate PDF parts are downloaded, as ``BINARY.PEEK[section]`` (RFC 3516, the server
  decodes base64, a third fewer bytes) where offered, else ``BODY.PEEK[section]`` decoded here.
  PEEK never sets ``\\Seen``.

Every failure leaves as a classified :class:`MailboxError`; messages are Polish, for people.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, ProtocolError
from imapclient.response_parser import parse_fetch_response

from ekpanel.mail.folders import infer_namespace_prefix
from ekpanel.mail.imap_errors import translating_errors
from ekpanel.mail.imap_fetch import (
    FetchSyntaxError,
    decode_transfer_encoding,
    parse_fetch,
    sequence_set,
    summary_from_fetch,
)
from ekpanel.mail.mailbox import (
    AttachmentPart,
    FolderCursor,
    MailboxError,
    MessageSummary,
    MoveOutcome,
    RemoteFolder,
)
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.tls import client_context
from ekpanel.mail.vocabulary import ErrorCode

# Messages per header FETCH, and so per documents commit and per MOVE: with 200, round trips
# and commits were ~0.5 s of a 3 s first check of 5000 messages; a check cut off re-examines at
# most one batch.
BATCH_SIZE = 500
MOVE_BATCH = 500  # UIDs per MOVE / COPY command
HEADER_FIELDS = "MESSAGE-ID FROM DATE SUBJECT"
HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"
FETCH_ITEMS = ["UID", "BODYSTRUCTURE", "INTERNALDATE", "RFC822.SIZE", HEADER_ITEM]
HEADER_ITEMS = ["UID", "INTERNALDATE", "RFC822.SIZE", HEADER_ITEM]
STRUCTURE_ITEMS = ["UID", "BODYSTRUCTURE"]
# Folders that cannot hold messages are not offered and cannot be checked.
_UNSELECTABLE = frozenset({"\\noselect", "\\nonexistent"})

_SECTION = re.compile(r"\d+(\.\d+)*")

# A folder that cannot be opened concerns that folder, not the whole mailbox; the check goes on.


@dataclass
class ImapStats:
    """What this session cost: the commands sent (names only) and the bytes read."""

    commands: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def count(self, prefix: str) -> int:
        return sum(1 for command in self.commands if command.startswith(prefix))


class ImapMailbox:
    """One IMAP session. ``encryption`` is ``ssl``, ``starttls`` or ``none``."""

    def __init__(
        self,
        host: str,
        port: int,
        encryption: str,
        username: str,
        password: str,
        settings: MailSettings,
        *,
        batch_size: int = BATCH_SIZE,
        read_ahead: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.encryption = encryption
        self.username = username
        self._password = password
        self._settings = settings
        self._batch_size = batch_size
        self._read_ahead = read_ahead  # read the next batch on a second session (new_messages)
        self.stats = ImapStats()
        # How many messages the last ``new_messages`` found to examine (for progress).
        self.pending_count: int | None = None
        self._client: IMAPClient | None = None
        self._selected: tuple[str, bool] | None = None  # (folder ref, writable)
        self._status: dict[bytes, Any] = {}
        self._folders: list[RemoteFolder] | None = None
        self._namespace: tuple[str, str | None] | None = None

    # -- session -----------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        timeout = self._settings.imap_timeout
        context = client_context(self._settings.ca_bundle) if self.encryption != "none" else None
        with self._errors():
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
            with self._errors():
                if self.encryption == "starttls":
                    if not client.has_capability("STARTTLS"):
                        raise MailboxError(
                            ErrorCode.STARTTLS_MISSING,
                            note(
                                Text.IMAP_STARTTLS_MISSING,
                                host=self.host,
                            ),
                        )
                    client.starttls(context)
                if f"{self.username}{self._password}".isascii():
                    client.login(self.username, self._password)
                else:
                    # LOGIN can carry only ASCII; SASL PLAIN carries UTF-8 (RFC 4616): "hasło" must work.
                    client.plain_login(self.username, self._password)
        except BaseException:
            self._drop()
            raise

    def close(self) -> None:
        if self._client is None:
            return
        try:
            self._client.logout()
        except Exception:  # the connection may be gone already; nothing to save
            self._drop()
        self._client = None
        self._selected = None  # a later connect() must open its folder again

    @property
    def client(self) -> IMAPClient:
        """The logged-in imapclient connection (benchmarks and tests look through it)."""
        if self._client is None:
            raise RuntimeError("the mailbox is not connected")
        return self._client

    # -- folders -----------------------------------------------------------------------------

    def list_folders(self) -> list[RemoteFolder]:
        if self._folders is None:
            with self._errors():
                listing = self.client.list_folders()
            folders = []
            for flags, delimiter, name in listing:
                flag_texts = frozenset(_text(flag) for flag in flags)
                if {flag.lower() for flag in flag_texts} & _UNSELECTABLE:
                    continue
                ref = _text(name)
                folders.append(
                    RemoteFolder(
                        ref=ref,
                        display=_decode_folder_name(ref),
                        delimiter=_text(delimiter) if delimiter else None,
                        flags=flag_texts,
                    )
                )
            self._folders = folders
        return list(self._folders)

    def ensure_folder(self, name: str) -> RemoteFolder:
        prefix, delimiter = self._personal_namespace()
        encoded = imap_utf7.encode(name).decode("ascii")
        ref = encoded if prefix and encoded.startswith(prefix) else prefix + encoded
        for folder in self.list_folders():
            if folder.ref == ref:
                return folder
        with self._errors():
            try:
                self.client.create_folder(ref)
            except IMAPClientError as error:
                if isinstance(error, IMAPClientAbortError) or not _already_exists(error):
                    raise
            try:
                self.client.subscribe_folder(ref)
            except IMAPClientError as error:
                if isinstance(error, IMAPClientAbortError):
                    raise
                # Some servers refuse SUBSCRIBE; the folder exists, which is what matters.
        self._folders = None
        return RemoteFolder(ref=ref, display=_decode_folder_name(ref), delimiter=delimiter)

    def _personal_namespace(self) -> tuple[str, str | None]:
        if self._namespace is None:
            prefix, delimiter = "", None
            with self._errors():
                if self.client.has_capability("NAMESPACE"):
                    personal = self.client.namespace().personal
                    if personal:
                        prefix, delimiter = _text(personal[0][0]), _text(personal[0][1]) or None
                else:
                    folders = self.list_folders()
                    prefix = infer_namespace_prefix(folders)
                    delimiter = next((f.delimiter for f in folders if f.delimiter), None)
            self._namespace = (prefix, delimiter)
        return self._namespace

    # -- messages ----------------------------------------------------------------------------

    def new_messages(
        self,
        folder: RemoteFolder,
        cursor: FolderCursor,
        needs_structure: Callable[[str | None], bool] | None = None,
    ) -> Iterator[tuple[list[MessageSummary], FolderCursor]]:
        status = self._select(folder, writable=False, fresh=True)
        uidvalidity = status.get(b"UIDVALIDITY")
        uidnext = status.get(b"UIDNEXT")
        same_folder = uidvalidity is not None and cursor.uidvalidity == uidvalidity
        start = (cursor.last_uid or 0) + 1 if same_folder else 1
        self.pending_count = 0
        if status.get(b"EXISTS", 0) == 0 or (uidnext is not None and uidnext <= start):
            if not same_folder:
                yield [], FolderCursor(uidvalidity=uidvalidity, last_uid=max(start - 1, (uidnext or 1) - 1))
            return
        with self._errors():
            found = self.client.search(["UID", f"{start}:*"])
        # "n:*" always includes the last message, even when its UID is below n.
        uids = sorted(uid for uid in found if uid >= start)
        self.pending_count = len(uids)
        if not uids and not same_folder:
            yield [], FolderCursor(uidvalidity=uidvalidity, last_uid=start - 1)
        batches = [uids[index : index + self._batch_size] for index in range(0, len(uids), self._batch_size)]
        if len(batches) > 1 and self._read_ahead:
            yield from self._read_batches_ahead(folder, uidvalidity, batches, needs_structure)
            return
        for batch in batches:
            summaries = self._summaries(batch, needs_structure)
            yield summaries, FolderCursor(uidvalidity=uidvalidity, last_uid=batch[-1])

    def _read_batches_ahead(
        self,
        folder: RemoteFolder,
        uidvalidity: int | None,
        batches: list[list[int]],
        needs_structure: Callable[[str | None], bool] | None,
    ) -> Iterator[tuple[list[MessageSummary], FolderCursor]]:
        """The batches after the first read on a second, read-only session (EXAMINE, PEEK)
        while the check works on the one before: listing the next 500 messages no longer waits
        for this session's downloads and moves, nor they for it. Without a second session (the
        server refuses one, the folder changed) the rest are read here, one after another."""
        reader = ImapMailbox(
            self.host,
            self.port,
            self.encryption,
            self.username,
            self._password,
            self._settings,
            batch_size=self._batch_size,
            read_ahead=False,
        )

        def read(batch: list[int]) -> list[MessageSummary] | None:
            if reader._client is None:
                try:
                    reader.connect()
                    status = reader._select(folder, writable=False)
                except MailboxError:
                    return None
                if status.get(b"UIDVALIDITY") != uidvalidity:
                    return None
            try:
                return reader._summaries(batch, needs_structure)
            except MailboxError:
                # The helper session is only a shortcut: when it fails, this session reads on.
                reader.close()
                return None

        pool = ThreadPoolExecutor(1, thread_name_prefix="imap-read-ahead")
        ahead = pool.submit(read, batches[1])
        try:
            yield self._summaries(batches[0], needs_structure), FolderCursor(uidvalidity, batches[0][-1])
            for index in range(1, len(batches)):
                summaries = ahead.result() if ahead is not None else None
                if summaries is None:  # no second session: the rest here
                    ahead = None
                    summaries = self._summaries(batches[index], needs_structure)
                elif index + 1 < len(batches):
                    ahead = pool.submit(read, batches[index + 1])
                yield summaries, FolderCursor(uidvalidity, batches[index][-1])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            reader.close()
            # One account of what the check cost, whichever session it went through.
            self.stats.commands += reader.stats.commands
            self.stats.bytes_read += reader.stats.bytes_read

    def fetch_part(self, folder: RemoteFolder, message: MessageSummary, part: AttachmentPart) -> bytes:
        self._select(folder, writable=None)
        uid = int(message.ref)
        if self.client.has_capability("BINARY"):
            try:
                data = self._fetch_binary(uid, part.ref)
            except MailboxError as error:
                if error.code != "connection_lost":
                    raise
                # Take the part as stored; a really dead server fails the reconnect instead.
                self._reconnect_after_binary(folder)
                data = None
            if data is not None:
                return data
        item = f"BODY[{part.ref}]".encode()
        with self._errors():
            response = self.client.fetch([uid], [f"BODY.PEEK[{part.ref}]"])
        found = response.get(uid, {})
        if item not in found:
            raise MailboxError(ErrorCode.MESSAGE_MISSING, note(Text.IMAP_MESSAGE_GONE))
        return decode_transfer_encoding(found[item] or b"", part.encoding)

    def fetch_parts(
        self, folder: RemoteFolder, wanted: list[tuple[MessageSummary, AttachmentPart]]
    ) -> list[bytes | MailboxError]:
        """The parts of many messages in one ``UID FETCH`` per distinct list of sections (mostly
        one: the PDF is part 2), instead of a round trip per part. Whatever that answer does
        not settle goes through :meth:`fetch_part` one by one."""
        self._select(folder, writable=None)
        binary = self.client.has_capability("BINARY")
        sections_of: dict[int, list[str]] = {}
        for message, part in wanted:
            sections_of.setdefault(int(message.ref), []).append(part.ref)
        groups: dict[tuple[str, ...], list[int]] = {}
        for uid, sections in sections_of.items():
            groups.setdefault(tuple(sorted(set(sections))), []).append(uid)
        found: dict[tuple[int, str], bytes] = {}
        settled: set[int] = set()  # UIDs the server answered for (present or not)
        for sections, uids in groups.items():
            answer = self._fetch_sections(folder, sorted(uids), sections, binary)
            if answer is not None:
                found.update(answer)
                settled.update(uids)
        results: list[bytes | MailboxError] = []
        for message, part in wanted:
            uid = int(message.ref)
            if uid not in settled:
                try:
                    results.append(self.fetch_part(folder, message, part))
                except MailboxError as error:
                    if error.code != ErrorCode.MESSAGE_MISSING:
                        raise
                    results.append(error)
            elif (uid, part.ref) in found:
                data = found[uid, part.ref]
                results.append(data if binary else decode_transfer_encoding(data, part.encoding))
            else:
                results.append(MailboxError(ErrorCode.MESSAGE_MISSING, note(Text.IMAP_MESSAGE_GONE)))
        return results

    def _fetch_sections(
        self, folder: RemoteFolder, uids: list[int], sections: tuple[str, ...], binary: bool
    ) -> dict[tuple[int, str], bytes] | None:
        """``{(uid, section): bytes}`` from one ``UID FETCH``, or None when the server would not
        answer it whole (then the parts go one by one)."""
        if not all(_SECTION.fullmatch(section) for section in sections):
            return None
        peek = "BINARY.PEEK" if binary else "BODY.PEEK"
        items = " ".join(f"{peek}[{section}]" for section in sections)
        try:
            with self._errors():
                typ, data = self.client._imap.uid("FETCH", sequence_set(uids), f"({items})")
        except MailboxError as error:
            if not binary or error.code != "connection_lost":
                raise
            # The parts go one by one, and the broken one falls back to BODY.PEEK there.
            self._reconnect_after_binary(folder)
            return None
        if typ != "OK":
            return None  # e.g. [UNKNOWN-CTE] for one of the parts
        try:
            response = parse_fetch(data)
        except FetchSyntaxError:
            return None
        name = "BINARY" if binary else "BODY"
        found: dict[tuple[int, str], bytes] = {}
        for uid in uids:
            fields = response.get(uid, {})
            for section in sections:
                # NIL is what Dovecot answers for a message another session expunged meanwhile.
                value = fields.get(f"{name}[{section}]".encode())
                if value is not None:
                    found[uid, section] = value
        return found

    def move(
        self, folder: RemoteFolder, messages: list[MessageSummary], destination: RemoteFolder
    ) -> MoveOutcome:
        outcome = MoveOutcome()
        if not messages:
            return outcome
        self._select(folder, writable=True)
        has_move = self.client.has_capability("MOVE")
        has_uidplus = self.client.has_capability("UIDPLUS")
        if not has_move and not has_uidplus:
            for message in messages:
                outcome.failed[message.ref] = note(Text.IMAP_CANNOT_MOVE)
            return outcome
        for index in range(0, len(messages), MOVE_BATCH):
            chunk = messages[index : index + MOVE_BATCH]
            uids = [int(message.ref) for message in chunk]
            try:
                with self._errors():
                    if has_move:
                        self.client.move(uids, destination.ref)
                    else:
                        self._copy_and_expunge(uids, destination)
            except MailboxError as error:
                if error.code != "protocol_error":
                    raise
                for message in chunk:
                    outcome.failed[message.ref] = error.message
                continue
            for message in chunk:
                outcome.moved[message.ref] = ""
        return outcome

    def _copy_and_expunge(self, uids: list[int], destination: RemoteFolder) -> None:
        # UID EXPUNGE removes only these UIDs; a plain EXPUNGE would also remove whatever else
        # someone marked \Deleted, which is not ours to decide.
        self.client.copy(uids, destination.ref)
        self.client.add_flags(uids, [b"\\Deleted"], silent=True)
        self.client.uid_expunge(uids)

    # -- internals ---------------------------------------------------------------------------

    def _select(
        self, folder: RemoteFolder, writable: bool | None, *, fresh: bool = False
    ) -> dict[bytes, Any]:
        """Open ``folder``: EXAMINE for reading, SELECT for moving; ``None`` takes what is open.

        ``fresh`` re-opens it for a current UIDVALIDITY / UIDNEXT.
        """
        current = self._selected
        if not fresh and current is not None and current[0] == folder.ref and (current[1] or not writable):
            return self._status
        readonly = not writable
        try:
            with self._errors():
                self._status = self.client.select_folder(folder.ref, readonly=readonly)
        except MailboxError as error:
            if error.code != "protocol_error":
                raise
            self._selected = None
            raise MailboxError(
                ErrorCode.FOLDER_UNAVAILABLE,
                note(
                    Text.IMAP_FOLDER_UNAVAILABLE,
                    folder=folder.display,
                    reason=error.detail,
                ),
            ) from error
        self._selected = (folder.ref, not readonly)
        return self._status

    def _summaries(
        self, uids: list[int], needs_structure: Callable[[str | None], bool] | None = None
    ) -> list[MessageSummary]:
        if needs_structure is None:
            return self._read_summaries(uids, FETCH_ITEMS)
        # Headers first: BODYSTRUCTURE makes the server read the whole message, and most
        # mail in a shared inbox is from senders whose structure does not matter.
        summaries = self._read_summaries(uids, HEADER_ITEMS)
        wanted = {int(summary.ref): summary for summary in summaries if needs_structure(summary.sender)}
        if wanted:
            structures = self._read_summaries(sorted(wanted), STRUCTURE_ITEMS)
            for found in structures:
                summary = wanted[int(found.ref)]
                summary.parts, summary.has_attachments = found.parts, found.has_attachments
                summary.parse_error = found.parse_error
            gone = set(wanted) - {int(found.ref) for found in structures}
            summaries = [summary for summary in summaries if int(summary.ref) not in gone]
        return summaries

    def _read_summaries(self, uids: list[int], items: list[str]) -> list[MessageSummary]:
        with_structure = "BODYSTRUCTURE" in items
        try:
            with self._errors():
                response = self._fetch_items(uids, items)
        except MailboxError as error:
            # One message whose structure imapclient cannot parse spoils the whole batch's parse;
            # fetch one by one so only that message becomes an error.
            if not isinstance(error.__cause__, ProtocolError) or len(uids) == 1:
                raise
            return [summary for uid in uids for summary in self._summaries_one_by_one(uid, items)]
        return [
            summary_from_fetch(uid, response[uid], with_structure=with_structure)
            for uid in uids
            if uid in response
        ]

    def _fetch_items(self, uids: list[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
        """``UID FETCH`` of ``items``, read with our fast parser (imapclient's as fallback)."""
        typ, data = self.client._imap.uid("FETCH", sequence_set(uids), f"({' '.join(items)})")
        if typ != "OK":
            raise IMAPClientError(f"FETCH failed: {data!r}")
        try:
            return parse_fetch(data)
        except FetchSyntaxError:
            return parse_fetch_response(data, normalise_times=False, uid_is_key=True)

    def _summaries_one_by_one(self, uid: int, items: list[str]) -> list[MessageSummary]:
        try:
            return self._read_summaries([uid], items)
        except MailboxError as error:
            if not isinstance(error.__cause__, ProtocolError):
                raise
        with self._errors():
            response = self.client.fetch([uid], [HEADER_ITEM, "RFC822.SIZE"])
        if uid not in response:
            return []
        summary = summary_from_fetch(uid, response[uid], with_structure=False)
        summary.parse_error = note(Text.IMAP_STRUCTURE_UNREADABLE)
        return [summary]

    def _fetch_binary(self, uid: int, section: str) -> bytes | None:
        """``BINARY.PEEK[section]``, or None when the server will not decode this part.

        imapclient cannot parse the ``~{n}`` literal8 a BINARY answer carries, so this goes
        through imaplib, which reads the literal fine.
        """
        if not _SECTION.fullmatch(section):
            return None
        imap = self.client._imap
        with self._errors():
            typ, data = imap.uid("FETCH", str(uid), f"(BINARY.PEEK[{section}])")
        if typ != "OK":
            return None  # e.g. [UNKNOWN-CTE]: fall back to BODY.PEEK and decode here
        wanted = f"BINARY[{section}]".encode()
        uid_marker = re.compile(rb"\bUID %d\b" % uid)
        for item in data:
            if isinstance(item, tuple) and wanted in item[0] and uid_marker.search(item[0]):
                return item[1]
        return None

    def _reconnect_after_binary(self, folder: RemoteFolder) -> None:
        """Dovecot hangs up when it cannot decode a part for BINARY (truncated base64): come back
        to the same folder."""
        self._drop()
        self.connect()
        self._select(folder, writable=None)

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

    def _drop(self) -> None:
        if self._client is not None:
            with suppress(Exception):
                self._client.shutdown()
        self._client = None
        self._selected = None

    def _errors(self) -> AbstractContextManager[None]:
        return translating_errors(
            self.host, self.port, timeout=self._settings.imap_timeout, starttls=self.encryption == "starttls"
        )


def _decode_folder_name(name: str) -> str:
    try:
        return imap_utf7.decode(name.encode("ascii"))
    except (UnicodeError, ValueError):
        return name


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _already_exists(error: Exception) -> bool:
    text = str(error).upper()
    return "ALREADYEXISTS" in text or "ALREADY EXISTS" in text
