"""Accounts as people meet them, in real Chromium: the login throttle (counted in the test's Redis),
sessions that end for a copied cookie too, the user's own page, and Dziennik zmian."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ekpanel import create_app
from ekpanel.extensions import db
from tests.factories import PASSWORD, make_company, make_user
from tests.support.app_config import app_config
from tests.support.browser import LiveServer, log_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "nowe-haslo-do-panelu-5"


def new_page(browser, server):
    context = browser.new_context(base_url=server.url, locale="pl-PL", timezone_id="Europe/Warsaw")
    context.set_default_timeout(20_000)
    return context.new_page()


def is_on_login_page(page) -> bool:
    page.goto("/")
    return "/login" in page.url


@pytest.fixture
def throttled_server(tmp_path, redis_url, redis_conn):
    """The panel with Flask-Limiter on, counting in the test's Redis, in its own live server."""
    app = create_app(
        app_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'throttled.sqlite3'}",
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=redis_url,
            REDIS_URL=redis_url,
            WTF_CSRF_ENABLED=True,
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


def test_after_five_wrong_passwords_the_login_page_says_when_to_try_again(
    browser, throttled_server, redis_conn
):
    make_user("anna")
    page = new_page(browser, throttled_server)
    try:
        page.goto("/login")
        for _ in range(5):
            page.get_by_label("Login").fill("anna")
            page.get_by_label("Hasło").fill("nie-to-haslo")
            page.get_by_role("button", name="Zaloguj").click()
            expect(page.get_by_text("Nieprawidłowy login lub hasło")).to_be_visible()

        page.get_by_label("Hasło").fill(PASSWORD)  # the right one, too late
        with page.expect_response(re.compile(r"/login$")) as answer:
            page.get_by_role("button", name="Zaloguj").click()

        assert answer.value.status == 429
        expect(page.get_by_role("alert")).to_have_text(
            re.compile(r"Zbyt wiele nieudanych prób logowania\. Spróbuj ponownie o \d\d:\d\d\.")
        )
        assert "/login" in page.url
        assert redis_conn.keys("*LIMITER/login-name:anna/*")
    finally:
        page.context.close()


def test_a_cookie_copied_before_logout_opens_nothing_after_it(browser, page, live_server):
    with live_server.app.app_context():
        make_user("anna", companies=[make_company("Alfa")])
    log_in(page, "anna")
    copied = page.context.cookies()
    thief = new_page(browser, live_server)
    try:
        thief.context.add_cookies(copied)
        thief.goto("/")
        expect(thief.get_by_role("heading", name="Alfa")).to_be_visible()

        page.get_by_role("button", name="Wyloguj").click()
        page.wait_for_url(re.compile(r"/login"))

        assert is_on_login_page(thief)
    finally:
        thief.context.close()


def test_an_administrators_new_password_for_an_operator_logs_the_operator_out(browser, page, live_server):
    with live_server.app.app_context():
        make_user("szef", admin=True)
        make_user("anna")
    operator = new_page(browser, live_server)
    try:
        log_in(operator, "anna")
        log_in(page, "szef")
        page.get_by_role("link", name="Panel administratora").click()
        page.get_by_role("link", name="anna").click()
        page.get_by_label("Hasło").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Zapisz").click()
        expect(page.get_by_text("Zapisano użytkownika anna.")).to_be_visible()

        assert is_on_login_page(operator)
        log_in(operator, "anna", NEW_PASSWORD)
    finally:
        operator.context.close()


def test_own_password_change_keeps_this_browser_and_logs_out_the_other(browser, page, live_server):
    with live_server.app.app_context():
        make_user("anna")
    other_device = new_page(browser, live_server)
    try:
        log_in(other_device, "anna")
        log_in(page, "anna")
        page.get_by_role("link", name="anna").click()
        page.get_by_label("Obecne hasło").fill(PASSWORD)
        page.get_by_label("Nowe hasło", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Powtórz nowe hasło").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Zmień hasło").click()
        expect(page.get_by_text("Zmieniono hasło. Pozostałe urządzenia zostały wylogowane.")).to_be_visible()

        assert is_on_login_page(other_device)
        assert not is_on_login_page(page)

        page.get_by_role("link", name="anna").click()
        page.get_by_role("button", name="Wyloguj ze wszystkich urządzeń").click()
        expect(page.get_by_text("Wylogowano ze wszystkich urządzeń.")).to_be_visible()
        assert is_on_login_page(page)
    finally:
        other_device.context.close()


def test_dziennik_zmian_shows_who_did_what_from_where(page, live_server):
    with live_server.app.app_context():
        make_user("szef", admin=True)
        make_user("ewa")
        make_company("Alfa sp. z o.o.")

    page.goto("/login")
    page.get_by_label("Login").fill("szef")
    page.get_by_label("Hasło").fill("pomylka")
    page.get_by_role("button", name="Zaloguj").click()
    log_in(page, "szef")
    page.get_by_role("link", name="Panel administratora").click()
    page.get_by_role("link", name="ewa").click()
    page.get_by_label("Przekazane dokumenty - e-mail (odświeżenie)").check()
    page.get_by_label("Alfa sp. z o.o.").check()
    page.get_by_role("button", name="Zapisz").click()

    page.get_by_role("link", name="Dziennik zmian").click()
    log = page.locator("#audit-log")
    changed = log.locator("tr", has_text="Zmiana użytkownika")
    expect(changed).to_contain_text("szef")
    expect(changed).to_contain_text("127.0.0.1")
    expect(changed).to_contain_text("Przekazane dokumenty - e-mail (odświeżenie): nie → tak")
    expect(changed).to_contain_text("Firmy: dodano: Alfa sp. z o.o.")
    expect(log.locator("tr", has_text="Nieudane logowanie")).to_contain_text("Powód: nieprawidłowe hasło")

    page.get_by_label("Czynność").select_option(label="Nieudane logowanie")
    page.get_by_role("button", name="Szukaj").click()
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text("Nieudane logowanie")
