"""Test data for the documents list and the check history: documents with real stored PDFs, checks."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from ekpanel.checks.models import TRIGGER_SCHEDULE, Check, Decision
from ekpanel.documents.models import Document
from ekpanel.documents.storage import store_pdf
from ekpanel.extensions import db
from ekpanel.mail.texts import Note
from ekpanel.mail.vocabulary import Outcome
from ekpanel.timeutil import utcnow

_counter = itertools.count(1)


def pdf_bytes(text: str = "faktura") -> bytes:
    """A small, valid one-page PDF (Chromium's viewer opens it)."""
    stream = f"BT /F1 18 Tf 40 100 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_document(
    company, *, server=None, data: bytes | None = None, commit: bool = True, **fields
) -> Document:
    n = next(_counter)
    data = data if data is not None else pdf_bytes(f"faktura {n}")
    values = {
        "sender": f"nadawca{n}@dostawca.example",
        "subject": f"Faktura {n}",
        "received_at": utcnow() - timedelta(minutes=n),
        "filename": f"faktura-{n}.pdf",
        "source_folder": "INBOX",
        "server_label": server.label if server is not None else "poczta@firma.example",
        "message_key": f"key-{n}",
    }
    values.update(fields)
    document = Document(
        company_id=company.id,
        server_id=server.id if server is not None else None,
        size=len(data),
        sha256=store_pdf(data),
        **values,
    )
    db.session.add(document)
    if commit:
        db.session.commit()
    return document


def make_check(
    server,
    *,
    started_at: datetime | None = None,
    outcome: str = Outcome.OK,
    error: Note | None = None,
    warnings: tuple[Note, ...] = (),
    **fields,
) -> Check:
    """A finished check; ``error`` and ``warnings`` are stored as the check stores them, as notes."""
    started_at = started_at or utcnow()
    if error is not None:
        fields["error_note"] = error.to_json()
    if warnings:
        fields["warning_notes"] = [warning.to_json() for warning in warnings]
    check = Check(
        server_id=server.id,
        trigger=fields.pop("trigger", TRIGGER_SCHEDULE),
        started_at=started_at,
        finished_at=fields.pop("finished_at", started_at + timedelta(seconds=5)),
        outcome=outcome,
        **fields,
    )
    db.session.add(check)
    db.session.commit()
    return check


def make_decision(check, *, decision: str, reason: str | None = None, **fields) -> Decision:
    n = next(_counter)
    values = {
        "folder": "INBOX",
        "message_ref": str(n),
        "message_key": f"msg-{n}",
        "sender": f"nadawca{n}@example.test",
        "subject": f"Wiadomość {n}",
    }
    values.update(fields)
    row = Decision(check_id=check.id, server_id=check.server_id, decision=decision, reason=reason, **values)
    db.session.add(row)
    db.session.commit()
    return row
