"""The check of one mail server: take the PDFs of whitelisted senders, exactly once.

Runs inside an app context (``db.session``), the same code for a job, the CLI and tests; the mail
core (``ekpanel.mail``) decides about messages, this module owns every commit. The order of work is
what makes it safe to cut off at any point:

1. the Check row is committed first, so even a killed worker leaves a trace;
2. per batch, the taken messages' PDFs are stored (written and fsynced on a few threads) and,
   once all are durable, their documents and the batch's decisions **committed** together
   (``ekpanel.checks.records``);
3. only then are the messages moved to ``eksiegowy<year>``, and a worker asked to read the new
   documents' PDFs (a job on the queue, best effort: ``ekpanel.documents.extraction``; the check
   never reads them itself);
4. only then does the folder's cursor advance: it is kept here and committed with the next
   commit, the next batch's documents or the check's end (with its counts and outcome).

A crash after 2 finds the message again; its documents exist (unique company + message key +
PDF hash), so it is recorded as a duplicate and moved, and nothing is taken twice. A crash after
3 leaves the cursor behind: the next check reads the batch again and finds its taken messages gone.
A check of a few new messages so commits three times: its row, the documents, its end. Nothing
is written while the mail server is asked something (on SQLite that would hold the write lock).

Sender verification (the server's "Weryfikacja nadawcy", ``ekpanel.mail.sender``): each taken
message's documents carry the receiving server's verdict; under *Wymagaj* a message whose sender
is not confirmed is skipped with its own reason. An administrator may allow one such message
anyway (``sender_exceptions``); since the cursor has moved past it, each folder's allowed
messages are fetched again by their ids after its new and held-back ones, as held messages are.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from ekpanel.checks import held, sender_exceptions
from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.cursors import FolderCursors
from ekpanel.checks.mailboxes import mailbox_access, sender_settings
from ekpanel.checks.models import Check
from ekpanel.checks.progress import RunProgress
from ekpanel.checks.queue import request_extraction
from ekpanel.checks.records import Recorder, TakenMessage, prune_decisions, save_end, save_progress
from ekpanel.checks.recovery import mark_server_checks_left_running
from ekpanel.documents.storage import PdfWriter
from ekpanel.extensions import db
from ekpanel.mail import connect
from ekpanel.mail.connect import MailboxAccess
from ekpanel.mail.decide import Verdict, decide_all, message_key
from ekpanel.mail.folders import resolve_folder, year_folder_name
from ekpanel.mail.mailbox import FolderCursor, Mailbox, MailboxError, MessageSummary, RemoteFolder
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.vocabulary import Decision, ErrorCode, Outcome
from ekpanel.mail.whitelist import SenderWhitelist
from ekpanel.servers.models import MailServer

__all__ = ["CheckResult", "run_check"]

ProgressReport = Callable[[RunProgress], None]

_YEAR_FOLDER = re.compile(r"(^|[./])eksiegowy\d{4}$", re.IGNORECASE)


@dataclass
class CheckResult:
    check_id: int
    server_id: int
    outcome: Outcome
    counts: CheckCounts
    error_code: ErrorCode | None = None
    error: Note | None = None
    transient: bool = False
    warnings: list[Note] = field(default_factory=list)


def run_check(
    server_id: int,
    *,
    trigger: str,
    user_id: int | None = None,
    job_id: str | None = None,
    progress: ProgressReport | None = None,
    keep_going: Callable[[], bool] | None = None,
    close_left_running: bool = False,
) -> CheckResult:
    """Check one server now. ``keep_going`` is asked at every batch boundary (the job: is the
    server's lock still ours?); False ends the check there, with a warning. ``close_left_running``:
    the caller holds the server's lock, so the server's checks still marked running are dead ones,
    closed as interrupted in this check's first commit."""
    server = db.session.get(MailServer, server_id)
    if server is None:
        raise LookupError(f"no mail server {server_id}")
    settings = MailSettings.from_config(current_app.config)
    if close_left_running:
        mark_server_checks_left_running(server_id)
    check = Check(
        server_id=server.id, trigger=trigger, user_id=user_id, job_id=job_id, outcome=Outcome.RUNNING
    )
    db.session.add(check)
    prune_decisions(server.id, settings.log_days)
    db.session.flush()
    run = _Run(server, check, settings, progress, keep_going)  # all it needs of the rows, read now
    db.session.commit()
    error: MailboxError | None = None
    try:
        run.execute()
    except MailboxError as failure:
        error = failure
    except Exception as failure:
        current_app.logger.exception("check %s of server %s failed unexpectedly", run.check_id, server_id)
        error = MailboxError(ErrorCode.UNEXPECTED, note(Text.UNEXPECTED, error=repr(failure)), transient=True)
    db.session.rollback()  # anything half-done of the failing message goes; committed work stays
    return run.finish(error)


def config_hash(server: MailServer) -> str:
    """The whitelist and folder list a cursor was made under, and under *Wymagaj* the
    authserv-id: a change means a full rescan, so what the old settings kept out is met again.
    (Only *Wymagaj* keeps messages out, so the other policies leave the hash as it always was.)"""
    whitelist = SenderWhitelist(server.whitelist_entries)
    text = "\n".join(whitelist.entries) + "\x00" + "\n".join(server.folder_names)
    sender = sender_settings(server)
    if sender.requires:
        text += f"\x00require\x00{sender.authserv_id or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


class _LockLost(Exception):
    """Another check has taken this server: stop at the batch boundary, all committed work kept."""


class _Run:
    def __init__(
        self,
        server: MailServer,
        check: Check,
        settings: MailSettings,
        progress: ProgressReport | None,
        keep_going: Callable[[], bool] | None = None,
    ) -> None:
        self.server_id = server.id
        # Read before the first commit expires the row; an unreadable secret fails the check (execute).
        try:
            self.access: MailboxAccess | MailboxError = mailbox_access(server)
        except MailboxError as error:
            self.access = error
        self.recorder = Recorder(
            check_id=check.id, server_id=server.id, company_id=server.company_id, server_label=server.label
        )
        self.folder_names = server.folder_names
        self.check_id = check.id
        self.settings = settings
        self.whitelist = SenderWhitelist(server.whitelist_entries)
        self.sender = sender_settings(server)
        self.allowed = sender_exceptions.pending(server.id)  # message key -> who allowed it
        self.config_hash = config_hash(server)
        self.report_progress = progress
        self.keep_going = keep_going or (lambda: True)
        self.progress = RunProgress()
        self.counts = self.progress.counts
        self.warnings: list[Note] = []
        self.year_folder: RemoteFolder | None = None
        self.writer = PdfWriter(settings.storage_dir)
        self.held_refs: set[str] = set()  # the current folder's held messages being tried again
        self.cursors = FolderCursors(server.id)

    # -- the run -----------------------------------------------------------------------------

    def execute(self) -> None:
        if isinstance(self.access, MailboxError):
            raise self.access
        with connect.open_mailbox(self.access, self.settings) as mailbox, self.writer:
            folders = mailbox.list_folders()
            resolved: list[RemoteFolder] = []
            for name in self.folder_names:
                folder = resolve_folder(name, folders)
                if folder is None:
                    self.warnings.append(note(Text.FOLDER_NOT_FOUND, name=name))
                elif _YEAR_FOLDER.search(folder.display):
                    self.warnings.append(note(Text.FOLDER_IS_YEAR_FOLDER, name=name))
                elif folder.ref not in {f.ref for f in resolved}:
                    resolved.append(folder)
            for folder in resolved:
                try:
                    self.check_folder(mailbox, folder)
                except _LockLost:
                    self.warnings.append(note(Text.LOCK_LOST))
                    return
                except MailboxError as error:
                    if error.code != ErrorCode.FOLDER_UNAVAILABLE:
                        raise
                    db.session.rollback()
                    self.recorder.forget_queued()
                    self.warnings.append(error.note)

    def check_folder(self, mailbox: Mailbox, folder: RemoteFolder) -> None:
        self.progress.folder = folder.display
        saved = self.cursors.saved(folder)
        rescan = saved is None or saved[1] != self.config_hash
        cursor = FolderCursor() if rescan else saved[0]
        examined_before = self.counts.examined
        self.report()
        self.held_refs = set()
        # Messages that failed before are tried again after the new ones; a folder read in full
        # again (its configuration or its UIDs changed) meets them anew instead.
        to_retry = [] if rescan else held.refs_to_retry(self.server_id, folder)
        if rescan and held.forget_folder(self.server_id, folder):
            db.session.commit()
        first = True
        for batch, new_cursor in mailbox.new_messages(folder, cursor, self.whitelist.admits):
            if first and cursor.uidvalidity is not None and new_cursor.uidvalidity != cursor.uidvalidity:
                if held.forget_folder(self.server_id, folder):
                    db.session.commit()
                to_retry = []
            first = False
            self.progress.to_examine = examined_before + (
                getattr(mailbox, "pending_count", None) or len(batch)
            )
            to_move = self.handle_batch(mailbox, folder, batch)
            if to_move:
                self.move_taken(mailbox, folder, to_move)
            # After the move; the next commit writes it.
            self.cursors.advance(folder, new_cursor, self.config_hash)
            self.report()
            if not self.keep_going():
                self.write_progress()  # as far as this check got, as it always was before stopping
                db.session.commit()
                raise _LockLost
        if to_retry:
            self.retry_held(mailbox, folder, to_retry)
        allowed_refs = sender_exceptions.refs_to_fetch(self.server_id, folder) if self.allowed else []
        if allowed_refs:
            self.take_allowed(mailbox, folder, allowed_refs)

    def retry_held(self, mailbox: Mailbox, folder: RemoteFolder, refs: list[str]) -> None:
        self.held_refs = set(refs)
        found = mailbox.messages_by_ref(folder, refs, self.whitelist.admits)
        held.release(self.server_id, folder, sorted(found.gone(refs)))
        for ref, why in found.unreadable.items():
            held.record_unreadable(self.server_id, folder, ref, why)  # one more attempt, failed
        self.tell_unreadable(folder, found.unreadable)
        self.handle_again(mailbox, folder, found.messages)

    def take_allowed(self, mailbox: Mailbox, folder: RemoteFolder, refs: list[str]) -> None:
        """The messages an administrator allowed anyway, fetched again from behind the cursor."""
        found = mailbox.messages_by_ref(folder, refs, self.whitelist.admits)
        sender_exceptions.mark_gone(self.server_id, folder, sorted(found.gone(refs)))
        db.session.commit()
        self.tell_unreadable(folder, found.unreadable)  # still allowed: the next check asks again
        self.handle_again(mailbox, folder, found.messages)

    def tell_unreadable(self, folder: RemoteFolder, unreadable: dict[str, Note]) -> None:
        for ref, why in unreadable.items():
            self.warnings.append(note(Text.NOT_READ_AGAIN, ref=ref, folder=folder.display, reason=why))

    def handle_again(self, mailbox: Mailbox, folder: RemoteFolder, found: list[MessageSummary]) -> None:
        """Messages fetched by their ids (held back, or allowed anyway): decided, taken, moved."""
        to_move = self.handle_batch(mailbox, folder, found)
        if to_move:
            self.move_taken(mailbox, folder, to_move)
        self.report()

    def handle_batch(
        self, mailbox: Mailbox, folder: RemoteFolder, batch: list[MessageSummary]
    ) -> list[MessageSummary]:
        """Decide every message; store the PDFs of taken ones and commit their documents."""
        keys = {message.ref: message_key(message) for message in batch}
        recorded = self.recorder.recorded_skips(set(keys.values()))
        storing: list[tuple[MessageSummary, str, Verdict, list[tuple[str, int, Future[str]]]]] = []
        failed: list[tuple[MessageSummary, Note | None]] = []
        decided: list[str] = []  # allowed messages skipped for another reason
        decisions = decide_all(
            mailbox,
            folder,
            batch,
            self.whitelist,
            self.settings.max_pdf_bytes,
            max_pdfs=self.settings.max_pdfs_per_message,
            sender=self.sender,
            allowed_keys=frozenset(self.allowed),
        )
        for message, verdict in decisions:
            key = keys[message.ref]
            self.counts.examined += 1
            if verdict.sender_check is not None:
                self.counts.senders_judged += 1
                self.counts.senders_without_authres += not message.authentication_results
            if verdict.decision == Decision.TAKEN:
                # Handed to the writer and let go, so memory holds about one fetch group's PDFs.
                files = [(pdf.filename, len(pdf.data), self.writer.store(pdf.data)) for pdf in verdict.pdfs]
                verdict.pdfs = []
                storing.append((message, key, verdict, files))
                self.progress.stored += len(files)
                self.report()  # downloads are the slow part: show them moving
            elif verdict.decision == Decision.SKIPPED:
                self.counts.add_skip(verdict.reason)
                if key in self.allowed:  # allowed, and now skipped for another reason (no PDF left)
                    decided.append(key)
                if (key, verdict.reason) not in recorded:  # skipped messages are recorded once
                    recorded.add((key, verdict.reason))
                    self.recorder.record(folder, message, key, verdict)
            else:
                self.counts.errors += 1
                self.recorder.record(folder, message, key, verdict)
                failed.append((message, verdict.detail))
        self.writer.wait()  # every PDF durable before the commit that records it
        taken = [
            TakenMessage(
                message,
                key,
                verdict,
                [(name, size, sha.result()) for name, size, sha in files],
                allowed_by=self._allowed_by(key) if verdict.allowed_anyway else None,
            )
            for message, key, verdict, files in storing
        ]
        self.write_progress()  # the cursors of batches moved before this one go with its commit
        for count in self.recorder.commit_taken(folder, taken):
            if count:
                self.counts.taken += 1
                self.counts.documents += count
            else:
                self.counts.duplicates += 1
        self.spend_allowances(decided + [item.key for item in taken if item.key in self.allowed])
        self.progress.stored = 0
        self.hold_back(folder, batch, failed)
        self.report()
        return [item.message for item in taken]

    def _allowed_by(self, key: str) -> int | None:
        allowance = self.allowed.get(key)
        return allowance.allowed_by_id if allowance is not None else None

    def spend_allowances(self, keys: list[str]) -> None:
        """Allowed messages now decided (taken, found taken before, or skipped for another reason):
        their allowance is used up, committed before they move, so a crash in between finds a
        duplicate, not an allowance to spend again."""
        if keys:
            sender_exceptions.mark_used(self.server_id, keys)
            db.session.commit()
            for key in keys:
                self.allowed.pop(key, None)

    def hold_back(
        self,
        folder: RemoteFolder,
        batch: list[MessageSummary],
        failed: list[tuple[MessageSummary, Note | None]],
    ) -> None:
        """Keep the batch's failed messages for the next checks; let go of held ones now decided."""
        failed_refs = {message.ref for message, _why in failed}
        decided = [message.ref for message in batch if message.ref in self.held_refs - failed_refs]
        if not failed and not decided:
            return
        for message, why in failed:
            held.record_failure(self.server_id, folder, message, why)
        held.release(self.server_id, folder, decided)
        db.session.commit()  # before the cursor moves past them

    def move_taken(self, mailbox: Mailbox, folder: RemoteFolder, messages: list[MessageSummary]) -> None:
        """Move a batch's taken messages, then ask a worker to read their new documents' PDFs."""
        try:
            self.move(mailbox, folder, messages)
        finally:  # moved or not, the documents are committed; after the move it costs intake nothing
            request_extraction(self.recorder.take_new_document_ids())

    def move(self, mailbox: Mailbox, folder: RemoteFolder, messages: list[MessageSummary]) -> None:
        if self.year_folder is None:
            year = datetime.now(ZoneInfo(self.settings.timezone)).year
            self.year_folder = mailbox.ensure_folder(year_folder_name(year))
        outcome = mailbox.move(folder, messages, self.year_folder)
        for ref, why in outcome.failed.items():
            self.warnings.append(note(Text.NOT_MOVED, ref=ref, folder=folder.display, reason=why))

    # -- bookkeeping -------------------------------------------------------------------------

    def write_progress(self) -> None:
        """The counts so far and the folders' cursors, into the transaction the next commit ends."""
        save_progress(self.check_id, self.counts, self.warnings)
        self.cursors.write()

    def report(self) -> None:
        if self.report_progress is not None:
            self.report_progress(self.progress)

    def finish(self, error: MailboxError | None) -> CheckResult:
        """The check's last commit: its counts, cursors, outcome."""
        if error is not None:
            outcome = Outcome.FAILED
        elif self.counts.errors or self.warnings:
            outcome = Outcome.PARTIAL
        else:
            outcome = Outcome.OK
        self.write_progress()
        save_end(self.check_id, outcome, error.code if error else None, error.note if error else None)
        db.session.commit()
        return CheckResult(
            check_id=self.check_id,
            server_id=self.server_id,
            outcome=outcome,
            counts=CheckCounts(**self.counts.to_json()),
            error_code=error.code if error else None,
            error=error.note if error else None,
            transient=error.transient if error else False,
            warnings=list(self.warnings),
        )
