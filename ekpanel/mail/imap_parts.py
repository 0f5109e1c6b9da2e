"""Downloading the candidate PDF parts of IMAP messages, never marking a message read.

``BINARY.PEEK[section]`` (RFC 3516: the server decodes base64, a third fewer bytes) where the
server offers it, else ``BODY.PEEK[section]`` decoded here; the parts of many messages in one
``UID FETCH``. PEEK never sets ``\\Seen``.
"""

from __future__ import annotations

import re

from ekpanel.mail.fetch_response import FetchSyntaxError, parse_fetch
from ekpanel.mail.imap_fetch import decode_transfer_encoding, sequence_set
from ekpanel.mail.imap_session import ImapSession
from ekpanel.mail.mailbox import AttachmentPart, MailboxError, MessageSummary, RemoteFolder
from ekpanel.mail.structure_walk import is_section
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode


def fetch_part(
    session: ImapSession, folder: RemoteFolder, message: MessageSummary, part: AttachmentPart
) -> bytes:
    """The decoded bytes of one part; ``message_missing`` when the message is gone."""
    session.select(folder, writable=None)
    uid = int(message.ref)
    if session.client.has_capability("BINARY"):
        try:
            data = _fetch_binary(session, uid, part.ref)
        except MailboxError as error:
            if error.code != ErrorCode.CONNECTION_LOST:
                raise
            # Dovecot hangs up when it cannot decode a part for BINARY (truncated base64): take
            # the part as stored; a really dead server fails the reconnect instead.
            session.reconnect(folder)
            data = None
        if data is not None:
            return data
    item = f"BODY[{part.ref}]".encode()
    with session.errors():
        response = session.client.fetch([uid], [f"BODY.PEEK[{part.ref}]"])
    found = response.get(uid, {})
    if item not in found:
        raise MailboxError(ErrorCode.MESSAGE_MISSING, note(Text.IMAP_MESSAGE_GONE))
    return decode_transfer_encoding(found[item] or b"", part.encoding)


def fetch_parts(
    session: ImapSession, folder: RemoteFolder, wanted: list[tuple[MessageSummary, AttachmentPart]]
) -> list[bytes | MailboxError]:
    """The parts of many messages in one ``UID FETCH`` per distinct list of sections (mostly
    one: the PDF is part 2), instead of a round trip per part. Whatever that answer does
    not settle goes through :func:`fetch_part` one by one."""
    session.select(folder, writable=None)
    binary = session.client.has_capability("BINARY")
    sections_of: dict[int, list[str]] = {}
    for message, part in wanted:
        sections_of.setdefault(int(message.ref), []).append(part.ref)
    groups: dict[tuple[str, ...], list[int]] = {}
    for uid, sections in sections_of.items():
        groups.setdefault(tuple(sorted(set(sections))), []).append(uid)
    found: dict[tuple[int, str], bytes] = {}
    settled: set[int] = set()  # UIDs the server answered for (present or not)
    for sections, uids in groups.items():
        answer = _fetch_sections(session, folder, sorted(uids), sections, binary)
        if answer is not None:
            found.update(answer)
            settled.update(uids)
    results: list[bytes | MailboxError] = []
    for message, part in wanted:
        uid = int(message.ref)
        if uid not in settled:
            try:
                results.append(fetch_part(session, folder, message, part))
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
    session: ImapSession, folder: RemoteFolder, uids: list[int], sections: tuple[str, ...], binary: bool
) -> dict[tuple[int, str], bytes] | None:
    """``{(uid, section): bytes}`` from one ``UID FETCH``, or None when the server would not
    answer it whole (then the parts go one by one)."""
    if not all(is_section(section) for section in sections):
        return None
    peek = "BINARY.PEEK" if binary else "BODY.PEEK"
    items = " ".join(f"{peek}[{section}]" for section in sections)
    try:
        with session.errors():
            typ, data = session.client._imap.uid("FETCH", sequence_set(uids), f"({items})")
    except MailboxError as error:
        if not binary or error.code != ErrorCode.CONNECTION_LOST:
            raise
        # The parts go one by one, and the broken one falls back to BODY.PEEK there.
        session.reconnect(folder)
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


def _fetch_binary(session: ImapSession, uid: int, section: str) -> bytes | None:
    """``BINARY.PEEK[section]``, or None when the server will not decode this part.

    imapclient cannot parse the ``~{n}`` literal8 a BINARY answer carries, so this goes
    through imaplib, which reads the literal fine.
    """
    if not is_section(section):
        return None
    with session.errors():
        typ, data = session.client._imap.uid("FETCH", str(uid), f"(BINARY.PEEK[{section}])")
    if typ != "OK":
        return None  # e.g. [UNKNOWN-CTE]: fall back to BODY.PEEK and decode here
    wanted = f"BINARY[{section}]".encode()
    uid_marker = re.compile(rb"\bUID %d\b" % uid)
    for item in data:
        if isinstance(item, tuple) and wanted in item[0] and uid_marker.search(item[0]):
            return item[1]
    return None
