"""Who reaches which route, kept true by construction.

Every route of ``app.url_map`` must have a row in ROUTES saying what each role gets, with its own
company's objects and with another company's: a new route without a row fails
``test_every_route_has_a_row``. Each row is then tried for every role, and every POST route is tried
without a CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from flask import url_for

from ekpanel import create_app
from ekpanel.accounts.models import User
from ekpanel.accounts.sessions import SESSION_ID
from ekpanel.alerts.models import AlertDelivery, AlertEvent
from ekpanel.checks.models import HeldMessage
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from tests.factories import (
    make_check,
    make_company,
    make_decision,
    make_document,
    make_graph_server,
    make_imap_server,
)
from tests.support.app_config import app_config, fresh_g_per_request

OK = "reached"  # any answer but a refusal: a page, a redirect inside the panel, a form's 400
LOGIN = "login"  # sent to the login page
ROLES = ("anonymous", "operator", "refresher", "admin")  # refresher: an operator with the refresh right


@dataclass(frozen=True)
class Row:
    """What each role gets: (with its own company's object, with another company's). A single value
    stands for both (a route with no company object in its URL, or a role that sees everything)."""

    operator: str | int | tuple
    refresher: str | int | tuple
    admin: str | int | tuple = OK
    anonymous: str | int = LOGIN

    def expected(self, role: str, foreign: bool):
        value = getattr(self, role)
        if isinstance(value, tuple):
            return value[1] if foreign else value[0]
        return value


ADMIN_ONLY = Row(operator=403, refresher=403)
EVERY_USER = Row(operator=OK, refresher=OK)
COMPANY_DOCUMENTS = Row(operator=(OK, 404), refresher=(OK, 404))
# The check history looks at the company first: 404 for another company's, 403 without the right.
CHECK_HISTORY = Row(operator=(403, 404), refresher=(OK, 404))
# Odśwież looks at the right first: 403 for any company, so it reveals none.
REFRESH = Row(operator=403, refresher=(OK, 404))

ROUTES = {
    "static": Row(operator=OK, refresher=OK, anonymous=OK),
    "accounts.login": Row(operator=OK, refresher=OK, anonymous=OK),
    "accounts.logout": EVERY_USER,
    "accounts.account": EVERY_USER,
    "accounts.change_password": EVERY_USER,
    "accounts.end_sessions": EVERY_USER,
    "accounts.set_language": EVERY_USER,
    "admin.users": ADMIN_ONLY,
    "admin.new_user": ADMIN_ONLY,
    "admin.edit_user": ADMIN_ONLY,
    "admin.end_user_sessions": ADMIN_ONLY,
    "admin.audit_log": ADMIN_ONLY,
    "documents.index": EVERY_USER,
    "documents.company_documents": COMPANY_DOCUMENTS,
    "documents.change_status": COMPANY_DOCUMENTS,
    "documents.show": COMPANY_DOCUMENTS,
    "documents.pdf": COMPANY_DOCUMENTS,
    "documents.export_list": COMPANY_DOCUMENTS,
    "documents.refresh": REFRESH,
    "documents.refresh_progress": REFRESH,
    "checks.company_history": CHECK_HISTORY,
    "checks.server_history": CHECK_HISTORY,
    "checks.show": CHECK_HISTORY,
    # Sending a message "do wyjaśnienia" for another try: the history's rules, then administrators only.
    "checks.retry_held": Row(operator=(403, 404), refresher=(403, 404)),
    # "Pobierz mimo to" past the sender verification: the same.
    "checks.allow_anyway": Row(operator=(403, 404), refresher=(403, 404)),
    "companies.index": ADMIN_ONLY,
    "companies.show": ADMIN_ONLY,
    "companies.new": ADMIN_ONLY,
    "companies.edit": ADMIN_ONLY,
    "servers.new": ADMIN_ONLY,
    "servers.edit": ADMIN_ONLY,
    "servers.protocol_fields": ADMIN_ONLY,
    "servers.toggle_active": ADMIN_ONLY,
    "servers.delete": ADMIN_ONLY,
    "servers.remote_folders": ADMIN_ONLY,
    "servers.propose_authserv_id": ADMIN_ONLY,
    "servers.add_folder": ADMIN_ONLY,
    "consent.start": ADMIN_ONLY,
    "consent.callback": ADMIN_ONLY,
    "alerts.preferences": EVERY_USER,
    "alerts.sent": ADMIN_ONLY,
    "alerts.send_test": ADMIN_ONLY,
    "alerts.test_result": ADMIN_ONLY,
}

# URL variables that name another company's object when a test asks for a foreign one.
COMPANY_OBJECTS = {"company_id", "server_id", "check_id", "document_id", "held_id", "decision_id"}


def _routes(app) -> list[tuple[str, str, set[str]]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, set(rule.arguments)))
    return sorted(found, key=lambda item: item[:2])


def _bare_app(tmp_path, **config):
    # In memory: hundreds of cases, each with a fresh database, and the rules are not the database's.
    app = create_app(app_config(tmp_path, "sqlite://", **config))
    fresh_g_per_request(app)
    return app


def _cases():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    for endpoint, method, arguments in _routes(app):
        variants = (False, True) if arguments & COMPANY_OBJECTS else (False,)
        for role in ROLES:
            for foreign in variants:
                suffix = "-other-company" if foreign else ""
                yield pytest.param(endpoint, method, role, foreign, id=f"{endpoint}-{method}-{role}{suffix}")


@dataclass
class World:
    """Two companies, each with a server (and Outlook one), a check and a document; three users."""

    values: dict  # URL variable -> (own value, other company's value)
    users: dict  # role -> User
    outlook_servers: tuple  # (own, other company's) Outlook server ids: only they ask for consent


def _build_world() -> World:
    companies = make_company("Własna"), make_company("Obca")
    servers, outlook, checks, documents, held, kept_out = [], [], [], [], [], []
    for company in companies:
        server = make_imap_server(company, host="127.0.0.1", username=f"faktury{company.id}@biuro.pl")
        server.port = 1  # a folder list must fail fast, on this machine: nothing listens there
        servers.append(server)
        outlook.append(make_graph_server(company, mailbox=f"faktury{company.id}@contoso.com"))
        checks.append(make_check(server))
        kept_out.append(make_decision(checks[-1], decision="skipped", reason="sender failed"))
        documents.append(make_document(company, server=server))
        held.append(
            HeldMessage(
                server_id=server.id,
                folder="INBOX",
                folder_display="INBOX",
                message_ref="7",
                state="needs_person",
            )
        )
    db.session.add_all(held)
    users = {
        "operator": User(login="operator", password_hash="!", companies=[companies[0]]),
        "refresher": User(login="refresher", password_hash="!", can_refresh=True, companies=[companies[0]]),
        "admin": User(login="admin", password_hash="!", is_admin=True),
    }
    db.session.add_all(users.values())
    test_message = AlertEvent(kind="test", topic="test", params={})
    delivery = AlertDelivery(
        event=test_message, address="admin@biuro.pl", subject="", body_text="", body_html="", message_id="<1>"
    )
    db.session.add(delivery)
    db.session.commit()

    def pair(objects):
        return objects[0].id, objects[1].id

    values = {
        "company_id": pair(companies),
        "server_id": pair(servers),
        "check_id": pair(checks),
        "document_id": pair(documents),
        "held_id": pair(held),
        "decision_id": pair(kept_out),
        "delivery_id": (delivery.id, delivery.id),
        "user_id": (users["operator"].id, users["operator"].id),
        "filename": ("style.css", "style.css"),
        "kind": ("csv", "xlsx"),  # the export's format
    }
    return World(values=values, users=users, outlook_servers=pair(outlook))


def _url(app, world: World, endpoint: str, arguments: set[str], foreign: bool) -> str:
    values = {name: world.values[name][1 if foreign else 0] for name in arguments}
    if endpoint == "consent.start":
        values["server_id"] = world.outlook_servers[1 if foreign else 0]
    with app.test_request_context():
        return url_for(endpoint, **values)


def _log_in(client, user: User | None) -> None:
    """A session as the login page makes one (it is tested on its own; here it would cost a hash)."""
    if user is None:
        return
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[SESSION_ID] = secrets.token_urlsafe(16)


def _outcome(response):
    if response.status_code == 302 and "/login?next=" in response.headers["Location"]:
        return LOGIN
    if response.status_code in (401, 403, 404):
        return response.status_code
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    return OK


def test_every_route_has_a_row():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    endpoints = {endpoint for endpoint, _method, _arguments in _routes(app)}
    assert sorted(endpoints - ROUTES.keys()) == [], "add each new route to ROUTES: who may reach it?"
    assert sorted(ROUTES.keys() - endpoints) == [], "a row for a route that no longer exists"


@pytest.mark.parametrize(("endpoint", "method", "role", "foreign"), list(_cases()))
def test_each_role_gets_what_its_row_says(tmp_path, endpoint, method, role, foreign):
    app = _bare_app(tmp_path)
    with app.app_context():
        db.create_all()
        try:
            world = _build_world()
            arguments = next(args for e, m, args in _routes(app) if (e, m) == (endpoint, method))
            url = _url(app, world, endpoint, arguments, foreign)
            client = app.test_client()
            _log_in(client, world.users.get(role))

            response = client.open(url, method=method)
            response.close()  # a PDF is sent from an open file

            assert _outcome(response) == ROUTES[endpoint].expected(role, foreign), url
        finally:
            db.session.remove()
            db.engine.dispose()


def _post_routes():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    return [(endpoint, arguments) for endpoint, method, arguments in _routes(app) if method == "POST"]


def test_every_post_route_refuses_a_request_without_a_csrf_token(tmp_path):
    app = _bare_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        db.create_all()
        try:
            world = _build_world()
            posts = _post_routes()
            assert len(posts) >= 15
            for endpoint, arguments in posts:
                client = app.test_client()
                if endpoint != "accounts.login":
                    _log_in(client, world.users["admin"])  # the role that may reach every route
                url = _url(app, world, endpoint, arguments, foreign=False)

                response = client.post(url, data={"login": "admin", "password": "x", "language": "en"})

                assert response.status_code == 400, url
                assert "Nieprawidłowe żądanie" in response.get_data(as_text=True), url
        finally:
            db.session.remove()
            db.engine.dispose()


def test_an_operator_cannot_open_the_history_of_a_disabled_server(tmp_path):
    """The company's history page hides a disabled server from operators; its id must not open it."""
    app = _bare_app(tmp_path)
    with app.app_context():
        db.create_all()
        try:
            world = _build_world()
            server_id = world.values["server_id"][0]
            check_id = world.values["check_id"][0]
            db.session.get(MailServer, server_id).active = False
            db.session.commit()
            client = app.test_client()
            _log_in(client, world.users["refresher"])

            for url in (f"/servers/{server_id}/checks", f"/checks/{check_id}"):
                assert client.get(url).status_code == 404, url
        finally:
            db.session.remove()
            db.engine.dispose()
