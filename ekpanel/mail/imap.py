"""The IMAP mailbox (imapclient): the Mailbox interface over one logged-in session.

Protocol economy is the point (SPEC, "checks cost what the new mail costs"):

- a folder is opened with EXAMINE (read-only); when its UIDNEXT shows nothing above the
  remembered UID, that single command is the whole check of the folder;
- otherwise ``UID SEARCH UID n:*``, then the summaries of the new messages in batches
  (``imap_listing``: headers, then the structure only for the senders the check admits, never
  a body; the next batch read ahead on a second session);
- only candidate PDF parts are downloaded (``imap_parts``: ``BINARY.PEEK`` where offered, the
  parts of many messages in one command). PEEK never sets ``\\Seen``.

The connection, its TLS and its failures are :class:`ImapSession`'s (``imap_session``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ekpanel.mail import imap_listing, imap_parts
from ekpanel.mail.folders import infer_namespace_prefix
from ekpanel.mail.imap_session import ImapSession, ImapStats
from ekpanel.mail.mailbox import (
    AttachmentPart,
    FolderCursor,
    FoundByRef,
    MailboxError,
    MessageSummary,
    MoveOutcome,
    RemoteFolder,
)
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

# Messages per header FETCH, and so per documents commit and per MOVE: with 200, round trips
# and commits were ~0.5 s of a 3 s first check of 5000 messages; a check cut off re-examines at
# most one batch.
BATCH_SIZE = 500
MOVE_BATCH = 500  # UIDs per MOVE / COPY command
# Folders that cannot hold messages are not offered and cannot be checked.
_UNSELECTABLE = frozenset({"\\noselect", "\\nonexistent"})


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
        self.session = ImapSession(host, port, encryption, username, password, settings)
        self._batch_size = batch_size
        self._read_ahead = read_ahead  # read the next batch on a second session (new_messages)
        # How many messages the last ``new_messages`` found to examine (for progress).
        self.pending_count: int | None = None
        self._folders: list[RemoteFolder] | None = None
        self._namespace: tuple[str, str | None] | None = None

    # -- session -----------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        self.session.connect()

    def close(self) -> None:
        self.session.close()

    @property
    def client(self) -> IMAPClient:
        """The logged-in imapclient connection (benchmarks and tests look through it)."""
        return self.session.client

    @property
    def stats(self) -> ImapStats:
        """What this session cost, the read-ahead session included."""
        return self.session.stats

    # -- folders -----------------------------------------------------------------------------

    def list_folders(self) -> list[RemoteFolder]:
        if self._folders is None:
            with self.session.errors():
                listing = self.client.list_folders()
            folders = []
            for flags, delimiter, name in listing:
                flag_texts = frozenset(_as_text(flag) for flag in flags)
                if {flag.lower() for flag in flag_texts} & _UNSELECTABLE:
                    continue
                ref = _as_text(name)
                folders.append(
                    RemoteFolder(
                        ref=ref,
                        display=_decode_folder_name(ref),
                        delimiter=_as_text(delimiter) if delimiter else None,
                        flags=flag_texts,
                    )
                )
            self._folders = folders
        return list(self._folders)

    def ensure_folder(self, name: str) -> RemoteFolder:
        encoded = imap_utf7.encode(name).decode("ascii")
        folders = self.list_folders()
        # Found in the listing, as it is after its first day: no NAMESPACE round trip needed.
        for candidate in (infer_namespace_prefix(folders) + encoded, encoded):
            existing = next((folder for folder in folders if folder.ref == candidate), None)
            if existing is not None:
                return existing
        prefix, delimiter = self._personal_namespace()
        ref = encoded if prefix and encoded.startswith(prefix) else prefix + encoded
        for folder in folders:
            if folder.ref == ref:
                return folder
        with self.session.errors():
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
            with self.session.errors():
                if self.client.has_capability("NAMESPACE"):
                    personal = self.client.namespace().personal
                    if personal:
                        prefix, delimiter = _as_text(personal[0][0]), _as_text(personal[0][1]) or None
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
        status = self.session.select(folder, writable=False, fresh=True)
        uidvalidity = status.get(b"UIDVALIDITY")
        uidnext = status.get(b"UIDNEXT")
        same_folder = uidvalidity is not None and cursor.uidvalidity == uidvalidity
        start = (cursor.last_uid or 0) + 1 if same_folder else 1
        self.pending_count = 0
        if status.get(b"EXISTS", 0) == 0 or (uidnext is not None and uidnext <= start):
            if not same_folder:
                yield [], FolderCursor(uidvalidity=uidvalidity, last_uid=max(start - 1, (uidnext or 1) - 1))
            return
        with self.session.errors():
            found = self.client.search(["UID", f"{start}:*"])
        # "n:*" always includes the last message, even when its UID is below n.
        uids = sorted(uid for uid in found if uid >= start)
        self.pending_count = len(uids)
        if not uids and not same_folder:
            yield [], FolderCursor(uidvalidity=uidvalidity, last_uid=start - 1)
        batches = [uids[index : index + self._batch_size] for index in range(0, len(uids), self._batch_size)]
        yield from imap_listing.read_batches(
            self.session, folder, uidvalidity, batches, needs_structure, read_ahead=self._read_ahead
        )

    def messages_by_ref(
        self,
        folder: RemoteFolder,
        refs: list[str],
        needs_structure: Callable[[str | None], bool] | None = None,
    ) -> FoundByRef:
        # One FETCH for them all: a failure of it is the session's, never one message's.
        uids = sorted({int(ref) for ref in refs if ref.isdigit()})
        if not uids:
            return FoundByRef()
        self.session.select(folder, writable=False)
        return FoundByRef(imap_listing.read_summaries(self.session, uids, needs_structure))

    def newest_authentication_results(self, folder: RemoteFolder, count: int) -> list[tuple[str, ...]]:
        """The Authentication-Results fields of the folder's ``count`` newest messages (read-only)."""
        status = self.session.select(folder, writable=False, fresh=True)
        return imap_listing.newest_authentication_results(self.session, status.get(b"EXISTS") or 0, count)

    def fetch_part(self, folder: RemoteFolder, message: MessageSummary, part: AttachmentPart) -> bytes:
        return imap_parts.fetch_part(self.session, folder, message, part)

    def fetch_parts(
        self, folder: RemoteFolder, wanted: list[tuple[MessageSummary, AttachmentPart]]
    ) -> list[bytes | MailboxError]:
        return imap_parts.fetch_parts(self.session, folder, wanted)

    def forget(self, message: MessageSummary) -> None:
        """Nothing of a message is held between calls."""

    def move(
        self, folder: RemoteFolder, messages: list[MessageSummary], destination: RemoteFolder
    ) -> MoveOutcome:
        outcome = MoveOutcome()
        if not messages:
            return outcome
        self.session.select(folder, writable=True)
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
                with self.session.errors():
                    if has_move:
                        self.client.move(uids, destination.ref)
                    else:
                        self._copy_and_expunge(uids, destination)
            except MailboxError as error:
                if error.code != ErrorCode.PROTOCOL_ERROR:
                    raise
                for message in chunk:
                    outcome.failed[message.ref] = error.note
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


def _decode_folder_name(name: str) -> str:
    try:
        return imap_utf7.decode(name.encode("ascii"))
    except (UnicodeError, ValueError):
        return name


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _already_exists(error: Exception) -> bool:
    text = str(error).upper()
    return "ALREADYEXISTS" in text or "ALREADY EXISTS" in text
