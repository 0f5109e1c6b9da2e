"""Dziennik zmian: an entry for every action that matters for fraud and access, who did it, when and
from which address; never a secret; append-only; kept for EKPANEL_AUDIT_DAYS."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from ekpanel import audit
from ekpanel.audit import Action, AuditEntry
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from ekpanel.timeutil import utcnow
from tests.factories import PASSWORD, make_company, make_user
from tests.support.server_forms import CLIENT_SECRET, GRAPH_FORM, IMAP_FORM
from tests.support.server_forms import PASSWORD as MAIL_PASSWORD

ADMIN_ADDRESS = "203.0.113.5"


def entries(action: Action | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def details(entry: AuditEntry) -> dict:
    return json.loads(entry.details)


def everything_logged() -> str:
    return " ".join(f"{e.target_label} {e.details}" for e in entries())


@pytest.fixture
def admin_client(app):
    """An administrator's browser at ADMIN_ADDRESS."""
    make_user("szef", admin=True)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADMIN_ADDRESS
    assert client.post("/login", data={"login": "szef", "password": PASSWORD}).status_code == 302
    return client


# --- logins ---------------------------------------------------------------------------------------


def test_logins_are_recorded_with_who_and_from_where(app, client):
    anna = make_user("anna")
    make_user("ewa", active=False)
    attempts = [("anna", "zle-haslo"), ("nikt", "cokolwiek"), ("ewa", PASSWORD), ("Anna", PASSWORD)]
    for login, password in attempts:
        client.post(
            "/login", data={"login": login, "password": password}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
        )

    failed = entries(Action.LOGIN_FAILED)
    assert [(e.target_label, details(e)["reason"]) for e in failed] == [
        ("anna", "wrong_password"),
        ("nikt", "unknown_login"),
        ("ewa", "inactive"),
    ]
    assert all(e.address == "192.0.2.7" and e.user_id is None for e in failed)
    [succeeded] = entries(Action.LOGIN_SUCCEEDED)
    assert (succeeded.user_id, succeeded.actor_login, succeeded.address) == (anna.id, "anna", "192.0.2.7")
    assert "zle-haslo" not in everything_logged() and PASSWORD not in everything_logged()


# --- users and rights -------------------------------------------------------------------------------


def test_a_new_user_is_recorded_with_role_rights_and_companies(admin_client):
    alfa_id = make_company("Alfa").id
    admin_client.post(
        "/admin/users/new",
        data={
            "login": "ewa",
            "password": "dlugie-haslo-9",
            "can_refresh": "y",
            "active": "y",
            "language": "pl",
            "companies": [str(alfa_id)],
        },
    )

    [entry] = [e for e in entries(Action.USER_CREATED) if e.target_label == "ewa"]
    assert (entry.actor_login, entry.address, entry.target_label) == ("szef", ADMIN_ADDRESS, "ewa")
    assert details(entry) == {
        "login": "ewa",
        "is_admin": False,
        "can_refresh": True,
        "active": True,
        "language": "pl",
        "companies": ["Alfa"],
    }
    assert "dlugie-haslo-9" not in everything_logged()


def test_a_change_of_rights_is_recorded_as_what_changed(admin_client):
    alfa, beta = make_company("Alfa"), make_company("Beta")
    ewa = make_user("ewa", companies=[alfa])

    admin_client.post(
        f"/admin/users/{ewa.id}",
        data={
            "login": "ewa",
            "password": "zupelnie-nowe-1",
            "can_refresh": "y",
            "active": "y",
            "language": "pl",
            "companies": [str(beta.id)],
        },
    )

    [entry] = entries(Action.USER_CHANGED)
    assert details(entry) == {
        "can_refresh": {"old": False, "new": True},
        "companies": {"added": ["Beta"], "removed": ["Alfa"]},
        "password": "changed",
    }
    assert "zupelnie-nowe-1" not in everything_logged()


def test_an_unchanged_user_form_records_nothing(admin_client):
    ewa = make_user("ewa")
    admin_client.post(f"/admin/users/{ewa.id}", data={"login": "ewa", "active": "y", "language": "pl"})
    assert entries(Action.USER_CHANGED) == []


def test_own_password_change_and_log_out_everywhere_are_recorded(app, admin_client):
    ewa = make_user("ewa")
    client = app.test_client()
    client.post("/login", data={"login": "ewa", "password": PASSWORD})
    client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "nowe-haslo-22",
            "confirm_password": "nowe-haslo-22",
        },
    )
    client.post("/account/sessions/end")
    admin_client.post(f"/admin/users/{ewa.id}/sessions/end")

    [changed] = entries(Action.PASSWORD_CHANGED)
    assert (changed.actor_login, changed.target_label) == ("ewa", "ewa")
    ended = entries(Action.SESSIONS_ENDED)
    assert [(e.actor_login, e.target_label) for e in ended] == [("ewa", "ewa"), ("szef", "ewa")]
    assert "nowe-haslo-22" not in everything_logged()


def test_companies_are_recorded(admin_client):
    admin_client.post("/settings/email/companies/new", data={"name": "Alfa", "active": "y"})
    company_id = entries(Action.COMPANY_CREATED)[0].target_id
    admin_client.post(f"/settings/email/companies/{company_id}/edit", data={"name": "Alfa S.A."})

    [changed] = entries(Action.COMPANY_CHANGED)
    assert details(changed) == {
        "name": {"old": "Alfa", "new": "Alfa S.A."},
        "active": {"old": True, "new": False},
    }


# --- servers ------------------------------------------------------------------------------------------


@pytest.fixture
def company(app):
    return make_company("Alfa")


def test_a_new_server_is_recorded_with_its_whitelist_and_never_its_password(admin_client, company):
    admin_client.post(f"/settings/email/companies/{company.id}/servers/new", data=IMAP_FORM)

    [entry] = entries(Action.SERVER_CREATED)
    assert entry.target_label == "faktury@biuro.pl (imap.biuro.pl) · Alfa"
    assert details(entry)["whitelist"] == ["faktury@dostawca.pl", "*@helpoffice.pl"]
    assert details(entry)["folders"] == ["INBOX", "spam"]
    assert details(entry)["host"] == "imap.biuro.pl"
    assert MAIL_PASSWORD not in everything_logged()


def test_a_server_edit_records_which_senders_and_folders_came_and_went(admin_client, company):
    admin_client.post(f"/settings/email/companies/{company.id}/servers/new", data=GRAPH_FORM)
    server = db.session.scalars(select(MailServer)).one()
    edited = GRAPH_FORM | {
        "client_secret": "Nowy~klucz-sekretny-0123456789abcdefghij",
        "whitelist": "*@dostawca.pl, oszust@podstawiony.example",
        "folders": "INBOX\nFaktury",
    }

    admin_client.post(f"/settings/email/servers/{server.id}/edit", data=edited)

    [entry] = entries(Action.SERVER_CHANGED)
    assert details(entry) == {
        "whitelist": {"added": ["oszust@podstawiony.example"], "removed": []},
        "folders": {"added": ["Faktury"], "removed": []},
        "secret": "changed",
    }
    assert CLIENT_SECRET not in everything_logged()
    assert "Nowy~klucz" not in everything_logged()


def test_a_server_saved_unchanged_records_nothing(admin_client, company):
    admin_client.post(f"/settings/email/companies/{company.id}/servers/new", data=IMAP_FORM)
    server = db.session.scalars(select(MailServer)).one()
    admin_client.post(f"/settings/email/servers/{server.id}/edit", data=IMAP_FORM | {"password": ""})
    assert entries(Action.SERVER_CHANGED) == []


def test_enabling_disabling_and_deleting_a_server_are_recorded(admin_client, company):
    admin_client.post(f"/settings/email/companies/{company.id}/servers/new", data=IMAP_FORM)
    server = db.session.scalars(select(MailServer)).one()
    label = "faktury@biuro.pl (imap.biuro.pl) · Alfa"

    admin_client.post(f"/settings/email/servers/{server.id}/active")
    admin_client.post(f"/settings/email/servers/{server.id}/active")
    admin_client.post(f"/settings/email/servers/{server.id}/delete")

    recorded = [(e.action, e.target_label) for e in entries() if e.action.startswith("server.")][1:]
    assert recorded == [
        ("server.disabled", label),
        ("server.enabled", label),
        ("server.deleted", label),
    ]
    assert details(entries(Action.SERVER_DELETED)[0])["whitelist"] == [
        "faktury@dostawca.pl",
        "*@helpoffice.pl",
    ]


def _consent_answer(admin_client, server, **answer):
    location = admin_client.post(f"/settings/email/servers/{server.id}/consent").headers["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    admin_client.get("/settings/email/consent/callback", query_string={"state": state, **answer})


def test_consent_answers_are_recorded(admin_client, company):
    admin_client.post(f"/settings/email/companies/{company.id}/servers/new", data=GRAPH_FORM)
    server = db.session.scalars(select(MailServer)).one()

    _consent_answer(admin_client, server, error="access_denied", error_description="The user declined")
    _consent_answer(admin_client, server, admin_consent="True")

    [refused] = entries(Action.CONSENT_REFUSED)
    assert details(refused) == {"error": "access_denied: The user declined"}
    [granted] = entries(Action.CONSENT_GRANTED)
    assert (granted.actor_login, granted.target_label) == ("szef", "Outlook biura · Alfa")


# --- the log itself ------------------------------------------------------------------------------------


def test_entries_cannot_be_changed_or_deleted_by_the_application(app):
    entry = audit.record(Action.USER_CREATED, target=audit.Target("user", None, "x"))
    db.session.commit()

    entry.target_label = "y"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEntry, entry.id).target_label == "x"


def test_an_entry_is_stored_only_with_the_change_it_describes(app):
    audit.record(Action.USER_CREATED, target=audit.Target("user", None, "x"))
    db.session.rollback()
    assert entries() == []


def test_entries_older_than_the_retention_are_pruned_by_the_clock(app):
    import schedule

    old = audit.record(Action.USER_CREATED, target=audit.Target("user", None, "stary"))
    old.created_at = utcnow() - timedelta(days=731)
    kept = audit.record(Action.USER_CREATED, target=audit.Target("user", None, "świeży"))
    kept.created_at = utcnow() - timedelta(days=729)
    db.session.commit()

    schedule.prune_audit_log(app)

    assert [e.target_label for e in entries()] == ["świeży"]


def test_the_log_page_finds_who_added_a_sender(admin_client, company):
    admin_client.post(f"/settings/email/companies/{company.id}/servers/new", data=IMAP_FORM)
    server = db.session.scalars(select(MailServer)).one()
    admin_client.post(
        f"/settings/email/servers/{server.id}/edit",
        data=IMAP_FORM | {"password": "", "whitelist": "faktury@dostawca.pl, oszust@podstawiony.example"},
    )

    html = admin_client.get("/admin/audit", query_string={"q": "podstawiony"}).get_data(as_text=True)

    assert re.findall(r'data-action="([\w.]+)"', html) == ["server.changed"]
    assert "Zmiana serwera" in html and ADMIN_ADDRESS in html and "szef" in html
    assert "dodano: oszust@podstawiony.example" in html
    assert "usunięto: *@helpoffice.pl" in html

    by_action = admin_client.get("/admin/audit", query_string={"action": "login.succeeded"}).get_data(
        as_text=True
    )
    assert set(re.findall(r'data-action="([\w.]+)"', by_action)) == {"login.succeeded"}


def test_the_log_pages_back_through_older_entries(admin_client, monkeypatch):
    from ekpanel.audit import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    for n in range(5):
        audit.record(Action.COMPANY_CREATED, target=audit.Target("company", n, f"Firma {n}"))
    db.session.commit()

    first = admin_client.get("/admin/audit", query_string={"action": "company.created"}).get_data(
        as_text=True
    )
    assert "Firma 4" in first and "Firma 2" in first and "Firma 1" not in first
    older = first.split('class="pager"><a href="')[1].split('"')[0].replace("&amp;", "&")
    second = admin_client.get(older).get_data(as_text=True)
    assert "Firma 1" in second and "Firma 0" in second and "Firma 2" not in second


def test_a_whitelist_in_another_order_is_no_change():
    assert audit.changes({"whitelist": ["a@x.pl", "b@x.pl"]}, {"whitelist": ["b@x.pl", "a@x.pl"]}) == {}
    assert audit.changes(
        {"port": 993, "folders": ["INBOX"]}, {"port": 143, "folders": ["INBOX", "Spam"]}
    ) == {
        "port": {"old": 993, "new": 143},
        "folders": {"added": ["Spam"], "removed": []},
    }
