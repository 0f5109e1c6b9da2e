"""Sender verification in the check, against a real Dovecot: the three policies and "Pobierz mimo to".

The messages carry what a receiving server writes on top of them (its Authentication-Results with
the authserv-id ``mx.biuro.test``), and one carries a forged field in that server's name below it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ekpanel.checks import sender_exceptions
from ekpanel.checks.models import Decision, SenderException
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.authres import SenderCheck
from tests.factories import make_dovecot_server, make_user
from tests.support import messages as m
from tests.support.mail_users import new_box

OURS = "mx.biuro.test"
GENUINE = (
    f"{OURS}; dkim=pass header.d=dostawca.pl header.s=s1; spf=pass smtp.mailfrom=dostawca.pl;"
    " dmarc=pass header.from=dostawca.pl"
)
UNSIGNED = f"{OURS}; dkim=none; spf=pass smtp.mailfrom=dostawca.pl; dmarc=none header.from=dostawca.pl"
SPOOFED = (
    f"{OURS}; dkim=none; spf=fail smtp.mailfrom=obcy.example; dmarc=fail (p=reject) header.from=dostawca.pl"
)
# What a forger writes into the message he sends, in our server's name: it stands below ours.
FORGED = f"{OURS}; dkim=pass header.d=dostawca.pl; dmarc=pass header.from=dostawca.pl"


def stamped(*fields: str, subject: str) -> bytes:
    """A whitelisted message with a PDF, and these Authentication-Results fields on top, in order."""
    head = "".join(f"Authentication-Results: {value}\n" for value in fields).encode()
    return head + m.with_pdf(subject=subject)


def documents() -> list[Document]:
    return list(db.session.scalars(select(Document).order_by(Document.id)))


def decisions(**where) -> list[Decision]:
    return list(db.session.scalars(select(Decision).filter_by(**where).order_by(Decision.id)))


def fill(box) -> dict[str, int]:
    """One message of each kind in INBOX; subject -> UID."""
    kinds = {
        "potwierdzony": (GENUINE,),
        "niepotwierdzony": (UNSIGNED,),
        "niezgodny": (SPOOFED,),
        "podrobiony": (SPOOFED, FORGED),
    }
    return {
        subject: box.user.append("INBOX", stamped(*fields, subject=subject))
        for subject, fields in kinds.items()
    }


def verdicts() -> dict[str, str | None]:
    return {document.subject: document.sender_verdict for document in documents()}


def test_require_takes_only_the_confirmed_sender_and_leaves_the_rest_untouched(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy, server.authserv_id = "require", OURS
    db.session.commit()
    uids = fill(box)

    result = run_check(server.id, trigger="cli")

    assert verdicts() == {"potwierdzony": "confirmed"}
    assert (result.counts.taken, result.counts.skipped_unverified, result.counts.skipped) == (1, 3, 3)
    left = box.user.list("INBOX")
    assert sorted(message["uid"] for message in left) == sorted(
        uid for subject, uid in uids.items() if subject != "potwierdzony"
    )
    assert all("\\Seen" not in message["flags"] for message in left)
    assert len(box.user.list(box.year_folder())) == 1
    skipped = {d.subject: (d.reason, d.detail.polish()) for d in decisions(decision="skipped")}
    assert skipped == {
        "niepotwierdzony": (
            "sender unconfirmed",
            f"serwer {OURS} nie potwierdza domeny dostawca.pl (brak DMARC pass i zgodnego podpisu DKIM)",
        ),
        "niezgodny": ("sender failed", f"DMARC fail dla domeny dostawca.pl ({OURS})"),
        "podrobiony": ("sender failed", f"DMARC fail dla domeny dostawca.pl ({OURS})"),
    }


def test_require_never_takes_the_forged_message_in_later_checks(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy, server.authserv_id = "require", OURS
    db.session.commit()
    box.user.append("INBOX", stamped(SPOOFED, FORGED, subject="podrobiony"))

    run_check(server.id, trigger="cli")
    again = run_check(server.id, trigger="cli")

    assert documents() == [] and again.counts.examined == 0
    assert len(box.user.list("INBOX")) == 1
    assert len(decisions(reason="sender failed")) == 1  # recorded once, like every skip


def test_mark_takes_everything_the_whitelist_admits_each_document_with_its_verdict(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.authserv_id = OURS  # the policy is "mark" by default
    db.session.commit()
    fill(box)

    result = run_check(server.id, trigger="cli")

    assert server.sender_policy == "mark"
    assert verdicts() == {
        "potwierdzony": "confirmed",
        "niepotwierdzony": "unconfirmed",
        "niezgodny": "failed",
        "podrobiony": "failed",
    }
    assert (result.counts.taken, result.counts.senders_judged, result.counts.senders_without_authres) == (
        4,
        4,
        0,
    )
    assert box.user.list("INBOX") == []
    evidence = {d.subject: SenderCheck.from_json(d.sender_evidence) for d in documents()}
    genuine = evidence["potwierdzony"]
    assert (genuine.authserv_id, genuine.dmarc.result, genuine.dmarc.header_from) == (
        OURS,
        "pass",
        "dostawca.pl",
    )
    assert [(s.result, s.domain, s.aligned) for s in genuine.dkim] == [("pass", "dostawca.pl", True)]
    assert evidence["podrobiony"].dmarc.result == "fail"  # the forged pass below ours counts for nothing


def test_off_takes_as_before_and_reads_no_verdict(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy = "off"
    db.session.commit()
    fill(box)

    result = run_check(server.id, trigger="cli")

    assert result.counts.taken == 4 and result.counts.senders_judged == 0
    assert set(verdicts().values()) == {None}
    assert all(document.sender_evidence is None for document in documents())


def test_a_server_that_adds_no_authentication_results_is_counted_so(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.counts.senders_judged, result.counts.senders_without_authres) == (2, 2)
    assert set(verdicts().values()) == {"unconfirmed"}
    [reason] = {SenderCheck.from_json(d.sender_evidence).reason for d in documents()}
    assert reason == "no_authserv_id"  # and none could be proposed: see the dialog's tests


def test_the_header_is_fetched_only_with_the_structure_of_whitelisted_senders(
    sqlite_app, dovecot, monkeypatch
):
    from ekpanel.mail import imap_listing

    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.authserv_id = OURS
    db.session.commit()
    box.user.append("INBOX", stamped(GENUINE, subject="od dostawcy"))
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))
    fetched: list[tuple[list[int], list[str]]] = []
    original = imap_listing._fetch_items

    def spy(session, uids, items, **options):
        fetched.append((list(uids), list(items)))
        return original(session, uids, items, **options)

    monkeypatch.setattr(imap_listing, "_fetch_items", spy)

    run_check(server.id, trigger="cli")

    with_authres = [uids for uids, items in fetched if imap_listing.AUTHRES_ITEM in items]
    assert with_authres == [[1]]  # the stranger's message: headers only, as before
    assert verdicts() == {"od dostawcy": "confirmed"}


@pytest.mark.parametrize("subject", ["niepotwierdzony", "podrobiony"])
def test_a_message_allowed_anyway_is_taken_by_the_next_check_once(sqlite_app, dovecot, subject):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy, server.authserv_id = "require", OURS
    db.session.commit()
    fill(box)
    admin = make_user("szefowa", admin=True)
    run_check(server.id, trigger="cli")
    [decision] = decisions(subject=subject)

    exception = sender_exceptions.allow(decision, admin.id)
    db.session.commit()
    assert exception is not None and sender_exceptions.allow(decision, admin.id) is None  # once

    second = run_check(server.id, trigger="cli")

    assert second.counts.taken == 1
    taken = [d for d in documents() if d.subject == subject]
    assert [(d.allowed_by_id, d.sender_verdict) for d in taken] == [
        (admin.id, "failed" if subject == "podrobiony" else "unconfirmed")
    ]
    db.session.refresh(exception)
    assert exception.used_at is not None and not exception.gone
    assert len(box.user.list("INBOX")) == 2 and len(box.user.list(box.year_folder())) == 2
    assert [d.decision for d in decisions(subject=subject)] == ["skipped", "taken"]

    third = run_check(server.id, trigger="cli")
    assert (third.counts.examined, len(documents())) == (0, 2)
    assert len(box.user.list("INBOX")) == 2  # the others stay where they are


def test_an_allowed_message_gone_from_its_folder_is_noted_and_nothing_breaks(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy, server.authserv_id = "require", OURS
    db.session.commit()
    uid = box.user.append("INBOX", stamped(UNSIGNED, subject="usunięta"))
    admin = make_user("szef", admin=True)
    run_check(server.id, trigger="cli")
    [decision] = decisions(subject="usunięta")
    sender_exceptions.allow(decision, admin.id)
    db.session.commit()
    with dovecot.imap(box.user.login, box.user.password) as conn:
        conn.select("INBOX")
        conn.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
        conn.expunge()

    result = run_check(server.id, trigger="cli")

    assert result.outcome == "ok" and documents() == []
    [exception] = db.session.scalars(select(SenderException))
    assert exception.gone and exception.used_at is not None


def test_leaving_require_meets_the_messages_it_kept_out_again(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy, server.authserv_id = "require", OURS
    db.session.commit()
    fill(box)
    run_check(server.id, trigger="cli")
    assert len(documents()) == 1

    server.sender_policy = "mark"
    db.session.commit()
    result = run_check(server.id, trigger="cli")

    assert result.counts.taken == 3
    assert sorted(verdicts().values()) == ["confirmed", "failed", "failed", "unconfirmed"]
    assert box.user.list("INBOX") == []


def test_an_allowed_message_skipped_for_another_reason_spends_its_allowance(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    server.sender_policy, server.authserv_id = "require", OURS
    db.session.commit()
    box.user.append("INBOX", stamped(SPOOFED, subject="niezgodny"))
    admin = make_user("szefowa2", admin=True)
    run_check(server.id, trigger="cli")
    [decision] = decisions(subject="niezgodny")
    exception = sender_exceptions.allow(decision, admin.id)
    server.whitelist = "ktos@inny.example"  # meanwhile the sender is taken off the whitelist
    db.session.commit()

    result = run_check(server.id, trigger="cli")

    assert documents() == [] and result.counts.skipped_sender == 1
    db.session.refresh(exception)
    assert exception.used_at is not None and not exception.gone
    assert run_check(server.id, trigger="cli").counts.examined == 0  # not fetched by its id again
