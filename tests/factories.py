"""Test data, built through the same operations the panel uses: companies, users, mail servers,
documents, checks, their decisions and the messages they held back. Every test module takes its
data from here.

Every server factory makes a server a check would take mail from (the supplier on its list, the
folders the dialog proposes); a test about another case says so (``whitelist=()``).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from flask import current_app

from ekpanel.accounts.operations import create_user
from ekpanel.checks.models import TRIGGER_SCHEDULE, Check, Decision, HeldMessage
from ekpanel.companies.operations import save_company
from ekpanel.documents.models import EXTRACTION_PENDING, Document
from ekpanel.documents.storage import store_pdf
from ekpanel.extensions import db
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.vocabulary import Outcome
from ekpanel.servers.models import ENCRYPTION_NONE, ENCRYPTION_SSL, PROTOCOL_GRAPH, PROTOCOL_IMAP, MailServer
from ekpanel.servers.operations import ServerValues, save_server
from ekpanel.timeutil import utcnow
from tests.support.mail_users import Box, MailUser
from tests.support.messages import WHITELISTED
from tests.support.ms_account import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT_ID

_counter = itertools.count(1)

PASSWORD = "haslo-testowe-1"
FOLDERS = ("INBOX", "spam")


# -- people and companies ----------------------------------------------------------------------


def make_user(login: str | None = None, *, admin: bool = False, companies=(), **fields):
    user = create_user(login or f"operator{next(_counter)}", PASSWORD, is_admin=admin, **fields)
    user.companies = list(companies)
    db.session.commit()
    return user


def make_company(name: str | None = None, **fields):
    company = save_company(
        None, name=name or f"Firma {next(_counter)} sp. z o.o.", nip=fields.pop("nip", None)
    )
    for key, value in fields.items():
        setattr(company, key, value)
    db.session.commit()
    return company


# -- mail servers ------------------------------------------------------------------------------


def make_imap_server(
    company=None,
    *,
    host: str = "imap.biuro.pl",
    port: int = 993,
    encryption: str = ENCRYPTION_SSL,
    username: str = "faktury@biuro.pl",
    secret: str = "tajne-haslo",
    whitelist=(WHITELISTED,),
    folders=FOLDERS,
    **values,
) -> MailServer:
    """An IMAP server of ``company`` (a new one by default), saved as the server dialog saves it;
    ``secret`` is its password."""
    server_values = ServerValues(
        protocol=PROTOCOL_IMAP,
        host=host,
        port=port,
        encryption=encryption,
        username=username,
        secret=secret,
        whitelist=list(whitelist),
        folders=list(folders),
        **values,
    )
    server = save_server(None, company or make_company(), server_values)
    db.session.commit()
    return server


def make_dovecot_server(
    mailbox: Box | MailUser, company=None, *, password: str | None = None, **values
) -> MailServer:
    """An IMAP server on a user of a test Dovecot: a ``Box`` says the encryption, a bare ``MailUser``
    is reached on the plain port. The app trusts that Dovecot's test CA, as an office would add its
    mail server's own CA. ``password`` overrides the user's real one."""
    box = mailbox if isinstance(mailbox, Box) else Box(mailbox, ENCRYPTION_NONE)
    current_app.config["CA_BUNDLE"] = str(box.server.ca_path)
    return make_imap_server(
        company,
        host="127.0.0.1",
        port=box.port,
        encryption=box.encryption,
        username=box.user.login,
        secret=password if password is not None else box.user.password,
        **values,
    )


def make_graph_server(
    company=None,
    *,
    tenant: str = TENANT_ID,
    client_id: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
    mailbox: str = MAILBOX,
    name: str = "Outlook biura",
    whitelist=(WHITELISTED,),
    folders=FOLDERS,
    **values,
) -> MailServer:
    """An "API Outlook 365" server of ``company`` (a new one by default); by default the application
    and mailbox the ``ms_emulator`` fixture knows."""
    server_values = ServerValues(
        protocol=PROTOCOL_GRAPH,
        name=name,
        client_id=client_id,
        tenant=tenant,
        mailbox_address=mailbox,
        secret=secret,
        whitelist=list(whitelist),
        folders=list(folders),
        **values,
    )
    server = save_server(None, company or make_company(), server_values)
    db.session.commit()
    return server


# -- documents, checks, decisions --------------------------------------------------------------


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
    """A document of ``company`` with its PDF really stored."""
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
    if values.get("extraction_status", EXTRACTION_PENDING) != EXTRACTION_PENDING:
        values.setdefault("first_read_at", values.get("created_at") or utcnow())  # read as it came
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


def make_held_message(server, **fields) -> HeldMessage:
    """A message the check gave up on after three tries: it waits for an administrator."""
    values = {
        "folder": "INBOX",
        "folder_display": "INBOX",
        "message_ref": "77",
        "sender": "faktury@dostawca.pl",
        "subject": "Faktura z 10 000 części",
        "attempts": 3,
        "state": "needs_person",
        "error_note": note(Text.IMAP_RESPONSE_TOO_LONG, limit="16 MB").to_json(),
    }
    row = HeldMessage(server_id=server.id, **(values | fields))
    db.session.add(row)
    db.session.commit()
    return row
