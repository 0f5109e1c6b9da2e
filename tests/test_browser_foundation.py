"""The foundation as people use it, in real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


def test_admin_sets_up_an_operator_who_then_sees_only_that_company(page, live_server):
    with live_server.app.app_context():
        make_user("szef", admin=True)

    log_in(page, "szef")
    page.get_by_role("link", name="Pobieranie dokumentów przez e-mail").click()
    for name in ("Alfa sp. z o.o.", "Beta S.A."):
        page.get_by_role("link", name="Dodaj firmę").click()
        page.get_by_label("Nazwa firmy").fill(name)
        page.get_by_role("button", name="Zapisz").click()
        expect(page.get_by_text(f"Dodano firmę {name}.")).to_be_visible()

    page.get_by_role("link", name="Panel administratora").click()
    page.get_by_role("link", name="Dodaj użytkownika").click()
    page.get_by_label("Login").fill("ewa")
    page.get_by_label("Hasło").fill(PASSWORD)
    page.get_by_label("Przekazane dokumenty - e-mail (odświeżenie)").check()
    page.get_by_label("Alfa sp. z o.o.").check()
    page.get_by_role("button", name="Zapisz").click()
    expect(page.locator("#users")).to_contain_text("ewa")
    expect(page.locator("#users tr", has_text="ewa")).to_contain_text("Alfa sp. z o.o.")
    page.get_by_role("button", name="Wyloguj").click()

    log_in(page, "ewa")
    expect(page.get_by_role("heading", name="Alfa sp. z o.o.")).to_be_visible()
    expect(page.get_by_text("Beta S.A.")).to_have_count(0)
    expect(page.get_by_role("link", name="Panel administratora")).to_have_count(0)

    with live_server.app.app_context():
        from ekpanel.companies.models import Company
        from ekpanel.extensions import db

        beta_id = db.session.scalar(db.select(Company.id).filter_by(name="Beta S.A."))
    response = page.goto(f"/companies/{beta_id}/documents")
    assert response.status == 404
    response = page.goto("/admin/users")
    assert response.status == 403
    expect(page.get_by_text(re.compile("Nie masz uprawnień"))).to_be_visible()
