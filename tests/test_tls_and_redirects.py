"""Deployment behind TLS (Secure cookies, a reverse proxy's headers) and redirects that stay on the panel."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from ekpanel import create_app
from ekpanel.audit import Action, AuditEntry
from ekpanel.config import load_config
from ekpanel.extensions import db
from ekpanel.redirects import local_path
from tests.factories import PASSWORD, make_company, make_graph_server, make_user
from tests.support.app_config import app_config, fresh_g_per_request

FOREIGN_TARGETS = [
    "/\t/evil.example",  # a browser drops the tab: //evil.example
    "/\n/evil.example",
    "/\\evil.example",  # a browser reads \ as /
    "//evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/ /evil.example",
    "",
]


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_a_target_off_the_panel_is_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize(
    "target", ["/", "/companies/3/documents?q=faktura&after=abc", "/documents/7?back=/x"]
)
def test_a_path_of_the_panel_is_kept(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_login_never_sends_the_browser_off_the_panel(client, target):
    make_user("anna")
    response = client.post(
        "/login", query_string={"next": target}, data={"login": "anna", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_the_document_status_route_never_sends_the_browser_off_the_panel(client, auth, target):
    company = make_company()
    make_user("anna", companies=[company])
    auth.login("anna")
    response = client.post(
        f"/companies/{company.id}/documents/status",
        query_string={"next": target},
        data={"status": "registered"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/companies/{company.id}/documents"


def test_the_language_switch_stays_on_the_panel(client, auth):
    make_user("anna")
    auth.login("anna")
    response = client.post("/account/language", data={"language": "en", "next": "/\t/evil.example"})
    assert response.headers["Location"] == "/"
    response = client.post("/account/language", data={"language": "pl", "next": "/account"})
    assert response.headers["Location"] == "/account"


# --- behind TLS -------------------------------------------------------------------------------------


def test_settings_for_tls_come_from_the_environment(tmp_path):
    defaults = load_config({"EKPANEL_INSTANCE_DIR": str(tmp_path)})
    assert defaults["SESSION_COOKIE_SECURE"] is False and defaults["PROXY_HOPS"] == 0
    behind_proxy = load_config(
        {"EKPANEL_INSTANCE_DIR": str(tmp_path), "EKPANEL_COOKIE_SECURE": "true", "EKPANEL_PROXY_HOPS": "1"}
    )
    assert behind_proxy["SESSION_COOKIE_SECURE"] is True and behind_proxy["PROXY_HOPS"] == 1


@pytest.fixture
def proxied_app(tmp_path):
    """The panel as deployed behind one TLS-terminating reverse proxy."""
    app = create_app(
        app_config(
            tmp_path, f"sqlite:///{tmp_path / 'proxied.sqlite3'}", SESSION_COOKIE_SECURE=True, PROXY_HOPS=1
        )
    )
    fresh_g_per_request(app)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


PROXY_HEADERS = {
    "X-Forwarded-For": "198.51.100.23",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "panel.biuro.example",
}


def test_behind_a_proxy_the_session_cookie_is_secure(proxied_app):
    make_user("anna")
    client = proxied_app.test_client()
    response = client.post(
        "/login",
        data={"login": "anna", "password": PASSWORD},
        headers=PROXY_HEADERS,
        base_url="https://localhost",
    )
    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie


def test_behind_a_proxy_the_consent_callback_is_https_and_the_client_address_is_recorded(proxied_app):
    company = make_company("Alfa")
    server = make_graph_server(company)
    make_user("szef", admin=True)
    client = proxied_app.test_client()
    client.post(
        "/login",
        data={"login": "szef", "password": PASSWORD},
        headers=PROXY_HEADERS,
        base_url="https://localhost",
    )

    response = client.post(
        f"/settings/email/servers/{server.id}/consent", headers=PROXY_HEADERS, base_url="https://localhost"
    )

    redirect_uri = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"]
    assert redirect_uri == ["https://panel.biuro.example/settings/email/consent/callback"]
    login = db.session.scalars(select(AuditEntry).where(AuditEntry.action == Action.LOGIN_SUCCEEDED)).one()
    assert login.address == "198.51.100.23"


def test_without_proxy_hops_forwarded_headers_are_not_believed(client):
    company = make_company("Alfa")
    server = make_graph_server(company)
    make_user("szef", admin=True)
    client.post("/login", data={"login": "szef", "password": PASSWORD}, headers=PROXY_HEADERS)

    response = client.post(f"/settings/email/servers/{server.id}/consent", headers=PROXY_HEADERS)

    redirect_uri = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"]
    assert redirect_uri == ["http://localhost/settings/email/consent/callback"]
    login = db.session.scalars(select(AuditEntry).where(AuditEntry.action == Action.LOGIN_SUCCEEDED)).one()
    assert login.address == "127.0.0.1"  # a client cannot pick the address the log and the throttle see
