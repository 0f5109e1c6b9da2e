"""Sender verification on an "API Outlook 365" server, through the check, against the emulator.

Exchange Online stamps every inbound message with an Authentication-Results field that has no
authserv-id (Microsoft's "Anti-spam message headers" page); the emulator hands the header block
back as ``internetMessageHeaders`` in the message's order, as Graph does.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from ekpanel.accounts.models import User
from ekpanel.checks import sender_exceptions
from ekpanel.checks.models import Decision, SenderException
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.authres import SenderCheck
from ekpanel.mail.texts import Text
from ekpanel.servers.models import MailServer
from tests.factories import make_graph_server, make_user
from tests.support import messages as m
from tests.support.ms_fixtures import MAILBOX

EXCHANGE_PASS = (
    "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=dostawca.pl; dkim=pass (signature was verified)"
    " header.d=dostawca.pl;dmarc=pass action=none header.from=dostawca.pl;compauth=pass reason=100"
)
EXCHANGE_FAIL = (
    "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=dostawca.pl; dkim=none (message not signed)"
    " header.d=none;dmarc=fail action=oreject header.from=dostawca.pl;compauth=fail reason=000"
)
EXCHANGE_UNSIGNED = (
    "spf=none (sender IP is 192.0.2.10) smtp.mailfrom=dostawca.pl; dkim=none (message not signed)"
    " header.d=none;dmarc=none action=none header.from=dostawca.pl;compauth=fail reason=001"
)
ARC = "i=1; mx.microsoft.com 1; spf=pass smtp.mailfrom=dostawca.pl; dmarc=pass header.from=dostawca.pl"
# Written by the sender: a field without an authserv-id, below Microsoft's, and one in a gateway's name.
FORGED = (
    "spf=pass smtp.mailfrom=dostawca.pl; dkim=pass header.d=dostawca.pl; dmarc=pass header.from=dostawca.pl"
)
GATEWAY_FORGED = "mx.brama.example; dmarc=pass header.from=dostawca.pl"
HEADERS = r"/users/[^/]+/messages/[^/]+$"  # GET of one message: its internetMessageHeaders


def exchange_stamped(*fields: str, subject: str, sender: str = m.WHITELISTED, pdf: bool = True) -> bytes:
    """A message as it lands in Exchange Online: ARC and Authentication-Results fields on top."""
    head = f"ARC-Authentication-Results: {ARC}\n"
    head += "".join(f"Authentication-Results: {value}\n" for value in fields)
    body = m.with_pdf(subject=subject, sender=sender) if pdf else m.as_bytes(m.message(subject=subject))
    return head.encode() + body


def deliver_all(emulator) -> None:
    for subject, fields in {
        "potwierdzony": (EXCHANGE_PASS,),
        "niepotwierdzony": (EXCHANGE_UNSIGNED,),
        "podrobiony": (GATEWAY_FORGED, EXCHANGE_FAIL, FORGED),
    }.items():
        emulator.add_raw_message(MAILBOX, "inbox", exchange_stamped(*fields, subject=subject))
    emulator.add_raw_message(
        MAILBOX, "inbox", exchange_stamped(EXCHANGE_PASS, subject="obcy", sender=m.STRANGER)
    )
    emulator.add_raw_message(MAILBOX, "inbox", exchange_stamped(EXCHANGE_PASS, subject="bez PDF", pdf=False))


def documents() -> list[Document]:
    return list(db.session.scalars(select(Document).order_by(Document.id)))


def inbox_subjects(emulator) -> set[str]:
    return {message["subject"] for message in emulator.messages(MAILBOX, "inbox")}


def test_require_takes_the_message_exchange_vouches_for_and_leaves_the_rest(graph_app, ms_emulator):
    server = make_graph_server()
    server.sender_policy = "require"  # no authserv-id: Microsoft 365 needs none
    db.session.commit()
    deliver_all(ms_emulator)

    result = run_check(server.id, trigger="cli")

    assert [(d.subject, d.sender_verdict) for d in documents()] == [("potwierdzony", "confirmed")]
    assert result.counts.skipped_unverified == 2
    assert inbox_subjects(ms_emulator) == {"niepotwierdzony", "podrobiony", "obcy", "bez PDF"}
    reasons = {
        d.subject: d.reason
        for d in db.session.scalars(select(Decision).where(Decision.decision == "skipped"))
    }
    assert reasons == {
        "niepotwierdzony": "sender unconfirmed",
        "podrobiony": "sender failed",
        "obcy": "sender not on the list",
        "bez PDF": "no attachment",
    }
    # internetMessageHeaders only for whitelisted messages with a PDF, never for the others.
    assert ms_emulator.count("GET", HEADERS) == 3


def test_mark_keeps_microsofts_evidence_on_each_document(graph_app, ms_emulator):
    server = make_graph_server()
    deliver_all(ms_emulator)

    run_check(server.id, trigger="cli")

    found = {d.subject: SenderCheck.from_json(d.sender_evidence) for d in documents()}
    assert {subject: str(check.verdict) for subject, check in found.items()} == {
        "potwierdzony": "confirmed",
        "niepotwierdzony": "unconfirmed",
        "podrobiony": "failed",
    }
    genuine = found["potwierdzony"]
    assert genuine.microsoft and genuine.authserv_id is None
    assert (genuine.compauth.result, genuine.compauth.reason) == ("pass", "100")
    assert found["podrobiony"].dmarc.result == "fail"


def forged_one_allowed_anyway(emulator) -> tuple[MailServer, User, Decision]:
    """Under "Wymagaj" the check keeps "podrobiony" out; an administrator then allows it anyway."""
    server = make_graph_server()
    server.sender_policy = "require"
    db.session.commit()
    deliver_all(emulator)
    admin = make_user("admin-graph", admin=True)
    run_check(server.id, trigger="cli")
    decision = db.session.scalars(select(Decision).filter_by(subject="podrobiony")).one()
    sender_exceptions.allow(decision, admin.id)
    db.session.commit()
    return server, admin, decision


def test_a_message_allowed_anyway_is_fetched_again_by_its_id_and_taken(graph_app, ms_emulator):
    server, admin, _decision = forged_one_allowed_anyway(ms_emulator)

    result = run_check(server.id, trigger="cli")

    assert result.counts.taken == 1
    allowed = [d for d in documents() if d.subject == "podrobiony"]
    assert [(d.allowed_by_id, d.sender_verdict) for d in allowed] == [(admin.id, "failed")]
    assert "podrobiony" not in inbox_subjects(ms_emulator)
    assert run_check(server.id, trigger="cli").counts.taken == 0


def test_a_message_allowed_anyway_graph_fails_to_read_is_asked_for_again_by_the_next_check(
    graph_app, ms_emulator
):
    server, admin, decision = forged_one_allowed_anyway(ms_emulator)
    ms_emulator.fail_next(rf"/messages/{re.escape(decision.message_ref)}$", 500, method="GET")

    refused = run_check(server.id, trigger="cli")

    assert (refused.outcome, refused.counts.taken) == ("partial", 0)
    assert [warning.code for warning in refused.warnings] == [Text.NOT_READ_AGAIN]
    exception = db.session.scalars(select(SenderException)).one()
    assert (exception.used_at, exception.gone) == (None, False)

    assert run_check(server.id, trigger="cli").counts.taken == 1
    assert [d.allowed_by_id for d in documents() if d.subject == "podrobiony"] == [admin.id]
