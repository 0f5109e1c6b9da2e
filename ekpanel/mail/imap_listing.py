"""Reading what the check needs of a batch of new IMAP messages, without their bodies.

Headers first, four fields of each message; then ``BODYSTRUCTURE`` only of the messages whose
sender the check admits: the structure makes the server read the whole message, and most mail in
a shared inbox is from senders whose structure does not matter. The same command reads their
Authentication-Results fields, for the sender's verdict (``ekpanel.mail.sender``): a few hundred
bytes a message, and none for mail from anyone else. When a folder has more than one
batch, the next is read on a second, read-only session while the check works on the current one
(:func:`read_batches`).
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from imapclient.exceptions import IMAPClientError

from ekpanel.mail.fetch_response import FetchSyntaxError, read_fetch
from ekpanel.mail.imap_fetch import sequence_set, summary_from_fetch
from ekpanel.mail.imap_session import ImapSession
from ekpanel.mail.mailbox import FolderCursor, MailboxError, MessageSummary, RemoteFolder
from ekpanel.mail.sender import fields_from_header_block
from ekpanel.mail.structure import StructureError
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

HEADER_FIELDS = "MESSAGE-ID FROM DATE SUBJECT"
HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"
AUTHRES_FIELD = "AUTHENTICATION-RESULTS"
AUTHRES_ITEM = f"BODY.PEEK[HEADER.FIELDS ({AUTHRES_FIELD})]"
# Everything of every message in one command: one header item, so the answer has one header block.
FETCH_ITEMS = [
    "UID",
    "BODYSTRUCTURE",
    "INTERNALDATE",
    "RFC822.SIZE",
    f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS} {AUTHRES_FIELD})]",
]
HEADER_ITEMS = ["UID", "INTERNALDATE", "RFC822.SIZE", HEADER_ITEM]
STRUCTURE_ITEMS = ["UID", "BODYSTRUCTURE", AUTHRES_ITEM]

# Structures are fetched in groups of messages this big together (RFC822.SIZE): a structure
# can be as big as its message, and a batch's hostile ones must not all be in memory at once.
STRUCTURE_FETCH_BYTES = 1024 * 1024

NeedsStructure = Callable[[str | None], bool]
# What reading one message's answer may raise besides the connection's failures: the message's fault.
MESSAGE_FAULTS = (
    FetchSyntaxError,
    StructureError,
    TypeError,
    IndexError,
    AttributeError,
    ValueError,
    RecursionError,
)


def read_batches(
    session: ImapSession,
    folder: RemoteFolder,
    uidvalidity: int | None,
    batches: list[list[int]],
    needs_structure: NeedsStructure | None,
    *,
    read_ahead: bool,
) -> Iterator[tuple[list[MessageSummary], FolderCursor]]:
    """The summaries of each batch of UIDs, with the cursor after it.

    With ``read_ahead``, the batches after the first are read on a second, read-only session
    (EXAMINE, PEEK) while the check works on the one before: listing the next 500 messages no
    longer waits for this session's downloads and moves, nor they for it. Without a second
    session (the server refuses one, the folder changed) the rest are read here, one after another.
    """
    if len(batches) < 2 or not read_ahead:
        for batch in batches:
            yield read_summaries(session, batch, needs_structure), FolderCursor(uidvalidity, batch[-1])
        return
    reader = session.sibling()

    def read(batch: list[int]) -> list[MessageSummary] | None:
        if not reader.connected:
            try:
                reader.connect()
                status = reader.select(folder, writable=False)
            except MailboxError:
                return None
            if status.get(b"UIDVALIDITY") != uidvalidity:
                return None
        try:
            return read_summaries(reader, batch, needs_structure)
        except MailboxError:
            # The helper session is only a shortcut: when it fails, this session reads on.
            reader.close()
            return None

    pool = ThreadPoolExecutor(1, thread_name_prefix="imap-read-ahead")
    ahead = pool.submit(read, batches[1])
    try:
        yield read_summaries(session, batches[0], needs_structure), FolderCursor(uidvalidity, batches[0][-1])
        for index in range(1, len(batches)):
            summaries = ahead.result() if ahead is not None else None
            if summaries is None:  # no second session: the rest here
                ahead = None
                summaries = read_summaries(session, batches[index], needs_structure)
            elif index + 1 < len(batches):
                ahead = pool.submit(read, batches[index + 1])
            yield summaries, FolderCursor(uidvalidity, batches[index][-1])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        reader.close()
        session.stats.add(reader.stats)  # one account of what the check cost, whichever session


def read_summaries(
    session: ImapSession, uids: list[int], needs_structure: NeedsStructure | None = None
) -> list[MessageSummary]:
    """The summaries of the messages ``uids`` still there; with their structure when
    ``needs_structure(sender)`` says so, or for all when it is None."""
    if needs_structure is None:
        return _fetch_summaries(session, uids, FETCH_ITEMS)
    sizes: dict[int, int] = {}
    summaries = _fetch_summaries(session, uids, HEADER_ITEMS, sizes)
    wanted = {int(summary.ref): summary for summary in summaries if needs_structure(summary.sender)}
    if wanted:
        structures = [
            found
            for group in _size_groups(sorted(wanted), sizes)
            for found in _fetch_summaries(session, group, STRUCTURE_ITEMS, headers_known=True)
        ]
        for found in structures:
            summary = wanted[int(found.ref)]
            summary.parts, summary.has_attachments = found.parts, found.has_attachments
            summary.parse_error = found.parse_error
            summary.authentication_results = found.authentication_results
        gone = set(wanted) - {int(found.ref) for found in structures}
        summaries = [summary for summary in summaries if int(summary.ref) not in gone]
    return summaries


def _size_groups(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """``uids`` in order, in groups of at most STRUCTURE_FETCH_BYTES of messages (or one)."""
    group: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if group and total + size > STRUCTURE_FETCH_BYTES:
            yield group
            group, total = [], 0
        group.append(uid)
        total += size
    if group:
        yield group


def _fetch_summaries(
    session: ImapSession,
    uids: list[int],
    items: list[str],
    sizes: dict[int, int] | None = None,
    *,
    headers_known: bool = False,
) -> list[MessageSummary]:
    """The batch's summaries; when the batch's answer cannot be read, one message at a time, so
    that only the message at fault becomes an error (with ``parse_error``) and the others go on.
    ``sizes`` gets each message's RFC822.SIZE when ``items`` ask for it; with ``headers_known``,
    the caller has read the messages' headers already, so a message at fault is not asked again."""
    with_structure = "BODYSTRUCTURE" in items
    try:
        with session.errors():
            response = _fetch_items(session, uids, items, max_parts=session.settings.max_parts_per_message)
        if sizes is not None:
            sizes.update(
                (uid, size)
                for uid, fields in response.items()
                if isinstance(size := fields.get(b"RFC822.SIZE"), int) and size >= 0
            )
        return [_summary(session, uid, response[uid], with_structure) for uid in uids if uid in response]
    except MailboxError as error:
        if error.code != ErrorCode.PROTOCOL_ERROR:
            raise  # the connection's failure (lost, timed out), not a message's
        failure: Exception = error
    except MESSAGE_FAULTS as error:
        failure = error
    if _cut_short(failure):
        session.resynchronise()
    if len(uids) > 1:
        return [
            summary
            for uid in uids
            for summary in _fetch_summaries(session, [uid], items, sizes, headers_known=headers_known)
        ]
    return _unreadable(session, uids[0], failure, headers_known=headers_known)


def newest_authentication_results(session: ImapSession, exists: int, count: int) -> list[tuple[str, ...]]:
    """The Authentication-Results fields of the open folder's ``count`` newest messages (by
    position), newest last: what the server dialog proposes an authserv-id from. PEEK: nothing is
    marked read."""
    if exists <= 0 or count <= 0:
        return []
    first = max(1, exists - count + 1)
    with session.errors():
        typ, data = session.client._imap.fetch(f"{first}:{exists}", f"(UID {AUTHRES_ITEM})")
        if typ != "OK":
            raise IMAPClientError(f"FETCH failed: {data!r}")
        response = read_fetch(data)
    return [_authentication_results(response[uid]) or () for uid in sorted(response)]


def _summary(session: ImapSession, uid: int, data: dict[bytes, Any], with_structure: bool) -> MessageSummary:
    summary = summary_from_fetch(
        uid,
        data,
        with_structure=with_structure,
        max_parts=session.settings.max_parts_per_message,
        max_depth=session.settings.max_mime_depth,
    )
    if with_structure:
        summary.authentication_results = _authentication_results(data)
    return summary


def _authentication_results(data: dict[bytes, Any]) -> tuple[str, ...] | None:
    """The Authentication-Results fields of a FETCH answer that asked for them; None otherwise."""
    for name, value in data.items():
        if name.startswith(b"BODY[HEADER.FIELDS") and AUTHRES_FIELD.encode() in name.upper():
            return fields_from_header_block(value if isinstance(value, bytes) else b"")
    return None


def _fetch_items(
    session: ImapSession, uids: list[int], items: list[str], *, max_parts: int
) -> dict[int, dict[bytes, Any]]:
    """``UID FETCH`` of ``items``, read with our fast parser (imapclient's as fallback); a
    structure far beyond ``max_parts`` parts is read only as far as the walk needs."""
    typ, data = session.client._imap.uid("FETCH", sequence_set(uids), f"({' '.join(items)})")
    if typ != "OK":
        raise IMAPClientError(f"FETCH failed: {data!r}")
    return read_fetch(data, max_parts=max_parts)


def _cut_short(failure: Exception) -> bool:
    """Whether the answer was abandoned mid-way (a line over imaplib's limit): the connection's
    remaining bytes belong to it, so the session must start afresh."""
    return "got more than" in str(failure)


def _unreadable(
    session: ImapSession, uid: int, failure: Exception, *, headers_known: bool
) -> list[MessageSummary]:
    """The message whose answer could not be read, as an error the check records and holds back;
    its headers asked for again unless the caller has them (``headers_known``)."""
    if _cut_short(failure):
        why = note(Text.IMAP_RESPONSE_TOO_LONG, limit=f"{imaplib._MAXLINE // (1024 * 1024)} MB")
    else:
        why = note(Text.IMAP_STRUCTURE_UNREADABLE)
    summary = None if headers_known else _headers_again(session, uid)
    if summary is None:  # its headers with the caller, or unreadable: an error with its UID all the same
        summary = MessageSummary(
            ref=str(uid), message_id=None, sender=None, subject="", received_at=None, header_hash=f"uid:{uid}"
        )
    summary.parse_error = why
    return [summary]


def _headers_again(session: ImapSession, uid: int) -> MessageSummary | None:
    """The summary of one message from its headers alone; None when they cannot be read."""
    try:
        with session.errors():
            response = session.client.fetch([uid], [HEADER_ITEM, "RFC822.SIZE"])
        return summary_from_fetch(uid, response[uid], with_structure=False) if uid in response else None
    except MailboxError as error:
        if error.code != ErrorCode.PROTOCOL_ERROR:
            raise
        session.resynchronise()
        return None
    except MESSAGE_FAULTS:
        return None
