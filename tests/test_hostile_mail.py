"""Hostile or broken mail against a real Dovecot: bounded work per message, and the mailbox goes on."""

from __future__ import annotations

from sqlalchemy import func, select

from ekpanel.checks.models import Decision
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.texts import Text
from tests.factories import make_dovecot_server
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
