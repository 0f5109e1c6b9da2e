"""Sender verification as people meet it, in real Chromium: mail from a real Dovecot, checked by the
real check, the verdicts on the documents list, and an administrator's "Pobierz mimo to"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from tests.factories import make_dovecot_server, make_user
from tests.support.browser import htmx_settled, log_in
from tests.support.messages import invoice_message

pytestmark = pytest.mark.browser

OURS = "mx.biuro.test"
FIELDS = {
    "confirmed": f"{OURS}; dkim=pass header.d=dostawca.pl; dmarc=pass header.from=dostawca.pl",
    "unconfirmed": f"{OURS}; dkim=none; spf=pass smtp.mailfrom=dostawca.pl; dmarc=none",
    "failed": f"{OURS}; dkim=none; spf=fail smtp.mailfrom=obcy.example; dmarc=fail header.from=dostawca.pl",
}
LABELS = {"confirmed": "potwierdzony", "unconfirmed": "niepotwierdzony", "failed": "⚠ niezgodny"}


def make_server(mail_user, **fields):
    """A server on the test Dovecot user's INBOX that admits any sender."""
    return make_dovecot_server(mail_user, whitelist=["*@*"], folders=["INBOX"], **fields)


def deliver(mail_user, n: int, verdict: str) -> None:
    """An invoice with our server's verdict on top, as the MX stamps it."""
    field = f"Authentication-Results: {FIELDS[verdict]}\n".encode()
    mail_user.append("INBOX", field + invoice_message(mail_user.login, n))


def test_under_mark_every_document_shows_its_verdict_and_a_failed_sender_stands_out(
    page, live_server, mail_user
):
    server = make_server(mail_user, authserv_id=OURS, sender_policy="mark")
    for n, verdict in enumerate(["confirmed", "unconfirmed", "failed", "confirmed"], 1):
        deliver(mail_user, n, verdict)
    assert run_check(server.id, trigger="cli").counts.documents == 4
    expected = {d.id: d.sender_verdict for d in db.session.scalars(db.select(Document))}
    make_user("ewa", companies=[server.company])

    log_in(page, "ewa")

    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(4)
    for document_id, verdict in expected.items():
        badge = page.locator(f'tr[data-document-id="{document_id}"] .sender-verdict')
        expect(badge).to_be_visible()
        expect(badge).to_have_text(LABELS[verdict])
        box, cell = (
            badge.bounding_box(),
            page.locator(f'tr[data-document-id="{document_id}"] td.sender-cell').bounding_box(),
        )
        assert box["width"] > 20 and box["x"] + box["width"] <= cell["x"] + cell["width"] + 1  # not cut off
    failed_row = page.locator("tr.sender-failed")
    expect(failed_row).to_have_count(1)
    color = failed_row.locator("td").nth(1).evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert color not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), color  # the whole row is marked
    banner = page.locator(".sender-failed-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Nowe dokumenty od niezgodnego nadawcy: 1.")

    page.get_by_label("Weryfikacja nadawcy").select_option("failed")
    htmx_settled(page)
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"verdict=failed"))

    page.locator("tr.sender-failed a.filename").click()
    expect(page.locator(".sender-failed-banner[role=alert]")).to_contain_text("domeny dostawca.pl")
    expect(page.locator("#sender-authserv")).to_have_text(OURS)
    expect(page.locator("#sender-dmarc")).to_contain_text("fail")


def test_an_administrator_takes_a_held_back_message_anyway_and_the_next_check_takes_it(
    page, live_server, mail_user
):
    server = make_server(mail_user, authserv_id=OURS, sender_policy="require")
    deliver(mail_user, 1, "confirmed")
    deliver(mail_user, 2, "failed")
    assert run_check(server.id, trigger="cli").counts.skipped_unverified == 1
    admin = make_user("szefowa", admin=True)

    log_in(page, "szefowa")
    page.goto(f"/servers/{server.id}/checks")
    section = page.locator("#sender-skips")
    expect(section).to_contain_text("Faktura 2")
    expect(section).to_contain_text("nadawca niezgodny")
    section.get_by_role("button", name="Pobierz mimo to").click()
    expect(page.locator(".flash-success")).to_contain_text("Faktura 2")
    expect(section.locator('[data-allowance="pending"]')).to_contain_text("szefowa")
    expect(section.get_by_role("button", name="Pobierz mimo to")).to_have_count(0)

    assert run_check(server.id, trigger="cli").counts.taken == 1

    page.goto(f"/companies/{server.company_id}/documents")
    allowed = db.session.scalars(db.select(Document).filter_by(subject="Faktura 2")).one()
    assert allowed.allowed_by_id == admin.id
    row = page.locator(f'tr[data-document-id="{allowed.id}"]')
    expect(row.locator(".sender-verdict")).to_contain_text("niezgodny")
    expect(row.locator("[data-allowed]")).to_contain_text("dopuszczony")


def test_the_dialog_proposes_the_authserv_id_and_the_administrator_requires_it(page, live_server, mail_user):
    server = make_server(mail_user)
    for n in range(1, 4):
        deliver(mail_user, n, "confirmed")
    make_user("szef", admin=True)

    log_in(page, "szef")
    page.goto(f"/settings/email/servers/{server.id}/edit")
    dialog = page.get_by_role("dialog")
    field = dialog.get_by_label("Identyfikator serwera uwierzytelniającego (authserv-id)")
    expect(field).to_have_value("")
    dialog.get_by_role("button", name="Odczytaj z ostatnich wiadomości").click()
    expect(dialog.locator("[data-proposed]")).to_contain_text("Na górze 3 z 3 ostatnich wiadomości")
    expect(field).to_have_value(OURS)
    dialog.get_by_label("Weryfikacja nadawcy").select_option(label="Wymagaj")
    dialog.get_by_role("button", name="Zapisz").click()
    expect(dialog.get_by_text("Zapisano serwer")).to_be_visible()

    db.session.refresh(server)
    assert (server.sender_policy, server.authserv_id) == ("require", OURS)
    expect(page.locator(f"#server-{server.id} [data-warning]")).to_have_count(0)
