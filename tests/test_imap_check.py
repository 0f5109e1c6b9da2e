"""The check against a real Dovecot: what is taken, what is left, and that nothing is taken twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekpanel.checks.models import Check, Decision
from ekpanel.checks.progress import RunProgress
from ekpanel.checks.records import Recorder, TakenMessage
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.documents.storage import pdf_path
from ekpanel.extensions import db
from ekpanel.mail import connect, imap_fetch
from ekpanel.mail.decide import Verdict
from ekpanel.mail.mailbox import MessageSummary, RemoteFolder
from ekpanel.mail.structure import StructureError
from ekpanel.servers.models import ENCRYPTION_STARTTLS, MailServer
from ekpanel.timeutil import utcnow
from tests.factories import make_company
from tests.support import messages as m
from tests.support.mail_servers import ENCRYPTION_SSL, make_server, new_box, server_for, year_folder


def documents() -> list[Document]:
    return list(db.session.scalars(select(Document).order_by(Document.id)))


def decisions(**where) -> list[Decision]:
    return list(db.session.scalars(select(Decision).filter_by(**where).order_by(Decision.id)))


@pytest.fixture
def opened(monkeypatch) -> list:
    """Every mailbox a check opens, to read the IMAP commands it sent afterwards."""
    sessions = []
    original = connect.open_mailbox

    def spy(server, settings):
        mailbox = original(server, settings)
        sessions.append(mailbox)
        return mailbox

    monkeypatch.setattr(connect, "open_mailbox", spy)
    return sessions


@pytest.mark.parametrize("encryption", [ENCRYPTION_SSL, ENCRYPTION_STARTTLS])
@pytest.mark.parametrize("namespace", ["fs", "courier"])
def test_pdf_from_whitelisted_sender_becomes_a_document_and_moves_to_year_folder(
    sqlite_app, dovecot, dovecot_courier, namespace, encryption
):
    box = new_box(dovecot if namespace == "fs" else dovecot_courier, encryption)
    server = server_for(sqlite_app, box)
    pdf = m.pdf_bytes()
    box.user.append("INBOX", m.with_pdf(pdf, subject="Faktura 7/2026"))

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken, result.counts.documents) == ("ok", 1, 1)
    [document] = documents()
    assert (document.filename, document.sender) == ("faktura.pdf", m.WHITELISTED)
    assert (document.subject, document.source_folder, document.size) == ("Faktura 7/2026", "INBOX", len(pdf))
    assert document.received_at is not None and document.server_id == server.id
    assert pdf_path(document.sha256).read_bytes() == pdf
    assert box.user.list("INBOX") == []
    [moved] = box.user.list(year_folder(box))
    assert "\\Seen" not in moved["flags"]
    [decision] = decisions(server_id=server.id)
    assert (decision.decision, decision.check_id) == ("taken", result.check_id)


def test_message_from_sender_not_on_the_list_stays_untouched(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER), flags=["\\Flagged"])
    before = box.user.list("INBOX")

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken, result.counts.skipped) == ("ok", 0, 1)
    assert box.user.list("INBOX") == before
    assert "\\Seen" not in before[0]["flags"]
    [decision] = decisions(server_id=server.id)
    assert (decision.decision, decision.reason, decision.sender) == (
        "skipped",
        "sender not on the list",
        m.STRANGER,
    )
    assert documents() == []


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda: m.message(), "no attachment"),
        (lambda: m.with_png(m.message()), "no PDF"),
    ],
    ids=["plain text", "only a PNG"],
)
def test_whitelisted_message_without_a_pdf_is_skipped_with_its_reason(sqlite_app, dovecot, build, reason):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.as_bytes(build()))

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.skipped) == (0, 1)
    assert [d.reason for d in decisions(server_id=server.id)] == [reason]
    assert len(box.user.list("INBOX")) == 1


@pytest.mark.parametrize("shape", m.PDF_SHAPES, ids=list(m.PDF_SHAPES))
def test_every_pdf_shape_is_found_by_its_bytes(sqlite_app, dovecot, shape):
    build, expected_names = m.PDF_SHAPES[shape]
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.as_bytes(build(m.pdf_bytes())))

    result = run_check(server.id, trigger="cli")

    assert [d.filename for d in documents()] == expected_names
    assert all(pdf_path(d.sha256).read_bytes().startswith(b"%PDF-") for d in documents())
    assert result.counts.taken == (1 if expected_names else 0)
    if not expected_names:
        assert [d.reason for d in decisions(server_id=server.id)] == ["no PDF"]


def test_pdf_over_the_size_limit_is_skipped_as_too_large(sqlite_app, dovecot):
    sqlite_app.config["MAX_PDF_MB"] = 0.01  # about 10 KB
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf(m.pdf_bytes(30_000)))

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.skipped) == (0, 1)
    assert [d.reason for d in decisions(server_id=server.id)] == ["PDF too large"]
    assert len(box.user.list("INBOX")) == 1


def test_skipped_messages_keep_their_folder_and_flags(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    box.user.append("INBOX", m.as_bytes(m.message()), flags=["\\Flagged"])
    box.user.append("INBOX", m.as_bytes(m.with_png(m.message())), flags=["\\Seen"])
    before = box.user.list("INBOX")

    result = run_check(server.id, trigger="cli")

    assert result.counts.skipped == 3
    assert box.user.list("INBOX") == before


def test_year_folder_is_created_once_and_subscribed(sqlite_app, dovecot_courier, opened):
    box = new_box(dovecot_courier)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf())
    box.user.append(box.folder("Junk"), m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert result.counts.taken == 2
    assert opened[0].stats.count("CREATE") == 1 and opened[0].stats.count("SUBSCRIBE") == 1
    assert year_folder(box).startswith("INBOX.eksiegowy")
    assert len(box.user.list(year_folder(box))) == 2
    with box.server.imap(box.user.login, box.user.password) as conn:
        _typ, subscribed = conn.lsub('""', "*")
    assert any(year_folder(box).encode() in line for line in subscribed)


def test_second_check_without_new_mail_takes_nothing_and_fetches_no_message_parts(
    sqlite_app, dovecot, opened
):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf())
    for _ in range(3):
        box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    assert run_check(server.id, trigger="cli").counts.taken == 1

    second = run_check(server.id, trigger="cli")

    assert (second.counts.examined, second.counts.taken, second.counts.documents) == (0, 0, 0)
    commands = opened[-1].stats.commands
    assert not [c for c in commands if "FETCH" in c or "SEARCH" in c], commands
    assert commands.count("EXAMINE") == 2  # INBOX and Junk, one command each
    assert len(commands) <= 5 * 2, commands


def test_pdfs_of_a_batch_come_in_one_fetch_and_only_listed_senders_structure_is_read(
    sqlite_app, dovecot, opened
):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    for _ in range(3):
        box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.documents, result.counts.skipped) == (3, 3, 1)
    # INBOX: the headers, the structures of the three listed senders' messages, their PDFs.
    assert opened[0].stats.count("UID FETCH") == 3, opened[0].stats.commands


def test_changed_whitelist_rescans_the_folder(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf(sender="ksiegowosc@inny.pl"))
    assert run_check(server.id, trigger="cli").counts.skipped == 1

    server.whitelist = "faktury@dostawca.pl\n*@inny.pl"
    db.session.commit()
    result = run_check(server.id, trigger="cli")

    assert (result.counts.examined, result.counts.taken) == (1, 1)
    assert box.user.list("INBOX") == []


def test_skipped_message_is_recorded_once_across_rescans(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    run_check(server.id, trigger="cli")

    server.whitelist = "faktury@dostawca.pl\nnowy@dostawca.pl"
    db.session.commit()
    rescan = run_check(server.id, trigger="cli")

    assert (rescan.counts.examined, rescan.counts.skipped) == (1, 1)
    assert len(decisions(server_id=server.id)) == 1


def test_changed_uidvalidity_rescans_without_duplicates(app, dovecot):
    box = new_box(dovecot)
    server = server_for(app, box)
    raw = m.with_pdf()
    box.user.append("INBOX", raw)
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    assert run_check(server.id, trigger="cli").counts.documents == 1
    box.user.append("INBOX", raw)  # the taken message comes back, as after a restore
    box.server.reset_uidvalidity(box.user.login, box.user.password, "INBOX")

    result = run_check(server.id, trigger="cli")

    assert (
        result.counts.examined,
        result.counts.documents,
        result.counts.duplicates,
        result.counts.skipped,
    ) == (2, 0, 1, 1)
    assert len(documents()) == 1
    assert len(decisions(server_id=server.id, decision="skipped", reason="sender not on the list")) == 1
    assert len(box.user.list("INBOX")) == 1  # only the stranger's message
    assert len(box.user.list(year_folder(box))) == 2


def test_crash_between_store_and_move_then_next_check_moves_without_a_second_document(app, dovecot):
    box = new_box(dovecot)
    server = server_for(app, box)
    box.user.append("INBOX", m.with_pdf())

    def crash(folder, messages):
        raise RuntimeError("the worker died here")

    first = run_check(server.id, trigger="schedule", before_move=crash)
    assert (first.outcome, first.counts.documents) == ("failed", 1)
    assert len(box.user.list("INBOX")) == 1

    second = run_check(server.id, trigger="schedule")

    assert (second.outcome, second.counts.documents, second.counts.duplicates) == ("ok", 0, 1)
    assert len(documents()) == 1
    assert box.user.list("INBOX") == []
    assert len(box.user.list(year_folder(box))) == 1


def test_server_killed_between_store_and_move_then_next_check_finishes_the_job(sqlite_app, private_dovecot):
    box = new_box(private_dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf())

    first = run_check(
        server.id, trigger="schedule", before_move=lambda folder, messages: private_dovecot.kill()
    )
    assert (first.outcome, first.transient, first.counts.documents) == ("failed", True, 1)
    assert first.error_code in {"connection_lost", "connection_refused"}

    private_dovecot.start()
    second = run_check(server.id, trigger="schedule")

    assert (second.outcome, second.counts.documents, second.counts.duplicates) == ("ok", 0, 1)
    assert len(documents()) == 1
    assert box.user.list("INBOX") == []


def test_same_message_in_two_checked_folders_gives_one_set_of_documents(app, dovecot):
    box = new_box(dovecot)
    server = server_for(app, box)
    raw = m.with_pdf()
    box.user.append("INBOX", raw)
    box.user.append(box.folder("Junk"), raw)

    result = run_check(server.id, trigger="cli")

    assert (result.counts.documents, result.counts.duplicates) == (1, 1)
    assert len(documents()) == 1
    assert box.user.list("INBOX") == [] and box.user.list("Junk") == []


def test_spam_means_the_junk_folder_not_a_plain_spam_folder(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box, folders="spam")
    box.user.append("Junk", m.with_pdf())
    box.user.append("Spam", m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert result.counts.taken == 1
    assert [d.source_folder for d in documents()] == ["Junk"]
    assert len(box.user.list("Spam")) == 1


def test_missing_folder_is_a_warning_and_the_other_folders_are_checked(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box, folders="Nieistniejący\nINBOX")
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken) == ("partial", 1)
    assert "Nieistniejący" in str(db.session.get(Check, result.check_id).warning_notes)


def test_malformed_message_is_an_error_and_the_check_goes_on(sqlite_app, dovecot, monkeypatch):
    original = imap_fetch.parts_from_bodystructure

    def parse(bodystructure, **bounds):
        if b"zepsuta.pdf" in repr(bodystructure).encode():
            raise StructureError("unreadable BODYSTRUCTURE")
        return original(bodystructure, **bounds)

    monkeypatch.setattr(imap_fetch, "parts_from_bodystructure", parse)
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf(filename="zepsuta.pdf"))
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.errors, result.counts.taken) == ("partial", 1, 1)
    assert [d.decision for d in decisions(server_id=server.id)] == ["error", "taken"]
    assert len(box.user.list("INBOX")) == 1


def test_wrong_password_fails_only_that_servers_check(sqlite_app, dovecot):
    good_box, bad_box = new_box(dovecot), new_box(dovecot)
    good = server_for(sqlite_app, good_box)
    bad = make_server(good.company, bad_box, password="zle-haslo")
    good_box.user.append("INBOX", m.with_pdf())

    failed, ok = (run_check(server_id, trigger="schedule") for server_id in (bad.id, good.id))

    assert (failed.outcome, failed.error_code, failed.transient) == ("failed", "auth_failed", False)
    assert failed.error is not None
    assert (ok.outcome, ok.counts.documents) == ("ok", 1)
    check = db.session.get(Check, failed.check_id)
    assert (check.outcome, check.error_code, check.finished_at is not None) == ("failed", "auth_failed", True)


def test_decisions_older_than_log_days_are_pruned(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
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
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    reports = []

    run_check(server.id, trigger="refresh", progress=lambda p: reports.append(p.to_json()))

    inbox = [RunProgress.from_json(r) for r in reports if r["folder"] == "INBOX"]
    last = inbox[-1]
    assert (last.counts.examined, last.to_examine, last.documents) == (2, 2, 1)


def test_check_row_is_committed_with_trigger_user_and_counts(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = server_for(sqlite_app, box)
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="refresh", job_id="job-1")

    check = db.session.get(Check, result.check_id)
    assert (check.trigger, check.job_id, check.outcome) == ("refresh", "job-1", "ok")
    assert (check.examined, check.taken, check.documents) == (1, 1, 1)
    assert check.finished_at >= check.started_at
    assert db.session.scalar(select(func.count()).select_from(Check)) == 1


def test_documents_committed_meanwhile_by_another_check_make_a_duplicate_not_an_error(app):
    company = make_company()
    server = MailServer(company_id=company.id, protocol="imap", host="127.0.0.1", username="x")
    db.session.add(server)
    db.session.flush()
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


def test_imap_commands_of_an_idle_recheck_and_of_a_check_with_one_new_message(sqlite_app, dovecot, opened):
    """Exactly these: a new round trip must be a decision, not a drift (issue 14)."""
    box = new_box(dovecot)
    server = server_for(sqlite_app, box, folders="INBOX")
    run_check(server.id, trigger="cli")
    assert opened[-1].stats.commands == ["LOGIN", "LIST", "EXAMINE", "LOGOUT"]

    box.user.append("INBOX", m.with_pdf())
    run_check(server.id, trigger="cli")  # the first message of the year creates eksiegowy<year>
    box.user.append("INBOX", m.with_pdf())
    run_check(server.id, trigger="cli")

    assert opened[-1].stats.commands == [
        "LOGIN",
        "LIST",
        "EXAMINE",
        "UID SEARCH",
        "UID FETCH",  # headers
        "UID FETCH",  # structure of the listed sender's message
        "UID FETCH",  # its PDF
        "SELECT",  # to move: EXAMINE cannot, and reading under EXAMINE never marks a message read
        "UID MOVE",
        "LOGOUT",
    ]
