"""The check on IMAP, against a real Dovecot: what only IMAP has. The commands a check sends,
namespaces and TLS, flags, UIDVALIDITY, a server that dies, a BODYSTRUCTURE that cannot be read.

What every kind of mailbox must do is in test_mailbox_contract.py; the check's own bookkeeping in
test_check_run.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ekpanel.checks.models import Check, Decision
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail import connect, imap_fetch
from ekpanel.mail.structure import StructureError
from ekpanel.servers.models import ENCRYPTION_SSL, ENCRYPTION_STARTTLS
from tests.factories import make_dovecot_server
from tests.support import messages as m
from tests.support.mail_users import new_box


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
def test_every_encryption_and_namespace_takes_the_pdf_into_that_namespaces_year_folder(
    sqlite_app, dovecot, dovecot_courier, namespace, encryption
):
    box = new_box(dovecot if namespace == "fs" else dovecot_courier, encryption)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken, result.counts.documents) == ("ok", 1, 1)
    assert box.user.list("INBOX") == []
    [moved] = box.user.list(box.year_folder())
    assert "\\Seen" not in moved["flags"]


def test_skipped_messages_keep_their_folder_and_flags(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    box.user.append("INBOX", m.as_bytes(m.message()), flags=["\\Flagged"])
    box.user.append("INBOX", m.as_bytes(m.with_png(m.message())), flags=["\\Seen"])
    before = box.user.list("INBOX")

    result = run_check(server.id, trigger="cli")

    assert result.counts.skipped == 3
    assert box.user.list("INBOX") == before


def test_year_folder_is_created_once_and_subscribed(sqlite_app, dovecot_courier, opened):
    box = new_box(dovecot_courier)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())
    box.user.append(box.folder("Junk"), m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert result.counts.taken == 2
    assert opened[0].stats.count("CREATE") == 1 and opened[0].stats.count("SUBSCRIBE") == 1
    assert box.year_folder().startswith("INBOX.eksiegowy")
    assert len(box.user.list(box.year_folder())) == 2
    with box.server.imap(box.user.login, box.user.password) as conn:
        _typ, subscribed = conn.lsub('""', "*")
    assert any(box.year_folder().encode() in line for line in subscribed)


def test_second_check_without_new_mail_fetches_no_message_parts(sqlite_app, dovecot, opened):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())
    for _ in range(3):
        box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    assert run_check(server.id, trigger="cli").counts.taken == 1

    run_check(server.id, trigger="cli")

    commands = opened[-1].stats.commands
    assert not [c for c in commands if "FETCH" in c or "SEARCH" in c], commands
    assert commands.count("EXAMINE") == 2  # INBOX and Junk, one command each
    assert len(commands) <= 5 * 2, commands


def test_pdfs_of_a_batch_come_in_one_fetch_and_only_listed_senders_structure_is_read(
    sqlite_app, dovecot, opened
):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    for _ in range(3):
        box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.documents, result.counts.skipped) == (3, 3, 1)
    # INBOX: the headers, the structures of the three listed senders' messages, their PDFs.
    assert opened[0].stats.count("UID FETCH") == 3, opened[0].stats.commands


def test_changed_uidvalidity_rescans_without_duplicates(app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
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
    assert len(box.user.list(box.year_folder())) == 2


def test_server_killed_between_store_and_move_then_next_check_finishes_the_job(
    sqlite_app, private_dovecot, before_move
):
    box = new_box(private_dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())

    before_move(lambda folder, messages: private_dovecot.kill())
    first = run_check(server.id, trigger="schedule")
    assert (first.outcome, first.transient, first.counts.documents) == ("failed", True, 1)
    assert first.error_code in {"connection_lost", "connection_refused"}

    private_dovecot.start()
    before_move(None)
    second = run_check(server.id, trigger="schedule")

    assert (second.outcome, second.counts.documents, second.counts.duplicates) == ("ok", 0, 1)
    assert len(documents()) == 1
    assert box.user.list("INBOX") == []


def test_malformed_message_is_an_error_and_the_check_goes_on(sqlite_app, dovecot, monkeypatch):
    original = imap_fetch.parts_from_bodystructure

    def parse(bodystructure, **bounds):
        if b"zepsuta.pdf" in repr(bodystructure).encode():
            raise StructureError("unreadable BODYSTRUCTURE")
        return original(bodystructure, **bounds)

    monkeypatch.setattr(imap_fetch, "parts_from_bodystructure", parse)
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf(filename="zepsuta.pdf"))
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.errors, result.counts.taken) == ("partial", 1, 1)
    assert [d.decision for d in decisions(server_id=server.id)] == ["error", "taken"]
    assert len(box.user.list("INBOX")) == 1


def test_wrong_password_fails_only_that_servers_check(sqlite_app, dovecot):
    good_box, bad_box = new_box(dovecot), new_box(dovecot)
    good = make_dovecot_server(good_box)
    bad = make_dovecot_server(bad_box, good.company, password="zle-haslo")
    good_box.user.append("INBOX", m.with_pdf())

    failed, ok = (run_check(server_id, trigger="schedule") for server_id in (bad.id, good.id))

    assert (failed.outcome, failed.error_code, failed.transient) == ("failed", "auth_failed", False)
    assert failed.error is not None
    assert (ok.outcome, ok.counts.documents) == ("ok", 1)
    check = db.session.get(Check, failed.check_id)
    assert (check.outcome, check.error_code, check.finished_at is not None) == ("failed", "auth_failed", True)


def test_imap_commands_of_an_idle_recheck_and_of_a_check_with_one_new_message(sqlite_app, dovecot, opened):
    """Exactly these: a new round trip must be a decision, not a drift (issue 14)."""
    box = new_box(dovecot)
    server = make_dovecot_server(box, folders=["INBOX"])
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
