"""The check's own bookkeeping, whatever the mailbox: its row, its progress, old decisions pruned,
and two checks committing the same document. Run on Dovecot, the mailbox that is quickest to set up.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ekpanel.checks.models import Check, Decision
from ekpanel.checks.progress import RunProgress
from ekpanel.checks.records import Recorder, TakenMessage
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.decide import Verdict
from ekpanel.mail.mailbox import MessageSummary, RemoteFolder
from ekpanel.timeutil import utcnow
from tests.factories import make_dovecot_server, make_imap_server
from tests.support import messages as m
from tests.support.mail_users import new_box


def documents() -> list[Document]:
    return list(db.session.scalars(select(Document).order_by(Document.id)))


def decisions(**where) -> list[Decision]:
    return list(db.session.scalars(select(Decision).filter_by(**where).order_by(Decision.id)))


def test_decisions_older_than_log_days_are_pruned(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    first = run_check(server.id, trigger="cli")
    old = decisions(server_id=server.id)[0]
    old.created_at = utcnow() - timedelta(days=91)
    db.session.commit()
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))

    run_check(server.id, trigger="cli")

    remaining = decisions(server_id=server.id)
    assert len(remaining) == 1 and remaining[0].check_id != first.check_id


def test_progress_reports_folder_counts_and_documents(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    reports = []

    run_check(server.id, trigger="refresh", progress=lambda p: reports.append(p.to_json()))

    inbox = [RunProgress.from_json(r) for r in reports if r["folder"] == "INBOX"]
    last = inbox[-1]
    assert (last.counts.examined, last.to_examine, last.documents) == (2, 2, 1)


def test_check_row_is_committed_with_trigger_user_and_counts(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="refresh", job_id="job-1")

    check = db.session.get(Check, result.check_id)
    assert (check.trigger, check.job_id, check.outcome) == ("refresh", "job-1", "ok")
    assert (check.examined, check.taken, check.documents) == (1, 1, 1)
    assert check.finished_at >= check.started_at
    assert db.session.scalar(select(func.count()).select_from(Check)) == 1


def test_documents_committed_meanwhile_by_another_check_make_a_duplicate_not_an_error(app):
    server = make_imap_server(host="127.0.0.1", username="x")
    company = server.company
    check = Check(server_id=server.id, trigger="schedule")
    db.session.add(check)
    db.session.commit()
    folder = RemoteFolder(ref="INBOX", display="INBOX")
    message = MessageSummary(
        ref="7", message_id="a@b", sender=m.WHITELISTED, subject="F", received_at=None, header_hash="h"
    )
    taken = TakenMessage(message, "k" * 64, Verdict("taken"), [("f.pdf", 10, "s" * 64)])

    class RacingRecorder(Recorder):
        raced = False

        def _existing(self, keys):
            if not self.raced:  # another worker commits the same document right after our lookup
                self.raced = True
                with Session(db.engine) as other:
                    other.add(
                        Document(
                            company_id=company.id,
                            message_key="k" * 64,
                            sha256="s" * 64,
                            filename="f.pdf",
                            size=10,
                        )
                    )
                    other.commit()
                return set()
            return super()._existing(keys)

    recorder = RacingRecorder(check_id=check.id, server_id=server.id, company_id=company.id, server_label="x")

    assert recorder.commit_taken(folder, [taken]) == [0]
    assert len(documents()) == 1
    assert [(d.decision, d.reason) for d in decisions(server_id=server.id)] == [("skipped", "duplicate")]


def test_a_check_commits_its_row_its_documents_and_its_end(sqlite_app, dovecot):
    """Three commits for new mail, two for none, whatever the folders (issue 14): one more is a
    decision, not a drift. The cursors go with the end, after the move."""
    box = new_box(dovecot)
    server = make_dovecot_server(box)  # INBOX and spam
    run_check(server.id, trigger="cli")
    box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    commits = []
    listener = lambda session: commits.append(session)  # noqa: E731

    event.listen(Session, "after_commit", listener)
    try:
        run_check(server.id, trigger="cli")
        with_mail = len(commits)
        run_check(server.id, trigger="cli")
    finally:
        event.remove(Session, "after_commit", listener)

    assert (with_mail, len(commits) - with_mail) == (3, 2)
    assert sorted(d.decision for d in decisions(server_id=server.id)) == ["skipped", "taken"]
