"""The shared corpus of real-world messages, through Dovecot and the whole check.

INDEX.tsv says how many documents each message must yield (``pdf_declared_and_magic``). Every
message is appended to one mailbox and checked with a ``*`` whitelist, so only the MIME rules
decide. A few corpus messages have no From header at all; they get one, because the sender rule
is not what they are here to test.
"""

from __future__ import annotations

import csv

from sqlalchemy import func, select

from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.headers import header_fields
from tests.factories import make_dovecot_server
from tests.support.mail_users import new_box


def corpus_messages(corpus_dir):
    with (corpus_dir / "INDEX.tsv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            yield row["file"], (corpus_dir / row["file"]).read_bytes(), int(row["pdf_declared_and_magic"])


def with_sender(raw: bytes) -> bytes:
    if header_fields(raw).get("from"):
        return raw
    return b"From: korpus@example.test\r\n" + raw


def test_every_corpus_message_yields_exactly_its_pdf_documents(sqlite_app, dovecot, corpus_dir):
    expected, found, stayed = {}, {}, {}

    for name, raw, documents in corpus_messages(corpus_dir):
        expected[name] = documents
        # A mailbox and company of its own: some corpus files are copies of others (same
        # Message-ID, same PDF), which within one company are rightly one document.
        box = new_box(dovecot)
        server = make_dovecot_server(box, whitelist=["*@*"], folders=["INBOX"])
        before = db.session.scalar(select(func.count()).select_from(Document))
        uid = box.user.append("INBOX", with_sender(raw))
        result = run_check(server.id, trigger="cli")
        assert (result.counts.examined, result.counts.errors, result.outcome) == (1, 0, "ok"), (name, result)
        found[name] = db.session.scalar(select(func.count()).select_from(Document)) - before
        stayed[name] = any(message["uid"] == uid for message in box.user.list("INBOX"))

    assert len(expected) == 41
    assert found == expected
    # Taken messages left the inbox; every other one is still there.
    assert stayed == {name: documents == 0 for name, documents in expected.items()}
