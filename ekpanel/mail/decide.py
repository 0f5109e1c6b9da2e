"""What becomes of one message: taken (with its PDFs), skipped with a reason, or an error.

Knows only the Mailbox interface and the pure rules (whitelist, PDF detection, the sender's
verdict); the database side (duplicates, recording, who allowed what) is the checks area's.

The sender's verdict (``ekpanel.mail.sender``) is read once a message from an admitted sender is
known to carry candidate PDF parts, before any of them is downloaded: a message the verdict
keeps out under *Wymagaj* costs no PDF bytes, and mail without a PDF never needs a verdict (on
Microsoft 365 reading the fields is a request of its own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from ekpanel.mail.authres import SenderCheck
from ekpanel.mail.mailbox import (
    AttachmentPart,
    Mailbox,
    MailboxError,
    MessageSummary,
    RemoteFolder,
)
from ekpanel.mail.pdf import is_pdf_candidate, looks_like_pdf, part_too_large, pdf_filename
from ekpanel.mail.sender import SenderSettings, judge, skip_reason, verdict_note
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.vocabulary import Decision, ErrorCode, Reason
from ekpanel.mail.whitelist import SenderWhitelist

# Reported (encoded) bytes of PDF parts fetched in one go: what a batch holds in memory at most,
# beside one part that is bigger by itself. Small enough that the check's writer threads store
# one group while the next downloads (4 MB: ~0.2 s off a 2.5 s first check of 5000 messages).
FETCH_BUDGET = 4 * 1024 * 1024
# PDFs taken from one message at most: a mail with thousands of PDF parts is an attack, not an invoice.
MAX_PDFS_PER_MESSAGE = 100
_NAMES_SHOWN = 20  # file names a decision lists before "…"
NO_VERIFICATION = SenderSettings()  # the whitelist alone decides ("Wyłączona")


@dataclass
class FoundPdf:
    part: AttachmentPart
    data: bytes
    filename: str


@dataclass
class Verdict:
    decision: Decision
    reason: Reason | None = None  # for skipped messages
    detail: Note | None = None
    pdfs: list[FoundPdf] = field(default_factory=list)
    sender_check: SenderCheck | None = None  # the receiving server's verdict, when one was read
    allowed_anyway: bool = False  # taken though *Wymagaj* would skip it: a person allowed it once


def message_key(message: MessageSummary) -> str:
    """The identity of a message across folders, moves and checks.

    SHA-256 of its Message-ID, or of its header hash when it has none; together with the PDF's
    hash it is what makes a document unique per company.
    """
    if message.message_id:
        source = "message-id:" + message.message_id.strip()
    else:
        source = "headers:" + message.header_hash
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Waiting:
    """A message whose verdict waits for the bytes of its candidate PDF parts."""

    message: MessageSummary
    to_fetch: list[AttachmentPart]
    too_large: list[AttachmentPart]
    over_limit: int = 0  # candidates beyond the per-message limit, not downloaded
    sender_check: SenderCheck | None = None
    allowed_anyway: bool = False


def decide_all(
    mailbox: Mailbox,
    folder: RemoteFolder,
    messages: list[MessageSummary],
    whitelist: SenderWhitelist,
    max_pdf_bytes: int,
    fetch_budget: int = FETCH_BUDGET,
    *,
    max_pdfs: int = MAX_PDFS_PER_MESSAGE,
    sender: SenderSettings = NO_VERIFICATION,
    allowed_keys: frozenset[str] = frozenset(),
) -> Iterator[tuple[MessageSummary, Verdict]]:
    """A verdict per message of a batch. Those the structure settles come at once; only candidate
    PDF parts of admitted messages are downloaded, the parts of many messages together (up to
    ``fetch_budget`` bytes at a time), and a group is downloaded as soon as it is full, before the
    next message's structure is read: memory holds one such group (or one bigger message), not
    the batch. Of one message at most ``max_pdfs`` candidates are downloaded; the rest are named
    in the decision as skipped. Once a message's verdict is given the mailbox may let go of it
    (``Mailbox.forget``).

    ``sender`` is the server's sender verification; under *Wymagaj* a message whose sender is not
    confirmed is skipped with its own reason, unless its key (``message_key``) is among
    ``allowed_keys``: a person allowed that one message anyway."""
    group: list[_Waiting] = []
    for message in messages:
        try:
            first = _from_structure(message, whitelist, max_pdf_bytes, max_pdfs)
            if isinstance(first, _Waiting) and sender.judges:
                first = _judge_sender(first, sender, allowed_keys)
        except MailboxError as error:  # a structure read lazily (Graph) for a message now gone
            if error.code != ErrorCode.MESSAGE_MISSING:
                raise
            first = Verdict(Decision.ERROR, detail=error.note)
        if isinstance(first, Verdict):
            yield message, first
            mailbox.forget(message)
            continue
        if group and _size(group) + _size([first]) > fetch_budget:
            yield from _fetched(mailbox, folder, group, max_pdf_bytes)
            group = []
        group.append(first)
        if _size(group) >= fetch_budget:
            yield from _fetched(mailbox, folder, group, max_pdf_bytes)
            group = []
    if group:
        yield from _fetched(mailbox, folder, group, max_pdf_bytes)


def _fetched(
    mailbox: Mailbox, folder: RemoteFolder, group: list[_Waiting], max_pdf_bytes: int
) -> Iterator[tuple[MessageSummary, Verdict]]:
    """The verdicts of a group of messages, their parts downloaded together."""
    wanted = [(item.message, part) for item in group for part in item.to_fetch]
    fetched = iter(mailbox.fetch_parts(folder, wanted))
    for item in group:
        data = [next(fetched) for _part in item.to_fetch]
        yield item.message, _from_parts(item, data, max_pdf_bytes)
        mailbox.forget(item.message)


def _size(group: list[_Waiting]) -> int:
    """Reported bytes of the parts a group downloads."""
    return sum(part.size or 0 for item in group for part in item.to_fetch)


def _from_structure(
    message: MessageSummary, whitelist: SenderWhitelist, max_pdf_bytes: int, max_pdfs: int
) -> Verdict | _Waiting:
    if message.parse_error:
        return Verdict(Decision.ERROR, detail=message.parse_error)
    if message.sender_ambiguous:
        return Verdict(Decision.SKIPPED, Reason.SENDER_AMBIGUOUS)
    if not whitelist.admits(message.sender):
        return Verdict(Decision.SKIPPED, Reason.SENDER)
    if not message.has_attachments and not message.parts:
        return Verdict(Decision.SKIPPED, Reason.NO_ATTACHMENT)
    candidates = [part for part in message.parts if is_pdf_candidate(part)]
    if not candidates:
        return Verdict(Decision.SKIPPED, Reason.NO_PDF)
    to_fetch = [part for part in candidates if not part_too_large(part, max_pdf_bytes)]
    too_large = [part for part in candidates if part_too_large(part, max_pdf_bytes)]
    if not to_fetch:
        return _conclude([], too_large, max_pdf_bytes)
    return _Waiting(
        message, to_fetch[:max_pdfs], too_large, over_limit=len(to_fetch) - len(to_fetch[:max_pdfs])
    )


def _judge_sender(item: _Waiting, sender: SenderSettings, allowed_keys: frozenset[str]) -> Verdict | _Waiting:
    """The sender's verdict on a message with PDF candidates; under *Wymagaj* the skip it means."""
    check = judge(item.message, sender)
    item.sender_check = check
    reason = skip_reason(check) if sender.requires else None
    if reason is None:
        return item
    if message_key(item.message) in allowed_keys:
        item.allowed_anyway = True
        return item
    return Verdict(Decision.SKIPPED, reason, detail=verdict_note(check), sender_check=check)


def _from_parts(item: _Waiting, fetched: list[bytes | MailboxError], max_pdf_bytes: int) -> Verdict:
    verdict = _from_fetched(item, fetched, max_pdf_bytes)
    verdict.sender_check, verdict.allowed_anyway = item.sender_check, item.allowed_anyway
    return verdict


def _from_fetched(item: _Waiting, fetched: list[bytes | MailboxError], max_pdf_bytes: int) -> Verdict:
    missing = next((data for data in fetched if isinstance(data, MailboxError)), None)
    if missing is not None:
        return Verdict(Decision.ERROR, detail=missing.note)
    pdfs: list[FoundPdf] = []
    too_large = list(item.too_large)
    for part, data in zip(item.to_fetch, fetched, strict=True):
        if len(data) > max_pdf_bytes:
            too_large.append(part)
        elif looks_like_pdf(data):
            pdfs.append(FoundPdf(part, data, pdf_filename(part, len(pdfs) + 1)))
    verdict = _conclude(pdfs, too_large, max_pdf_bytes)
    if item.over_limit and verdict.decision == Decision.TAKEN:
        # Taken and moved all the same: its documents are in; the note says what was left out.
        verdict.detail = note(
            Text.PDFS_OVER_LIMIT, limit=len(item.to_fetch), count=item.over_limit, also=verdict.detail or ""
        )
    return verdict


def _conclude(pdfs: list[FoundPdf], too_large: list[AttachmentPart], max_pdf_bytes: int) -> Verdict:
    large_names = ", ".join(part.filename or part.ref for part in too_large[:_NAMES_SHOWN])
    if len(too_large) > _NAMES_SHOWN:
        large_names += ", …"
    limit = f"{max_pdf_bytes / (1024 * 1024):g} MB"
    if pdfs:
        detail = note(Text.PDFS_TOO_LARGE_SKIPPED, limit=limit, names=large_names) if too_large else None
        return Verdict(Decision.TAKEN, detail=detail, pdfs=pdfs)
    if too_large:
        return Verdict(
            Decision.SKIPPED,
            Reason.TOO_LARGE,
            detail=note(Text.PDFS_TOO_LARGE, limit=limit, names=large_names),
        )
    return Verdict(Decision.SKIPPED, Reason.NO_PDF)
