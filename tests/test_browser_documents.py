"""Przekazane dokumenty - e-mail as operators use it, in real Chromium (with Dovecot and an RQ worker)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from ekpanel import create_app
from ekpanel.checks.workers import make_worker
from ekpanel.extensions import db
from tests.factories import (
    make_check,
    make_company,
    make_document,
    make_dovecot_server,
    make_imap_server,
    make_user,
    pdf_bytes,
)
from tests.support.app_config import app_config
from tests.support.browser import LiveServer, assert_no_problems, log_in, watch_for_problems
from tests.support.messages import invoice_message

pytestmark = pytest.mark.browser


@pytest.fixture
def worker_app(live_server, redis_url, redis_conn, dovecot):
    """The live app, talking to the test Redis, trusting the test Dovecot's certificate."""
    live_server.app.config.update(REDIS_URL=redis_url, CA_BUNDLE=str(dovecot.ca_path))
    return live_server.app


def run_worker(app, redis_conn) -> None:
    """A real RQ worker (in this process, no fork): runs what is queued, then returns."""
    make_worker(app, simple=True, connection=redis_conn).work(burst=True)


def test_operator_refreshes_sees_progress_and_the_new_documents_without_reload(
    page, worker_app, redis_conn, mail_user
):
    mail_user.append("INBOX", invoice_message(mail_user.login, 1))
    mail_user.append("INBOX", invoice_message(mail_user.login, 2))
    mail_user.append("INBOX", invoice_message(mail_user.login, 3, sender="ktos@obcy.example"))
    server = make_dovecot_server(mail_user)
    old = make_document(server.company, subject="Stara faktura", filename="stara.pdf")
    make_user("ewa", companies=[server.company], can_refresh=True)

    log_in(page, "ewa")
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    page.evaluate("window.notReloaded = true")

    page.get_by_role("button", name="Odśwież").click()
    progress = page.locator("#refresh-progress")
    expect(progress.locator(f'li[data-server-id="{server.id}"]')).to_contain_text("w kolejce")
    spinner = progress.locator(".spinner").first.bounding_box()  # a turning circle, not an empty box
    assert spinner["width"] >= 8 and spinner["height"] >= 8, spinner

    run_worker(worker_app, redis_conn)  # the page keeps polling meanwhile

    expect(progress).to_contain_text("Sprawdzanie zakończone")
    expect(progress).to_contain_text("pobrane dokumenty: 2")
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#documents tbody tr.highlight")).to_have_count(2)
    expect(page.locator("#documents tbody tr.highlight").first).to_contain_text("faktury@dostawca.pl")
    expect(page.locator(f'tr[data-document-id="{old.id}"]')).not_to_have_class(re.compile("highlight"))
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#refresh-progress[hx-trigger]")).to_have_count(0)  # the polling stopped


def test_pdf_opens_inline_beside_its_details_and_downloads_with_its_polish_name(page, live_server):
    company = make_company("Alfa sp. z o.o.")
    document = make_document(
        company, filename="Faktura_VAT_ąęśćżł.pdf", subject="Faktura za listopad", data=pdf_bytes("listopad")
    )
    make_user("anna", companies=[company])
    log_in(page, "anna")

    with page.expect_response(re.compile(rf"/documents/{document.id}/pdf$")) as pdf_response:
        page.get_by_role("link", name="Faktura_VAT_ąęśćżł.pdf").click()
    response = pdf_response.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("inline;")
    expect(page.locator("iframe.pdf-frame")).to_be_visible()
    expect(page.locator(".document-details")).to_contain_text("Faktura za listopad")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Pobierz").click()
    download = download_info.value
    assert download.suggested_filename == "Faktura_VAT_ąęśćżł.pdf"
    with open(download.path(), "rb") as fh:
        assert fh.read().startswith(b"%PDF-")


def test_operator_registers_a_selection_and_undoes_it(page, live_server):
    company = make_company("Alfa sp. z o.o.")
    documents = [make_document(company) for _ in range(3)]
    make_user("anna", companies=[company])
    log_in(page, "anna")
    badge = page.locator("#documents-companies .badge.new")
    expect(badge).to_have_text("3")

    for document in documents[:2]:
        page.locator(f'tr[data-document-id="{document.id}"] input[type=checkbox]').check()
    page.get_by_role("button", name="Oznacz zaznaczone jako zarejestrowane").click()

    expect(page.get_by_role("status")).to_contain_text("Oznaczono jako zarejestrowane: 2.")
    for document in documents[:2]:
        expect(page.locator(f'tr[data-document-id="{document.id}"]')).to_contain_text("Zarejestrowany")
    expect(page.locator(f'tr[data-document-id="{documents[2].id}"]')).to_contain_text("Nowy")
    expect(badge).to_have_text("1")

    page.get_by_role("button", name="Cofnij").click()
    expect(page.get_by_role("status")).to_contain_text("Oznaczono jako nowe: 2.")
    expect(page.locator("#documents tbody")).not_to_contain_text("Zarejestrowany")
    expect(badge).to_have_text("3")


def test_filters_and_pages_stay_in_the_url(page, live_server):
    company = make_company("Alfa sp. z o.o.")
    make_document(company, sender="biuro@energia.pl", subject="Prąd")
    make_document(company, sender="faktury@dostawca.pl", subject="Towar")
    make_document(company, sender="archiwum@stary.pl", subject="Stara", received_at=datetime(2020, 6, 1, 10))
    make_user("anna", companies=[company])
    errors: list[str] = []
    # htmx reports a trigger it cannot read (htmx:syntax:error) as a console error.
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    log_in(page, "anna")
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    assert errors == []  # htmx read the filter's trigger, and every resource (the icon too) was there

    page.get_by_label("Otrzymane do").fill("2020-12-31")  # a date filters at once, like the status
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    expect(page.locator("#documents tbody")).to_contain_text("archiwum@stary.pl")
    expect(page).to_have_url(re.compile(r"date_to=2020-12-31"))
    page.get_by_role("link", name="Wyczyść").click()
    expect(page.locator("#documents tbody tr")).to_have_count(3)

    page.get_by_label("Szukaj").fill("energia")
    page.get_by_label("Szukaj").press("Enter")
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=energia"))
    page.reload()
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    expect(page.get_by_label("Szukaj")).to_have_value("energia")

    page.get_by_label("Status").select_option("registered")  # a choice filters at once, no button
    expect(page.locator("#documents tbody")).to_contain_text("Brak dokumentów.")
    expect(page).to_have_url(re.compile(r"q=energia.*status=registered"))
    page.go_back()
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    expect(page.locator("#documents tbody")).to_contain_text("biuro@energia.pl")


def test_operator_without_the_right_has_no_button_and_the_post_is_refused(page, live_server):
    company = make_company("Alfa sp. z o.o.")
    make_user("anna", companies=[company])
    log_in(page, "anna")
    expect(page.get_by_role("heading", name="Alfa sp. z o.o.")).to_be_visible()
    expect(page.get_by_role("button", name="Odśwież")).to_have_count(0)

    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    response = page.request.post(f"/companies/{company.id}/refresh", headers={"X-CSRFToken": token})
    assert response.status == 403


def test_operator_of_another_company_gets_404_for_list_pdf_and_history(page, live_server):
    company = make_company("Alfa sp. z o.o.")
    document = make_document(company)
    server = make_imap_server()
    check = make_check(server)
    make_user("obcy", companies=[make_company("Gamma")], can_refresh=True)
    log_in(page, "obcy")

    for url in (
        f"/companies/{company.id}/documents",
        f"/documents/{document.id}",
        f"/documents/{document.id}/pdf",
        f"/companies/{server.company_id}/checks",
        f"/servers/{server.id}/checks",
        f"/checks/{check.id}",
    ):
        assert page.goto(url).status == 404, url


@pytest.fixture
def limited_server(tmp_path, redis_url, redis_conn):
    """The panel with Flask-Limiter on (the test config turns it off), in its own live server."""
    app = create_app(
        app_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'limited.sqlite3'}",
            RATELIMIT_ENABLED=True,
            WTF_CSRF_ENABLED=True,
            REDIS_URL=redis_url,
        )
    )
    with app.app_context():
        db.create_all()
        server = LiveServer(app).start()
        try:
            yield server
        finally:
            server.stop()
            db.session.remove()
            db.engine.dispose()


def test_second_refresh_within_a_minute_explains_itself_and_keeps_the_progress(
    browser, limited_server, mail_user
):
    server = make_dovecot_server(mail_user)
    make_user("ewa", companies=[server.company], can_refresh=True)
    context = browser.new_context(base_url=limited_server.url, locale="pl-PL", timezone_id="Europe/Warsaw")
    context.set_default_timeout(10_000)
    problems = watch_for_problems(context)
    page = context.new_page()
    try:
        log_in(page, "ewa")
        page.get_by_role("button", name="Odśwież").click()
        expect(page.locator("#refresh-progress")).to_contain_text("w kolejce")

        with page.expect_response(re.compile(r"/refresh$")) as refused:
            page.get_by_role("button", name="Odśwież").click()
        assert refused.value.status == 429
        message = page.locator("#refresh-message")
        expect(message).to_contain_text("Odświeżenie tej firmy można zlecić raz na minutę.")
        # The panel goes on polling the check, and a poll leaves the message where it is.
        with page.expect_response(re.compile(r"/refresh/progress")):
            pass
        expect(message).to_contain_text("Odświeżenie tej firmy można zlecić raz na minutę.")
        expect(page.locator("#refresh-progress")).to_contain_text("w kolejce")
    finally:
        context.close()
    assert_no_problems(problems)
