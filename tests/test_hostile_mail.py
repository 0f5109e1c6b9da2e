"""Hostile or broken mail against a real Dovecot: bounded work per message, and the mailbox goes on."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ekpanel.audit.models import AuditEntry
from ekpanel.checks.models import Decision, HeldMessage
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.imap import ImapMailbox
from ekpanel.mail.mailbox import FolderCursor
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from tests.factories import make_dovecot_server, make_held_message, make_user
from tests.support import messages as m
from tests.support.mail_users import new_box


def document_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Document))


def test_a_message_with_more_pdfs_than_allowed_gives_the_first_ones_and_moves(sqlite_app, dovecot):
    sqlite_app.config["MAX_PDFS_PER_MESSAGE"] = 3
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    msg = m.message()
    for n in range(8):
        m.add_pdf(msg, m.pdf_bytes(), filename=f"faktura-{n}.pdf")
    box.user.append("INBOX", m.as_bytes(msg))

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken, result.counts.documents) == ("ok", 1, 3)
    assert sorted(doc.filename for doc in db.session.scalars(select(Document))) == [
        "faktura-0.pdf",
        "faktura-1.pdf",
        "faktura-2.pdf",
    ]
    [decision] = db.session.scalars(select(Decision)).all()
    assert decision.decision == "taken"
    assert (decision.detail.code, decision.detail.params["count"]) == (Text.PDFS_OVER_LIMIT, 5)
    assert box.user.list("INBOX") == [] and len(box.user.list(box.year_folder())) == 1


def many_parts(count: int, name_length: int) -> bytes:
    """A whitelisted message with ``count`` tiny PDF-named parts: its BODYSTRUCTURE is huge."""
    boundary = "graniczka"
    head = (
        f"From: {m.WHITELISTED}\r\nTo: biuro@ksiegowa.example\r\nSubject: Tysiace czesci\r\n"
        f"Message-ID: <czesci-{count}@dostawca.pl>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0100\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    )
    part = (
        f'--{boundary}\r\nContent-Type: application/pdf; name="{{name}}.pdf"\r\n'
        'Content-Disposition: attachment; filename="{name}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "JVBERi0xLjQK\r\n"
    )
    body = "".join(part.format(name=f"{n:05d}" + "x" * (name_length - 5)) for n in range(count))
    return (head + body + f"--{boundary}--\r\n").encode()


def held_states(server) -> list[tuple[int, str]]:
    db.session.expire_all()
    return [(row.attempts, row.state) for row in db.session.scalars(select(HeldMessage))]


@pytest.mark.parametrize(("parts", "name_length"), [(1800, 240), (10_000, 40)])
def test_a_message_too_big_to_describe_is_held_back_and_the_invoice_after_it_is_taken(
    sqlite_app, dovecot, parts, name_length
):
    sqlite_app.config["IMAP_MAX_LINE_MB"] = 1  # imaplib's own limit: the message's answer exceeds it
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    culprit = box.user.append("INBOX", many_parts(parts, name_length))
    box.user.append("INBOX", m.with_pdf(subject="Faktura po ataku"))

    first = run_check(server.id, trigger="schedule")

    assert (first.outcome, first.counts.errors, first.counts.documents) == ("partial", 1, 1)
    [error] = db.session.scalars(select(Decision).where(Decision.decision == "error")).all()
    assert (error.message_ref, error.detail.code) == (str(culprit), Text.IMAP_RESPONSE_TOO_LONG)
    [left] = box.user.list("INBOX")  # the culprit, untouched: not moved, not \Seen
    assert left["uid"] == culprit and "\\Seen" not in left["flags"]
    assert held_states(server) == [(1, "retrying")]

    second = run_check(server.id, trigger="schedule")
    assert (second.outcome, second.counts.documents, second.counts.errors) == ("partial", 0, 1)
    third = run_check(server.id, trigger="schedule")
    assert third.outcome == "partial"
    assert held_states(server) == [(3, "needs_person")]

    fourth = run_check(server.id, trigger="schedule")  # waits for a person now: not tried again
    assert (fourth.outcome, fourth.counts.examined) == ("ok", 0)
    assert document_count() == 1 and [m_["uid"] for m_ in box.user.list("INBOX")] == [culprit]


def test_a_message_too_long_to_describe_costs_no_second_look_at_its_headers(dovecot):
    box = new_box(dovecot)
    box.user.append("INBOX", many_parts(1800, 240))
    box.user.append("INBOX", m.with_pdf(subject="Faktura po ataku"))
    settings = MailSettings(ca_bundle=str(box.server.ca_path), imap_max_line_bytes=1024 * 1024)
    login = (box.user.login, box.user.password, settings)

    with ImapMailbox("127.0.0.1", box.port, box.encryption, *login) as mailbox:
        inbox = next(folder for folder in mailbox.list_folders() if folder.ref == "INBOX")
        [(batch, _cursor)] = mailbox.new_messages(inbox, FolderCursor(), needs_structure=lambda sender: True)
        fetches = mailbox.stats.count("UID FETCH")

    assert [(s.subject, s.parse_error) for s in batch] == [
        ("Tysiace czesci", note(Text.IMAP_RESPONSE_TOO_LONG, limit="1 MB")),
        ("Faktura po ataku", None),
    ]
    assert fetches == 3  # the headers, the culprit's structure, the invoice's: the culprit's headers once


def test_messages_needing_a_person_are_listed_and_an_administrator_sends_one_for_another_try(
    client, auth, app, dovecot
):
    server = make_dovecot_server(new_box(dovecot))
    held = make_held_message(server)
    make_user("szef", admin=True)
    auth.login("szef")

    page = client.get(f"/servers/{server.id}/checks").get_data(as_text=True)
    assert f'data-held-id="{held.id}"' in page and "Faktura z 10 000 części" in page
    assert "EKPANEL_IMAP_MAX_LINE_MB" in page  # the reason, naming the bound

    response = client.post(f"/servers/{server.id}/held/{held.id}/retry")
    assert response.status_code == 302
    db.session.expire_all()
    assert held.state == "retry_requested"
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "message.retry_requested")
    ).all()
    assert entry.actor_login == "szef" and "Faktura z 10 000 części" in entry.details
    assert f'data-held-id="{held.id}"' not in client.get(f"/servers/{server.id}/checks").get_data(
        as_text=True
    )


def test_an_operator_sees_messages_needing_a_person_but_cannot_send_them_again(client, auth, app, dovecot):
    server = make_dovecot_server(new_box(dovecot))
    held = make_held_message(server)
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")

    assert f'data-held-id="{held.id}"' in client.get(f"/servers/{server.id}/checks").get_data(as_text=True)
    assert client.post(f"/servers/{server.id}/held/{held.id}/retry").status_code == 403
    page = client.get(f"/companies/{server.company_id}/documents").get_data(as_text=True)
    assert f'data-held-server="{server.id}"' in page and "1 wiadomość do wyjaśnienia" in page


def test_a_message_sent_for_another_try_that_fails_again_waits_for_a_person_again(sqlite_app, dovecot):
    sqlite_app.config["IMAP_MAX_LINE_MB"] = 1
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", many_parts(1800, 240))
    for _ in range(3):
        run_check(server.id, trigger="schedule")
    [row] = db.session.scalars(select(HeldMessage)).all()
    row.state = "retry_requested"
    db.session.commit()

    again = run_check(server.id, trigger="schedule")

    assert (again.counts.examined, again.counts.errors) == (1, 1)
    assert held_states(server) == [(3, "needs_person")]


def test_a_message_beyond_the_parts_bound_is_an_error_that_names_it_and_the_invoice_after_it_is_taken(
    sqlite_app, dovecot
):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    culprit = box.user.append("INBOX", many_parts(10_000, 40))  # readable within 16 MB, beyond 500 parts
    box.user.append("INBOX", m.with_pdf(subject="Faktura po ataku"))

    result = run_check(server.id, trigger="schedule")

    assert (result.counts.errors, result.counts.documents) == (1, 1)
    [error] = db.session.scalars(select(Decision).where(Decision.decision == "error")).all()
    assert (error.message_ref, error.detail) == (str(culprit), note(Text.TOO_MANY_PARTS, limit=500))
    assert [left["uid"] for left in box.user.list("INBOX")] == [culprit]


@pytest.mark.parametrize(
    "sender",
    [
        "faktury@dostawca.pl, attacker@evil.example",
        "<faktury@dostawca.pl> <attacker@evil.example>",
        "faktury@dostawca.pl <attacker@evil.example>",
    ],
)
def test_a_from_with_two_addresses_is_not_admitted_and_says_why(sqlite_app, dovecot, sender):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf(sender=sender))

    result = run_check(server.id, trigger="schedule")

    assert (result.counts.documents, result.counts.skipped) == (0, 1)
    [decision] = db.session.scalars(select(Decision)).all()
    assert (decision.decision, decision.reason) == ("skipped", "ambiguous sender")
    assert len(box.user.list("INBOX")) == 1
