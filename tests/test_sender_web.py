"""Sender verification in the panel: the server's settings, the proposal, the log's "Pobierz mimo to",
and the verdict on the documents list and page."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ekpanel.audit.models import AuditEntry
from ekpanel.checks.models import SenderException
from ekpanel.extensions import db
from ekpanel.mail.authres import sender_verdict
from ekpanel.servers.models import MailServer
from tests.factories import (
    PASSWORD,
    make_check,
    make_company,
    make_decision,
    make_document,
    make_imap_server,
    make_user,
)
from tests.support import messages as m
from tests.support.server_forms import GRAPH_FORM, IMAP_FORM

OURS = "mx.biuro.test"
PASS = f"{OURS}; dkim=pass header.d=dostawca.pl; dmarc=pass header.from=dostawca.pl"
FAIL = f"{OURS}; dkim=none; spf=fail smtp.mailfrom=obcy.example; dmarc=fail header.from=dostawca.pl"


def new_url(company):
    return f"/settings/email/companies/{company.id}/servers/new"


def only_server() -> MailServer:
    return db.session.scalars(db.select(MailServer)).one()


def imap_server_at(port: int, *, encryption="ssl", username="u@example.test", password="x") -> int:
    server = make_imap_server(
        None,
        host="127.0.0.1",
        port=port,
        encryption=encryption,
        username=username,
        secret=password,
        whitelist=["*@dostawca.pl"],
        folders=["INBOX"],
    )
    return server.id


@pytest.fixture
def admin_client(client, auth):
    make_user("szef", admin=True)
    auth.login("szef")
    return client


@pytest.fixture
def company(app):
    return make_company("Alfa")


# --- the server's settings ----------------------------------------------------------------------


def test_new_servers_mark_by_default_and_the_authserv_id_is_kept_normalised(admin_client, company):
    admin_client.post(new_url(company), data={**IMAP_FORM, "authserv_id": " MX.Biuro.Test. "})

    server = only_server()
    assert (server.sender_policy, server.authserv_id) == ("mark", OURS)


def test_require_on_imap_needs_an_authserv_id(admin_client, company):
    response = admin_client.post(new_url(company), data={**IMAP_FORM, "sender_policy": "require"})

    assert response.status_code == 200
    assert "Aby wymagać potwierdzonego nadawcy, podaj identyfikator" in response.get_data(as_text=True)
    assert db.session.scalars(select(MailServer)).all() == []

    admin_client.post(new_url(company), data={**IMAP_FORM, "sender_policy": "require", "authserv_id": OURS})
    server = only_server()
    assert (server.sender_policy, server.authserv_id) == ("require", OURS)

    unchanged_but_the_policy = {**IMAP_FORM, "password": "", "authserv_id": OURS, "sender_policy": "mark"}
    admin_client.post(f"/settings/email/servers/{server.id}/edit", data=unchanged_but_the_policy)
    changed = db.session.scalars(select(AuditEntry).filter_by(action="server.changed")).one()
    assert json.loads(changed.details) == {"sender_policy": {"old": "require", "new": "mark"}}
    log = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "Weryfikacja nadawcy" in log and "Wymagaj → Oznaczaj" in log


def test_an_authserv_id_is_one_word(admin_client, company):
    response = admin_client.post(
        new_url(company), data={**IMAP_FORM, "authserv_id": "mx.biuro.test; dkim=pass"}
    )

    assert "Identyfikator to jedna nazwa" in response.get_data(as_text=True)
    assert db.session.scalars(select(MailServer)).all() == []


def test_microsoft_365_requires_without_an_authserv_id(admin_client, company):
    admin_client.post(new_url(company), data={**GRAPH_FORM, "sender_policy": "require", "authserv_id": OURS})

    server = only_server()
    assert (server.sender_policy, server.authserv_id) == ("require", None)


def test_the_dialog_offers_the_policy_and_for_imap_the_authserv_id(admin_client, company):
    admin_client.post(new_url(company), data=IMAP_FORM)
    page = admin_client.get(f"/settings/email/servers/{only_server().id}/edit").get_data(as_text=True)

    assert "Weryfikacja nadawcy" in page and 'value="require"' in page
    assert "Identyfikator serwera uwierzytelniającego (authserv-id)" in page
    assert "Odczytaj z ostatnich wiadomości" in page


def test_the_server_row_says_when_nothing_can_be_confirmed(admin_client, company):
    admin_client.post(new_url(company), data=IMAP_FORM)
    server = only_server()
    page = admin_client.get(f"/settings/email/servers/{server.id}/edit").get_data(as_text=True)
    assert 'data-warning="no_authserv_id"' in page  # "Oznaczaj" without an authserv-id confirms no one

    make_check(server, senders_judged=3, senders_without_authres=3)
    page = admin_client.get(f"/settings/email/servers/{server.id}/edit").get_data(as_text=True)
    assert 'data-warning="no_authres"' in page
    assert "Serwer nie dodaje nagłówków Authentication-Results" in page

    make_check(server, senders_judged=2, senders_without_authres=1)
    server.authserv_id = OURS
    db.session.commit()
    page = admin_client.get(f"/settings/email/servers/{server.id}/edit").get_data(as_text=True)
    assert 'data-warning="no_authres"' not in page and 'data-warning="no_authserv_id"' not in page


def test_off_warns_about_nothing(admin_client, company):
    admin_client.post(new_url(company), data={**IMAP_FORM, "sender_policy": "off"})
    server = only_server()
    make_check(server, senders_judged=0)
    page = admin_client.get(f"/settings/email/servers/{server.id}/edit").get_data(as_text=True)
    assert "no_authres" not in page and "no_authserv_id" not in page


# --- the proposal, from a real Dovecot ------------------------------------------------------------


@pytest.fixture
def dovecot_admin(sqlite_app, dovecot):
    sqlite_app.config["CA_BUNDLE"] = str(dovecot.ca_path)
    client = sqlite_app.test_client()
    make_user("szef", admin=True)
    client.post("/login", data={"login": "szef", "password": PASSWORD})
    return client


def propose(client, server_id: int) -> str:
    response = client.get(f"/settings/email/servers/{server_id}/authserv-id", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_dialog_proposes_the_authserv_id_on_top_of_most_new_messages(dovecot_admin, mail_user):
    for _ in range(3):
        mail_user.append("INBOX", f"Authentication-Results: {PASS}\n".encode() + m.with_pdf())
    # Forwarded from Gmail: a foreign field on top, once.
    mail_user.append("INBOX", b"Authentication-Results: mx.google.com; dkim=pass\n" + m.with_pdf())
    server_id = imap_server_at(
        mail_user.server.imaps_port, username=mail_user.login, password=mail_user.password
    )

    html = propose(dovecot_admin, server_id)

    assert f'data-proposed="{OURS}"' in html and f'value="{OURS}"' in html
    assert "Na górze 3 z 4 ostatnich wiadomości" in html
    assert db.session.get(MailServer, server_id).authserv_id is None  # proposed, not saved
    assert all("\\Seen" not in message["flags"] for message in mail_user.list("INBOX"))


def test_the_dialog_says_when_the_server_adds_no_authentication_results(dovecot_admin, dovecot):
    from tests.support.mail_users import new_box

    box = new_box(dovecot)
    box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.as_bytes(m.message()))
    server_id = imap_server_at(dovecot.imaps_port, username=box.user.login, password=box.user.password)

    html = propose(dovecot_admin, server_id)

    assert "data-no-authres" in html and "Żadna z 2 ostatnich wiadomości" in html


def test_the_proposal_reports_a_wrong_password_as_a_message(dovecot_admin, mail_user):
    server_id = imap_server_at(mail_user.server.imaps_port, username=mail_user.login, password="zle-haslo")

    html = propose(dovecot_admin, server_id)

    assert "flash-error" in html and "odrzucił nazwę użytkownika lub hasło" in html


# --- "Pobierz mimo to" in the check log -----------------------------------------------------------


@pytest.fixture
def held_back(company):
    server = MailServer(company_id=company.id, protocol="imap", host="imap.alfa.example", username="faktury")
    db.session.add(server)
    db.session.commit()
    check = make_check(server)
    decision = make_decision(check, decision="skipped", reason="sender failed", subject="Faktura podrobiona")
    other = make_decision(check, decision="skipped", reason="no PDF")
    return server, check, decision, other


def test_an_administrator_takes_a_held_back_message_anyway_once(admin_client, held_back):
    server, check, decision, other = held_back
    page = admin_client.get(f"/checks/{check.id}").get_data(as_text=True)
    assert "Pobierz mimo to" in page and "nadawca niezgodny" in page
    assert f"/decisions/{other.id}/allow" not in page

    response = admin_client.post(
        f"/servers/{server.id}/decisions/{decision.id}/allow", data={"next": f"/checks/{check.id}"}
    )

    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/checks/{check.id}#decision-{decision.id}"
    )
    [exception] = db.session.scalars(select(SenderException))
    assert (exception.message_key, exception.message_ref, exception.used_at) == (
        decision.message_key,
        decision.message_ref,
        None,
    )
    page = admin_client.get(f"/checks/{check.id}").get_data(as_text=True)
    assert 'data-allowance="pending"' in page and "Pobierz mimo to" not in page
    history = admin_client.get(f"/servers/{server.id}/checks").get_data(as_text=True)
    assert "Zatrzymane przez weryfikację nadawcy" in history and "Faktura podrobiona" in history

    [entry] = db.session.scalars(select(AuditEntry).filter_by(action="message.allowed_anyway"))
    assert (entry.actor_login, entry.target_id) == ("szef", server.id)
    assert json.loads(entry.details) == {
        "folder": "INBOX",
        "sender": decision.sender,
        "subject": "Faktura podrobiona",
        "verification": "sender failed",
    }

    admin_client.post(f"/servers/{server.id}/decisions/{decision.id}/allow")
    assert len(db.session.scalars(select(SenderException)).all()) == 1
    assert len(db.session.scalars(select(AuditEntry).filter_by(action="message.allowed_anyway")).all()) == 1
    assert admin_client.post(f"/servers/{server.id}/decisions/{other.id}/allow").status_code == 404


def test_an_operator_sees_the_log_but_cannot_take_anyway(client, auth, held_back, company):
    server, check, decision, _other = held_back
    make_user("ewa", companies=[company], can_refresh=True)
    auth.login("ewa")

    page = client.get(f"/checks/{check.id}").get_data(as_text=True)

    assert "nadawca niezgodny" in page and "Pobierz mimo to" not in page
    assert client.post(f"/servers/{server.id}/decisions/{decision.id}/allow").status_code == 403
    assert db.session.scalars(select(SenderException)).all() == []


def test_the_redirect_after_allowing_stays_in_the_panel(admin_client, held_back):
    server, check, decision, _other = held_back
    response = admin_client.post(
        f"/servers/{server.id}/decisions/{decision.id}/allow", data={"next": "//evil.example/"}
    )
    assert response.headers["Location"].endswith(f"/checks/{check.id}#decision-{decision.id}")


# --- the documents list and page ------------------------------------------------------------------


def evidence(*fields: str):
    return sender_verdict(list(fields), "dostawca.pl", OURS, microsoft=False)


@pytest.fixture
def verified_documents(company):
    confirmed = evidence(PASS)
    failed = evidence(FAIL)
    unconfirmed = evidence()
    return {
        "confirmed": make_document(
            company, subject="Prawdziwa", sender_verdict="confirmed", sender_evidence=confirmed.to_json()
        ),
        "failed": make_document(
            company, subject="Podrobiona", sender_verdict="failed", sender_evidence=failed.to_json()
        ),
        "unconfirmed": make_document(
            company,
            subject="Bez podpisu",
            sender_verdict="unconfirmed",
            sender_evidence=unconfirmed.to_json(),
        ),
        "none": make_document(company, subject="Sprzed weryfikacji"),
    }


def rows(html: str) -> dict[str, str]:
    """document id -> its row's HTML."""
    import re

    return dict(re.findall(r'<tr data-document-id="(\d+)"(.*?)</tr>', html, re.S))


def test_the_list_shows_each_verdict_as_a_badge_and_a_failed_sender_cannot_be_missed(
    admin_client, company, verified_documents
):
    html = admin_client.get(f"/companies/{company.id}/documents").get_data(as_text=True)

    found = rows(html)
    for verdict, document in verified_documents.items():
        row = found[str(document.id)]
        assert (f'data-verdict="{verdict}"' in row) == (verdict != "none"), verdict
    assert "sender-failed" in found[str(verified_documents["failed"].id)]
    assert 'data-failed-senders="1"' in html and "Nowe dokumenty od niezgodnego nadawcy: 1." in html


@pytest.mark.parametrize("verdict", ["confirmed", "unconfirmed", "failed", "none"])
def test_the_list_filters_by_verdict(admin_client, company, verified_documents, verdict):
    html = admin_client.get(f"/companies/{company.id}/documents?verdict={verdict}").get_data(as_text=True)

    assert set(rows(html)) == {str(verified_documents[verdict].id)}


def test_the_document_page_shows_the_evidence(admin_client, verified_documents):
    html = admin_client.get(f"/documents/{verified_documents['failed'].id}").get_data(as_text=True)
    assert "Nadawca niezgodny." in html and "domeny dostawca.pl" in html
    assert f"<code>{OURS}</code>" in html
    assert "DMARC fail dla domeny dostawca.pl" in html
    assert "smtp.mailfrom" not in html and "<code>obcy.example</code>" in html

    html = admin_client.get(f"/documents/{verified_documents['confirmed'].id}").get_data(as_text=True)
    assert "Nadawca niezgodny." not in html
    assert "d=<code>dostawca.pl</code>" in html and "zgodna z nadawcą" in html

    html = admin_client.get(f"/documents/{verified_documents['none'].id}").get_data(as_text=True)
    assert "weryfikacja nadawcy była wyłączona" in html


def test_a_document_taken_anyway_names_who_allowed_it(admin_client, company):
    allowing = make_user("kierownik", admin=True)
    document = make_document(
        company,
        sender_verdict="failed",
        sender_evidence=evidence(FAIL).to_json(),
        allowed_by_id=allowing.id,
    )
    html = admin_client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "zezwolił(a): kierownik" in html
    listed = rows(admin_client.get(f"/companies/{company.id}/documents").get_data(as_text=True))
    assert f'data-allowed="{allowing.id}"' in listed[str(document.id)]
