"""Odśwież: checks enqueued from the list, their progress panel, the rate limit; real Redis and Dovecot."""

from __future__ import annotations

import json
import re

import pytest
from flask import g
from rq import Queue

from ekpanel import create_app
from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.keys import CHECK_QUEUE
from ekpanel.checks.progress import RunProgress
from ekpanel.checks.workers import make_worker
from ekpanel.extensions import db
from ekpanel.templating import render_note
from tests.factories import (
    PASSWORD,
    make_company,
    make_document,
    make_dovecot_server,
    make_imap_server,
    make_user,
)
from tests.support.app_config import app_config
from tests.support.messages import invoice_message


@pytest.fixture
def refresh_app(sqlite_app, redis_url, redis_conn):
    sqlite_app.config.update(REDIS_URL=redis_url)
    return sqlite_app


@pytest.fixture
def client(refresh_app):
    return refresh_app.test_client()


def work(app, conn) -> None:
    make_worker(app, simple=True, connection=conn).work(burst=True)


def queued_server_ids(conn) -> list[int]:
    return sorted(job.args[0] for job in Queue(CHECK_QUEUE, connection=conn).get_jobs())


def states(html: str) -> dict[int, str]:
    return {int(s): state for s, state in re.findall(r'data-server-id="(\d+)" data-state="(\w+)"', html)}


def test_refresh_checks_every_enabled_server_and_reports_until_done(
    client, refresh_app, redis_conn, mail_user, auth, htmx
):
    for n in range(2):
        mail_user.append("INBOX", invoice_message(mail_user.login, n))
    server = make_dovecot_server(mail_user)
    company = server.company
    make_imap_server(company, active=False, host="127.0.0.1", port=1, username="x")
    old = make_document(company)
    user = make_user("ewa", companies=[company], can_refresh=True)
    auth.login("ewa")

    response = client.post(f"/companies/{company.id}/refresh", headers=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert states(html) == {server.id: "queued"}
    assert 'hx-trigger="every 1s"' in html
    assert queued_server_ids(redis_conn) == [server.id]
    poll_url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")

    still_queued = client.get(poll_url, headers=htmx)
    assert still_queued.status_code == 200 and "HX-Trigger" not in still_queued.headers

    work(refresh_app, redis_conn)

    done = client.get(poll_url, headers=htmx)
    done_html = done.get_data(as_text=True)
    assert done.status_code == 286  # htmx stops polling
    assert states(done_html) == {server.id: "done"}
    assert "pobrane dokumenty: 2" in done_html
    assert "every 1s" not in done_html
    since = json.loads(done.headers["HX-Trigger"])["documents-refreshed"]["since"]

    # The list the event reloads marks what the refresh brought in, and only that.
    listing = client.get(
        f"/companies/{company.id}/documents", query_string={"highlight": since}, headers=htmx
    )
    rows = re.findall(r'data-document-id="(\d+)" class="([^"]*)"', listing.get_data(as_text=True))
    highlighted = {int(i) for i, css in rows if "highlight" in css}
    assert len(rows) == 3
    assert len(highlighted) == 2 and old.id not in highlighted
    # ...and the company list beside it now counts three new documents.
    assert re.search(r'id="documents-companies"[^>]*hx-swap-oob="true"', listing.get_data(as_text=True))
    assert re.search(r'class="badge new"[^>]*>\s*3\s*<', listing.get_data(as_text=True))

    from ekpanel.checks.models import Check

    check = db.session.scalar(db.select(Check).where(Check.server_id == server.id))
    assert (check.trigger, check.user_id) == ("refresh", user.id)


def test_second_click_while_a_check_waits_shows_the_same_check(client, redis_conn, mail_user, auth, htmx):
    server = make_dovecot_server(mail_user)
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")
    first = client.post(f"/companies/{server.company_id}/refresh", headers=htmx)
    second = client.post(f"/companies/{server.company_id}/refresh", headers=htmx)
    assert (
        states(first.get_data(as_text=True)) == states(second.get_data(as_text=True)) == {server.id: "queued"}
    )
    assert queued_server_ids(redis_conn) == [server.id]


def test_failed_server_shows_its_classified_reason(client, refresh_app, redis_conn, mail_user, auth, htmx):
    server = make_dovecot_server(mail_user, password="zle-haslo")
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")
    html = client.post(f"/companies/{server.company_id}/refresh", headers=htmx).get_data(as_text=True)
    poll_url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    work(refresh_app, redis_conn)

    done = client.get(poll_url, headers=htmx)
    assert done.status_code == 286
    assert states(done.get_data(as_text=True)) == {server.id: "failed"}
    from ekpanel.checks.models import Check

    check = db.session.scalar(db.select(Check).where(Check.server_id == server.id))
    assert check.error is not None and render_note(check.error) in done.get_data(as_text=True)


def test_company_without_enabled_servers_says_so(client, auth, htmx):
    company = make_company()
    make_user("ewa", companies=[company], can_refresh=True)
    auth.login("ewa")
    html = client.post(f"/companies/{company.id}/refresh", headers=htmx).get_data(as_text=True)
    assert "Ta firma nie ma żadnego włączonego serwera poczty." in html


def test_refresh_is_limited_to_one_per_company_per_minute_per_user(
    tmp_path, redis_url, redis_conn, mail_user, htmx
):
    app = create_app(
        app_config(
            tmp_path, f"sqlite:///{tmp_path / 'limits.sqlite3'}", RATELIMIT_ENABLED=True, REDIS_URL=redis_url
        )
    )
    with app.app_context():
        db.create_all()
        try:
            server = make_dovecot_server(mail_user)
            other = make_dovecot_server(mail_user)
            make_user("ewa", companies=[server.company, other.company], can_refresh=True)
            make_user("jan", companies=[server.company], can_refresh=True)
            ewa, jan = app.test_client(), app.test_client()
            jan.post("/login", data={"login": "jan", "password": PASSWORD})
            g.pop("_login_user", None)
            ewa.post("/login", data={"login": "ewa", "password": PASSWORD})

            assert ewa.post(f"/companies/{server.company_id}/refresh", headers=htmx).status_code == 200
            refused = ewa.post(f"/companies/{server.company_id}/refresh", headers=htmx)
            assert refused.status_code == 429
            html = refused.get_data(as_text=True)
            # Beside the panel, out of band, so the polls that follow leave it in place.
            assert re.search(r'<div id="refresh-message" hx-swap-oob="true">\s*<p[^>]*>Odświeżenie tej', html)
            assert states(html) == {server.id: "queued"}  # and it still shows the check under way

            assert ewa.post(f"/companies/{other.company_id}/refresh", headers=htmx).status_code == 200
            # Requests here share the test's app context, where Flask-Login caches the user in ``g``.
            g.pop("_login_user", None)
            assert jan.post(f"/companies/{server.company_id}/refresh", headers=htmx).status_code == 200
        finally:
            db.session.remove()
            db.engine.dispose()


def test_page_loaded_while_a_check_waits_shows_its_progress(
    client, refresh_app, redis_conn, mail_user, auth, htmx
):
    server = make_dovecot_server(mail_user)
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")
    url = f"/companies/{server.company_id}/documents"
    assert "data-server-id" not in client.get(url).get_data(as_text=True)

    client.post(f"/companies/{server.company_id}/refresh", headers=htmx)
    html = client.get(url).get_data(as_text=True)
    assert states(html) == {server.id: "queued"}
    assert 'hx-trigger="every 1s"' in html

    work(refresh_app, redis_conn)
    assert "data-server-id" not in client.get(url).get_data(as_text=True)


def test_progress_names_the_folder_and_counts_messages_while_checking(
    client, redis_conn, mail_user, auth, htmx
):
    server = make_dovecot_server(mail_user)
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")
    html = client.post(f"/companies/{server.company_id}/refresh", headers=htmx).get_data(as_text=True)
    poll_url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    # What the job writes into its meta as the check goes (ekpanel.checks.job.check_server).
    [job] = Queue(CHECK_QUEUE, connection=redis_conn).get_jobs()
    job.meta.update(
        state="checking",
        progress=RunProgress(
            folder="INBOX", to_examine=10, stored=1, counts=CheckCounts(examined=3)
        ).to_json(),
    )
    job.save_meta()

    response = client.get(poll_url, headers=htmx)
    text = re.sub(r"\s+", " ", response.get_data(as_text=True))
    assert response.status_code == 200
    assert states(text) == {server.id: "checking"}
    assert "sprawdzanie folderu INBOX (3 z 10 wiadomości) · pobrane dokumenty: 1" in text
    assert "refresh-message" not in text  # a poll leaves the message of the click alone
