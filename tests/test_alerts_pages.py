"""Alerts in the panel: a person chooses theirs on Moje konto (in real Chromium too), and Panel
administratora lists every alert sent — to whom, when, which event, delivered or not."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ekpanel.accounts.models import User
from ekpanel.alerts.models import AlertChoice
from ekpanel.alerts.recipients import wanted_topics
from ekpanel.alerts.topics import Topic
from ekpanel.audit.models import AuditEntry
from ekpanel.extensions import db
from tests.factories import make_company, make_user
from tests.support.alerts import ADMIN, one_failure_alert, send_due
from tests.support.browser import htmx_settled, log_in


def test_defaults_administrators_get_every_problem_operators_the_digest(app):
    admin = make_user("admin", admin=True)
    operator = make_user("operator")

    assert wanted_topics(admin) == set(Topic) - {Topic.DIGEST}
    assert wanted_topics(operator) == {Topic.DIGEST}


def test_a_user_sets_their_address_and_alerts_and_the_change_is_in_dziennik_zmian(app, client, auth):
    operator = make_user("operator")
    auth.login("operator")

    answer = client.post(
        "/account/alerts", data={"email": "anna@biuro.example", "topics": ["server_failing"]}
    )

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/account")
    db.session.expire_all()
    assert operator.email == "anna@biuro.example"
    assert wanted_topics(operator) == {Topic.SERVER_FAILING}
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "alerts.changed")).one()
    assert "anna@biuro.example" in entry.details and "digest" in entry.details


def test_an_address_that_is_no_address_is_refused_and_nothing_is_saved(app, client, auth):
    operator = make_user("operator")
    auth.login("operator")

    page = client.post("/account/alerts", data={"email": "anna.biuro.example", "topics": []})

    assert "To nie wygląda na adres e-mail." in page.get_data(as_text=True)
    db.session.expire_all()
    assert operator.email is None
    assert db.session.scalars(select(AlertChoice)).all() == []


def test_an_operator_cannot_choose_an_administrators_alert(app, client, auth):
    operator = make_user("operator")
    auth.login("operator")

    page = client.post("/account/alerts", data={"email": "a@b.pl", "topics": ["secret_expiry"]})

    assert page.status_code == 200  # the form again, with the choice refused
    db.session.expire_all()
    assert wanted_topics(operator) == {Topic.DIGEST}


def test_panel_administratora_lists_each_alert_with_its_recipient_event_and_delivery(
    alerts_app, client, auth, smtp_server
):
    first = one_failure_alert(alerts_app)
    smtp_server.refuse_recipients.add(ADMIN)
    send_due()
    auth.login("admin")

    page = client.get("/admin/alerts").get_data(as_text=True)

    assert "włączone" in page and "jako ekpanel &lt;panel@biuro.example&gt;" in page
    row = page[page.index(f'data-delivery-id="{first.id}"') :].split("</tr>")[0]
    assert 'data-state="failed"' in row and 'data-kind="server_failing"' in row
    assert "admin" in row and ADMIN in row
    assert "Skrzynka nie działa" in row and "[ekpanel] Firma X: skrzynka" in row
    assert "niedoręczone" in row and "Serwer odrzucił adres odbiorcy admin@biuro.example: 550" in row


@pytest.mark.browser
def test_an_operator_chooses_their_alerts_on_moje_konto(page, live_server):
    make_company("Alfa")
    make_user("anna", language="pl")
    log_in(page, "anna")

    page.goto("/account")
    card = page.locator("#alert-preferences")
    expect(card.get_by_label("Adres e-mail")).to_be_visible()  # loaded into the page by htmx
    htmx_settled(page)
    digest = card.get_by_label("Codzienne podsumowanie nowych dokumentów")
    expect(digest).to_be_checked()  # the operators' default
    expect(
        card.get_by_label("Klucz sekretny aplikacji Outlook 365 wygasa (30, 7 i 1 dzień przed)")
    ).to_have_count(0)

    card.get_by_label("Adres e-mail").fill("anna@biuro.example")
    digest.uncheck()
    card.get_by_label("Skrzynka przestała działać (raz, potem raz dziennie, i gdy znów działa)").check()
    card.get_by_role("button", name="Zapisz powiadomienia").click()

    expect(page.get_by_role("status")).to_have_text("Zapisano ustawienia powiadomień.")
    htmx_settled(page)
    card = page.locator("#alert-preferences")
    expect(card.get_by_label("Adres e-mail")).to_have_value("anna@biuro.example")
    expect(card.get_by_label("Codzienne podsumowanie nowych dokumentów")).not_to_be_checked()
    db.session.expire_all()
    user = db.session.scalars(select(User).where(User.login == "anna")).one()
    assert user.email == "anna@biuro.example"
    assert wanted_topics(user) == {Topic.SERVER_FAILING}


def test_an_administrator_gives_an_operator_their_address_on_the_user_form(app, client, auth):
    make_user("admin", admin=True)
    ewa = make_user("ewa")
    auth.login("admin")

    client.post(
        f"/admin/users/{ewa.id}",
        data={"login": "ewa", "active": "y", "language": "pl", "email": "ewa@biuro.pl"},
    )

    db.session.expire_all()
    assert ewa.email == "ewa@biuro.pl"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.changed")).one()
    assert '"email": {"old": "", "new": "ewa@biuro.pl"}' in entry.details
