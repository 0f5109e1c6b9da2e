"""The check of one mail server: take the PDFs of whitelisted senders, exactly once.

Runs inside an app context (``db.session``), the same code for a job, the CLI and tests. The
order of work is what makes it safe to cut off at any point:

1. the Check row is committed first, so even a killed worker leaves a trace;
2. per batch, the taken messages' PDFs are stored (written and fsynced on a few threads) and,
   once all are durable, their documents and the batch's decisions **committed** together;
3. only then are the messages moved to ``eksiegowy<year>``;
4. only then does the folder's cursor advance.

A crash after 2 finds the message again; its documents exist (unique company + message key +
PDF hash), so it is recorded as a duplicate and moved, and nothing is taken twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ekpanel.checks.models import (
    DECISION_SKIPPED,
    DECISION_TAKEN,
    OUTCOME_FAILED,
    OUTCOME_OK,
    OUTCOME_PARTIAL,
    OUTCOME_RUNNING,
    REASON_NO_ATTACHMENT,
    REASON_NO_PDF,
    REASON_SENDER,
    REASON_TOO_LARGE,
    Check,
)
from ekpanel.documents.storage import PdfWriter
from ekpanel.extensions import db
from ekpanel.mail import connect
from ekpanel.mail.decide import Verdict, decide_all, message_key
from ekpanel.mail.folders import resolve_folder, year_folder_name
from ekpanel.mail.mailbox import (
    FOLDER_UNAVAILABLE,
    FolderCursor,
    Mailbox,
    MailboxError,
    MessageSummary,
    RemoteFolder,
)
from ekpanel.mail.records import Recorder, TakenMessage, prune_decisions
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.whitelist import SenderWhitelist
from ekpanel.servers.models import FolderState, MailServer
from ekpanel.timeutil import utcnow

__all__ = ["CheckResult", "run_check", "run_checks"]

Progress = Callable[[dict], None]
BeforeMove = Callable[[RemoteFolder, list[MessageSummary]], None]

_SKIP_COUNTERS = {
    REASON_SENDER: "skipped_sender",
    REASON_NO_ATTACHMENT: "skipped_no_attachment",
    REASON_NO_PDF: "skipped_no_pdf",
    REASON_TOO_LARGE: "skipped_too_large",
}
_YEAR_FOLDER = re.compile(r"(^|[./])eksiegowy\d{4}$", re.IGNORECASE)


@dataclass
class CheckResult:
    check_id: int
    server_id: int
    outcome: str
    error_code: str | None = None
    error_message: str | None = None
    transient: bool = False
    examined: int = 0
    taken: int = 0  # messages taken
    documents: int = 0  # documents created
    skipped: int = 0  # messages skipped for a reason (duplicates not included)
    duplicates: int = 0
    errors: int = 0
    warnings: list[str] = field(default_factory=list)


def run_check(
    server_id: int,
    *,
    trigger: str,
    user_id: int | None = None,
    job_id: str | None = None,
    progress: Progress | None = None,
    before_move: BeforeMove | None = None,
) -> CheckResult:
    """Check one server now. ``before_move`` runs after a batch's documents are committed and
    before its messages are moved (tests raise there to simulate a crash)."""
    server = db.session.get(MailServer, server_id)
    if server is None:
        raise LookupError(f"no mail server {server_id}")
    settings = MailSettings.from_config(current_app.config)
    check = Check(
        server_id=server.id, trigger=trigger, user_id=user_id, job_id=job_id, outcome=OUTCOME_RUNNING
    )
    db.session.add(check)
    db.session.commit()
    check_id = check.id
    run = _Run(server, check, settings, progress, before_move)
    error: MailboxError | None = None
    try:
        prune_decisions(server.id, settings.log_days)
        run.execute()
    except MailboxError as failure:
        error = failure
    except Exception as failure:
        current_app.logger.exception("check %s of server %s failed unexpectedly", check_id, server_id)
        error = MailboxError("unexpected", _("Nieoczekiwany błąd: %(error)r", error=failure), transient=True)
    db.session.rollback()  # anything half-done of the failing message goes; committed work stays
    return run.finish(db.session.get(Check, check_id), error)


def run_checks(server_ids: Iterable[int], *, trigger: str, user_id: int | None = None) -> list[CheckResult]:
    """Check several servers one after another; one server's failure does not stop the others."""
    return [run_check(server_id, trigger=trigger, user_id=user_id) for server_id in server_ids]


def config_hash(server: MailServer) -> str:
    """The whitelist and folder list a cursor was made under; a change means a full rescan."""
    whitelist = SenderWhitelist(server.whitelist_entries)
    text = "\n".join(whitelist.entries) + "\x00" + "\n".join(server.folder_names)
    return hashlib.sha256(text.encode()).hexdigest()


class _Run:
    def __init__(
        self,
        server: MailServer,
        check: Check,
        settings: MailSettings,
        progress: Progress | None,
        before_move: BeforeMove | None,
    ) -> None:
        self.server_id = server.id
        self.recorder = Recorder(
            check_id=check.id, server_id=server.id, company_id=server.company_id, server_label=server.label
        )
        self.folder_names = server.folder_names
        self.server = server
        self.check_id = check.id
        self.settings = settings
        self.whitelist = SenderWhitelist(server.whitelist_entries)
        self.config_hash = config_hash(server)
        self.progress = progress
        self.before_move = before_move
        self.counts = dict.fromkeys(
            ["examined", "taken", "documents", "duplicates", "errors", *_SKIP_COUNTERS.values()], 0
        )
        self.warnings: list[str] = []
        self.year_folder: RemoteFolder | None = None
        self.writer = PdfWriter(settings.storage_dir)
        self.folder_label = ""
        self.to_examine = 0
        self.stored = 0  # PDFs of this batch on disk, documents not yet committed

    # -- the run -----------------------------------------------------------------------------

    def execute(self) -> None:
        with connect.open_mailbox(self.server, self.settings) as mailbox, self.writer:
            folders = mailbox.list_folders()
            resolved: list[RemoteFolder] = []
            for name in self.folder_names:
                folder = resolve_folder(name, folders)
                if folder is None:
                    self.warn(
                        _(
                            "Folder „%(name)s” nie istnieje na serwerze; pozostałe foldery sprawdzono.",
                            name=name,
                        )
                    )
                elif _YEAR_FOLDER.search(folder.display):
                    self.warn(
                        _("Folder „%(name)s” to folder pobranych wiadomości; nie jest sprawdzany.", name=name)
                    )
                elif folder.ref not in {f.ref for f in resolved}:
                    resolved.append(folder)
            for folder in resolved:
                try:
                    self.check_folder(mailbox, folder)
                except MailboxError as error:
                    if error.code != FOLDER_UNAVAILABLE:
                        raise
                    db.session.rollback()
                    self.recorder.forget_queued()
                    self.warn(error.message)

    def check_folder(self, mailbox: Mailbox, folder: RemoteFolder) -> None:
        self.folder_label = folder.display
        state = db.session.scalars(
            select(FolderState).where(
                FolderState.server_id == self.server_id, FolderState.folder == folder.ref
            )
        ).first()
        if state is None:
            state = FolderState(server_id=self.server_id, folder=folder.ref)
            db.session.add(state)
        if state.config_hash == self.config_hash:
            cursor = FolderCursor(state.uidvalidity, state.last_uid, state.delta_link)
        else:
            cursor = FolderCursor()
        examined_before = self.counts["examined"]
        self.report()
        for batch, new_cursor in mailbox.new_messages(folder, cursor, self.whitelist.admits):
            self.to_examine = examined_before + (getattr(mailbox, "pending_count", None) or len(batch))
            to_move = self.handle_batch(mailbox, folder, batch)
            if to_move:
                if self.before_move is not None:
                    self.before_move(folder, to_move)
                self.move(mailbox, folder, to_move)
            state = db.session.merge(state)
            state.uidvalidity = new_cursor.uidvalidity
            state.last_uid = new_cursor.last_uid
            state.delta_link = new_cursor.delta_link
            state.config_hash = self.config_hash
            self.save_counts()
            db.session.commit()
            self.report()
        db.session.commit()

    def handle_batch(
        self, mailbox: Mailbox, folder: RemoteFolder, batch: list[MessageSummary]
    ) -> list[MessageSummary]:
        """Decide every message; store the PDFs of taken ones and commit their documents."""
        keys = {message.ref: message_key(message) for message in batch}
        recorded = self.recorder.recorded_skips(set(keys.values()))
        storing: list[tuple[MessageSummary, str, Verdict, list[tuple[str, int, Future[str]]]]] = []
        for message, verdict in decide_all(
            mailbox, folder, batch, self.whitelist, self.settings.max_pdf_bytes
        ):
            key = keys[message.ref]
            self.counts["examined"] += 1
            if verdict.decision == DECISION_TAKEN:
                # Handed to the writer and let go, so memory holds about one fetch group's PDFs.
                files = [(pdf.filename, len(pdf.data), self.writer.store(pdf.data)) for pdf in verdict.pdfs]
                verdict.pdfs = []
                storing.append((message, key, verdict, files))
                self.stored += len(files)
                self.report()  # downloads are the slow part: show them moving
            elif verdict.decision == DECISION_SKIPPED:
                self.counts[_SKIP_COUNTERS[verdict.reason]] += 1
                if (key, verdict.reason) not in recorded:  # skipped messages are recorded once
                    recorded.add((key, verdict.reason))
                    self.recorder.record(folder, message, key, verdict)
            else:
                self.counts["errors"] += 1
                self.recorder.record(folder, message, key, verdict)
        self.writer.wait()  # every PDF durable before the commit that records it
        taken = [
            TakenMessage(message, key, verdict, [(name, size, sha.result()) for name, size, sha in files])
            for message, key, verdict, files in storing
        ]
        for count in self.recorder.commit_taken(folder, taken):
            if count:
                self.counts["taken"] += 1
                self.counts["documents"] += count
            else:
                self.counts["duplicates"] += 1
        self.stored = 0
        self.report()
        return [item.message for item in taken]

    def move(self, mailbox: Mailbox, folder: RemoteFolder, messages: list[MessageSummary]) -> None:
        if self.year_folder is None:
            year = datetime.now(ZoneInfo(self.settings.timezone)).year
            self.year_folder = mailbox.ensure_folder(year_folder_name(year))
        outcome = mailbox.move(folder, messages, self.year_folder)
        for ref, why in outcome.failed.items():
            self.warn(
                _(
                    "Wiadomość %(ref)s w folderze %(folder)s nie została przeniesiona: %(reason)s",
                    ref=ref,
                    folder=folder.display,
                    reason=why,
                )
            )

    # -- bookkeeping -------------------------------------------------------------------------

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def save_counts(self) -> None:
        check = db.session.get(Check, self.check_id)
        for name, value in self.counts.items():
            setattr(check, name, value)
        check.warnings = "\n".join(self.warnings) or None

    def skipped(self) -> int:
        return sum(self.counts[name] for name in _SKIP_COUNTERS.values())

    def report(self) -> None:
        if self.progress is None:
            return
        self.progress(
            {
                "folder": self.folder_label,
                "examined": self.counts["examined"],
                "to_examine": max(self.to_examine, self.counts["examined"]),
                # Stored PDFs count at once; their commit (and any duplicate) settles at batch end.
                "documents": self.counts["documents"] + self.stored,
                "taken": self.counts["taken"],
                "skipped": self.skipped(),
                "errors": self.counts["errors"],
            }
        )

    def finish(self, check: Check, error: MailboxError | None) -> CheckResult:
        self.save_counts()
        check.finished_at = utcnow()
        if error is not None:
            check.outcome = OUTCOME_FAILED
            check.error_code = error.code[:40]
            check.error_message = error.message
        elif self.counts["errors"] or self.warnings:
            check.outcome = OUTCOME_PARTIAL
        else:
            check.outcome = OUTCOME_OK
        db.session.commit()
        return CheckResult(
            check_id=check.id,
            server_id=self.server_id,
            outcome=check.outcome,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            transient=error.transient if error else False,
            examined=self.counts["examined"],
            taken=self.counts["taken"],
            documents=self.counts["documents"],
            skipped=self.skipped(),
            duplicates=self.counts["duplicates"],
            errors=self.counts["errors"],
            warnings=list(self.warnings),
        )
