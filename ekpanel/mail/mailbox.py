"""The mailbox interface the check knows: IMAP and Microsoft Graph both implement it.

Everything here is plain data; adapters translate their protocol into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ekpanel.mail.texts import Note
from ekpanel.mail.vocabulary import ErrorCode


@dataclass(frozen=True)
class RemoteFolder:
    """A folder as it exists on the server."""

    ref: str  # what the adapter needs to open it: the IMAP name, or the Graph folder id
    display: str  # human-readable path, decoded (``INBOX.Wiadomości-śmieci``)
    delimiter: str | None = None
    # IMAP flags incl. SPECIAL-USE (``\\Junk``); Graph: ``\\Inbox``/``\\Junk``
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AttachmentPart:
    """One non-text leaf of a message's structure; its bytes are not loaded yet."""

    ref: str  # IMAP body section ("2", "3.2"); Graph attachment id (or "<attachment id>/<mime section>")
    filename: str | None  # decoded from RFC 2231 / encoded words, NFC-normalised
    content_type: str  # lower-case "type/subtype"
    size: int | None  # size as the server reports it (encoded octets for IMAP and forwarded MIME)
    encoding: str | None = None  # Content-Transfer-Encoding, lower-case (IMAP; Graph: forwarded MIME)
    disposition: str | None = None  # "attachment" / "inline" / None
    in_forwarded: bool = False  # inside a message/rfc822 (or a Graph item attachment)


@dataclass
class MessageSummary:
    """What the check needs to decide about a message, without its body."""

    ref: str  # IMAP UID (as text) or Graph message id
    message_id: str | None  # the Message-ID header, without angle brackets
    sender: str | None  # addr-spec of From, or None when it cannot be read
    subject: str
    received_at: datetime | None  # timezone-aware
    header_hash: str  # stable hash of identifying headers, for messages without Message-ID
    parts: list[AttachmentPart] = field(default_factory=list)
    has_attachments: bool = False  # any attachment at all, PDF or not
    parse_error: Note | None = None  # set when the structure could not be read
    sender_ambiguous: bool = False  # From names more than one address: ``sender`` is None then
    # The Authentication-Results field values, top to bottom as they stand in the message; None
    # when they were not read (only messages whose structure is read have them).
    authentication_results: tuple[str, ...] | None = None


@dataclass
class FolderCursor:
    """Where the last check of one folder stopped; stored per server and folder."""

    uidvalidity: int | None = None
    last_uid: int | None = None
    delta_link: str | None = None


@dataclass
class FoundByRef:
    """What :meth:`Mailbox.messages_by_ref` found: the messages still in the folder, and those the
    server failed to hand over now (an error on its side), each with why. Any other ref is gone."""

    messages: list[MessageSummary] = field(default_factory=list)
    unreadable: dict[str, Note] = field(default_factory=dict)

    def gone(self, refs: list[str]) -> list[str]:
        """The refs among ``refs`` that are neither found nor unreadable, in order."""
        kept = {message.ref for message in self.messages} | set(self.unreadable)
        return [ref for ref in refs if ref not in kept]


@dataclass
class MoveOutcome:
    moved: dict[str, str] = field(default_factory=dict)  # old ref -> new ref ("" when unknown)
    failed: dict[str, Note] = field(default_factory=dict)  # ref -> why it stayed


class MailboxError(Exception):
    """A failure of the mailbox, classified.

    ``code`` says what failed (an :class:`ErrorCode`): the whole mailbox (login, network, TLS,
    permissions), or only one folder (``folder_unavailable``) or one message (``message_missing``),
    after which the check goes on. ``note`` is what people are told; ``transient`` says whether
    trying again later may help; ``detail`` is the raw cause, for logs.
    """

    def __init__(self, code: ErrorCode, note: Note, *, transient: bool = False, detail: str = ""):
        super().__init__(f"{code}: {note.polish()}")
        self.code = code
        self.note = note
        self.transient = transient
        self.detail = detail


class Mailbox(Protocol):
    """One mailbox session; open it with ``with``."""

    def __enter__(self) -> Mailbox: ...

    def __exit__(self, *exc) -> None: ...

    def list_folders(self) -> list[RemoteFolder]: ...

    def new_messages(
        self,
        folder: RemoteFolder,
        cursor: FolderCursor,
        needs_structure: Callable[[str | None], bool] | None = None,
    ) -> Iterator[tuple[list[MessageSummary], FolderCursor]]:
        """Yield batches of messages newer than ``cursor``, each with the cursor after that batch.

        A cursor whose UIDVALIDITY (or delta link) no longer holds means a full scan.
        ``needs_structure(sender)`` says whose attachment structure the caller will look at;
        the others' ``parts`` may stay empty (an adapter may skip reading them).
        """
        ...

    def messages_by_ref(
        self,
        folder: RemoteFolder,
        refs: list[str],
        needs_structure: Callable[[str | None], bool] | None = None,
    ) -> FoundByRef:
        """The messages among ``refs`` still in ``folder``, read as :meth:`new_messages` reads them;
        those no longer there are left out, and those the server failed to read now are told apart
        (their next check tries again). For messages a check could not decide before."""
        ...

    def fetch_part(self, folder: RemoteFolder, message: MessageSummary, part: AttachmentPart) -> bytes:
        """The decoded bytes of one part. Never marks the message read."""
        ...

    def fetch_parts(
        self, folder: RemoteFolder, wanted: list[tuple[MessageSummary, AttachmentPart]]
    ) -> list[bytes | MailboxError]:
        """:meth:`fetch_part` for several parts at once, in the same order; a message that went
        missing meanwhile gives its MailboxError (``message_missing``) in place of its parts
        instead of raising. Never marks a message read."""
        ...

    def forget(self, message: MessageSummary) -> None:
        """The check has decided ``message``: let go of whatever of it the session still holds."""
        ...

    def ensure_folder(self, name: str) -> RemoteFolder:
        """The folder ``name`` under the personal namespace, created (and subscribed) if missing."""
        ...

    def move(
        self, folder: RemoteFolder, messages: list[MessageSummary], destination: RemoteFolder
    ) -> MoveOutcome: ...
