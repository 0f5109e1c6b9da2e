"""The web layer's rules, through the test client: security headers on every answer, htmx steered from
one module, and pages whose number of queries does not grow with their rows."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event

from ekpanel.checks.queries import last_check_summaries, last_check_summary
from ekpanel.extensions import db
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import Outcome
from tests.factories import (
    make_check,
    make_company,
    make_document,
    make_graph_server,
    make_held_message,
    make_imap_server,
    make_user,
)

PROJECT = Path(__file__).resolve().parents[1]


# --- headers ----------------------------------------------------------------------------------


def policy(response) -> dict[str, str]:
    directives = (part.strip() for part in response.headers["Content-Security-Policy"].split(";"))
    return dict(directive.split(" ", 1) for directive in directives if directive)


def test_every_kind_of_answer_carries_the_security_headers(admin_client, company, htmx):
    server = make_imap_server(company)
    answers = {
        "page": admin_client.get(f"/settings/email/companies/{company.id}"),
        "fragment": admin_client.get(f"/settings/email/servers/{server.id}/edit", headers=htmx),
        "redirect": admin_client.get("/"),
        "static file": admin_client.get("/static/panel.js"),
        "missing page": admin_client.get("/no-such-page"),
        "refused form": admin_client.post(f"/settings/email/servers/{server.id}/consent"),
    }
    for kind, response in answers.items():
        response.close()
        assert response.headers["X-Frame-Options"] == "DENY", kind
        assert response.headers["Referrer-Policy"] == "same-origin", kind
        assert response.headers["X-Content-Type-Options"] == "nosniff", kind
        directives = policy(response)
        assert directives["default-src"] == "'self'", kind
        assert directives["script-src"] == "'self'", kind
        assert directives["style-src"] == "'self'", kind
        assert directives["object-src"] == "'none'", kind
        assert directives["frame-ancestors"] == "'none'", kind
        assert "unsafe" not in response.headers["Content-Security-Policy"], kind


def test_the_login_page_is_protected_too(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert policy(response)["frame-ancestors"] == "'none'"


def test_only_this_site_may_frame_the_pdf(client, auth, company):
    document = make_document(company)
    make_user("anna", companies=[company])
    auth.login("anna")
    with client.get(f"/documents/{document.id}/pdf") as response:
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert policy(response)["frame-ancestors"] == "'self'"
        assert policy(response)["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_forms_may_lead_to_microsofts_consent_page_and_nowhere_else(app, client):
    app.config["MS_LOGIN_URL"] = "https://login.example.test:8443/base"
    assert policy(client.get("/login"))["form-action"] == "'self' https://login.example.test:8443"


# --- htmx -------------------------------------------------------------------------------------


def test_an_htmx_request_after_the_session_ended_sends_the_page_to_the_login(client, company, htmx):
    response = client.get(
        f"/companies/{company.id}/refresh/progress?since=x",
        headers=htmx | {"HX-Current-URL": f"http://localhost/companies/{company.id}/documents?q=a"},
    )
    assert response.status_code == 200  # htmx would follow a 302 and swap the login page into the panel
    assert "Location" not in response.headers
    assert response.headers["HX-Redirect"] == f"/login?next=%2Fcompanies%2F{company.id}%2Fdocuments%3Fq%3Da"
    assert response.get_data() == b""


def test_the_login_redirect_of_a_whole_page_is_left_alone(client, company):
    response = client.get(f"/companies/{company.id}/documents")
    assert response.status_code == 302
    assert "HX-Redirect" not in response.headers


def test_a_page_of_another_site_is_never_named_as_where_to_come_back(client, company, htmx):
    response = client.get(
        f"/companies/{company.id}/documents",
        headers=htmx | {"HX-Current-URL": "https://elsewhere.example/phish"},
    )
    assert "elsewhere" not in response.headers["HX-Redirect"]


def test_only_the_htmx_module_writes_htmx_headers():
    writers = [
        path.relative_to(PROJECT)
        for path in (PROJECT / "ekpanel").rglob("*.py")
        if path.name != "htmx.py" and re.search(r"""["']HX-""", path.read_text(encoding="utf-8"))
    ]
    assert writers == []


def test_templates_ask_the_view_not_the_request_or_the_database():
    found = []
    for path in (PROJECT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"request\.headers", r"\|\s*safe\b", r"ignore missing", r"hx-on", r"js:", r" on\w+="):
            if re.search(pattern, text):
                found.append(f"{path.relative_to(PROJECT)}: {pattern}")
    assert found == []


# --- queries per page -------------------------------------------------------------------------


@contextmanager
def counted_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def servers_with_history(company, count: int) -> None:
    for n in range(count):
        server = make_imap_server(company, username=f"konto{n}@biuro.pl", whitelist=["*@x.pl"])
        make_check(server, outcome=Outcome.FAILED, error_code="auth", error=note(Text.IMAP_AUTH_FAILED))
        make_check(server, outcome=Outcome.RUNNING)


def test_the_company_panel_takes_as_many_queries_for_one_server_as_for_five(admin_client, app):
    small, large = make_company("Mała"), make_company("Duża")
    servers_with_history(small, 1)
    servers_with_history(large, 5)
    db.session.expire_all()
    with counted_queries() as one:
        admin_client.get(f"/settings/email/companies/{small.id}")
    db.session.expire_all()
    with counted_queries() as five:
        html = admin_client.get(f"/settings/email/companies/{large.id}").get_data(as_text=True)
    assert len(re.findall(r'<tr id="server-\d+"', html)) == 5 and html.count("sprawdzanie w toku") == 5
    assert len(five) == len(one)


def test_the_documents_list_takes_as_many_queries_for_one_server_as_for_four(client, auth, app):
    small, large = make_company("Mała"), make_company("Duża")
    for company, servers in ((small, 1), (large, 4)):
        for n in range(servers):
            server = make_imap_server(company, username=f"konto{n}@biuro.pl")
            make_document(company, server=server, server_label="")  # named by the server, not the row
    make_user("anna", companies=[small, large])
    auth.login("anna")
    db.session.expire_all()
    with counted_queries() as one:
        client.get(f"/companies/{small.id}/documents")
    db.session.expire_all()
    with counted_queries() as four:
        html = client.get(f"/companies/{large.id}/documents").get_data(as_text=True)
    assert "konto3@biuro.pl (imap.biuro.pl)" in html
    assert len(four) == len(one)


def test_the_summaries_of_many_servers_are_each_servers_own(company):
    from datetime import datetime

    never = make_imap_server(company, username="nigdy@biuro.pl")
    fine = make_imap_server(company, username="dobrze@biuro.pl")
    make_check(fine, started_at=datetime(2026, 11, 20, 4), taken=3, documents=4)
    failing = make_imap_server(company, username="zle@biuro.pl")
    make_check(failing, started_at=datetime(2026, 11, 19, 4))
    refused = {"outcome": Outcome.FAILED, "error_code": "auth", "error": note(Text.IMAP_AUTH_FAILED)}
    make_check(failing, started_at=datetime(2026, 11, 20, 4), **refused)
    make_check(failing, started_at=datetime(2026, 11, 21, 4), **refused)
    always_failing = make_graph_server(company)
    make_check(always_failing, started_at=datetime(2026, 11, 21, 4), outcome=Outcome.FAILED)
    running = make_imap_server(company, username="teraz@biuro.pl")
    make_check(running, started_at=datetime(2026, 11, 20, 4), outcome=Outcome.PARTIAL, errors=1)
    make_check(running, started_at=datetime(2026, 11, 21, 4), outcome=Outcome.RUNNING)
    make_held_message(running)
    stale_run = make_imap_server(company, username="dawno@biuro.pl")
    make_check(stale_run, started_at=datetime(2026, 11, 1, 4), outcome=Outcome.RUNNING)  # a killed worker
    make_check(stale_run, started_at=datetime(2026, 11, 21, 4))

    servers = [never, fine, failing, always_failing, running, stale_run]
    batched = last_check_summaries([server.id for server in servers])
    for server in servers:
        assert batched[server.id] == last_check_summary(server.id), server.label
    assert batched[failing.id]["failing_since"] == datetime(2026, 11, 20, 4)
    assert batched[running.id]["running"] is True and batched[stale_run.id]["running"] is False
    assert batched[running.id]["needs_person"] == 1
