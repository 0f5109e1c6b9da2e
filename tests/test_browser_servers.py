"""A company's mail servers configured in real Chromium, against Dovecot and the Microsoft emulator."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from ekpanel.companies.models import Company
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from ekpanel.servers.operations import ServerValues, save_server
from ekpanel.servers.secrets import decrypt_secret
from tests.factories import make_company, make_user
from tests.support.browser import assert_no_problems, htmx_settled, log_in, watch_for_problems
from tests.support.ms_emulator import MsEmulator

pytestmark = pytest.mark.browser

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-0000-0000-0000-000000000001"
CLIENT_SECRET = "Qx8~emulator-secret-value"
MAILBOX = "faktury@contoso.com"
POLISH_FOLDER = "Wiadomości-śmieci"


@pytest.fixture
def admin_and_company(live_server):
    with live_server.app.app_context():
        make_user("szef", admin=True)
        return make_company("Alfa sp. z o.o.").id


def open_company(page, name: str) -> None:
    page.goto("/settings/email/")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def add_server(live_server, company_id: int, **values) -> int:
    with live_server.app.app_context():
        company = db.session.get(Company, company_id)
        server_id = save_server(None, company, ServerValues(**values)).id
        db.session.commit()
        return server_id


def outlook_values() -> dict:
    return {
        "protocol": "graph",
        "name": "Outlook Contoso",
        "client_id": CLIENT,
        "tenant": TENANT,
        "mailbox_address": MAILBOX,
        "secret": CLIENT_SECRET,
        "whitelist": ["*@dostawca.pl"],
        "folders": ["INBOX"],
    }


def saved_server(live_server) -> MailServer:
    with live_server.app.app_context():
        server = db.session.scalars(db.select(MailServer)).one()
        db.session.expunge(server)
        return server


def test_admin_adds_an_imap_server_and_picks_a_folder_from_the_server(
    page, live_server, admin_and_company, dovecot, mail_user
):
    live_server.app.config["CA_BUNDLE"] = str(dovecot.ca_path)
    dovecot.create_folder(mail_user.login, mail_user.password, POLISH_FOLDER)

    log_in(page, "szef")
    open_company(page, "Alfa sp. z o.o.")
    expect(page).to_have_url(re.compile(rf"/settings/email/companies/{admin_and_company}$"))
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()

    dialog.get_by_label("Serwer poczty przychodzącej").fill("127.0.0.1")
    expect(dialog.get_by_label("Port")).to_have_value("993")
    dialog.get_by_label("Rodzaj szyfrowania").select_option(label="STARTTLS")
    expect(dialog.get_by_label("Port")).to_have_value("143")  # follows the encryption
    dialog.get_by_label("Port").fill(str(dovecot.imap_port))
    dialog.get_by_label("Rodzaj szyfrowania").select_option(label="SSL/TLS")
    expect(dialog.get_by_label("Port")).to_have_value(str(dovecot.imap_port))  # typed: stays
    dialog.get_by_label("Rodzaj szyfrowania").select_option(label="STARTTLS")
    dialog.get_by_label("Nazwa użytkownika").fill(mail_user.login)
    dialog.get_by_label("Hasło").fill(mail_user.password)
    dialog.get_by_label("Adresy e-mail mogących wysyłać dokumenty").fill("*@dostawca.pl\nFaktury@Biuro.pl")
    expect(dialog.get_by_label("Foldery IMAP", exact=True)).to_have_value("INBOX\nspam")
    dialog.get_by_role("button", name="Zapisz").click()

    # The dialog stays open for editing, and says so itself: the page behind it is dimmed.
    expect(dialog.get_by_text("Dodano serwer")).to_be_visible()
    expect(page.locator("#server-rows")).to_contain_text(f"{mail_user.login} (127.0.0.1)")
    expect(page).to_have_url(re.compile(r"/settings/email/servers/\d+/edit$"))
    expect(dialog.get_by_label("Hasło")).to_have_value("")  # never sent back

    dialog.get_by_role("button", name="Pobierz listę folderów").click()
    folder_list = page.locator("#remote-folders")
    expect(folder_list).to_contain_text("Junk")
    expect(folder_list).to_contain_text(POLISH_FOLDER)
    folder_list.get_by_role("button", name=f"Dodaj {POLISH_FOLDER} do folderów IMAP").click()
    expect(dialog.get_by_label("Foldery IMAP", exact=True)).to_have_value(f"INBOX\nspam\n{POLISH_FOLDER}")
    dialog.get_by_role("button", name="Zapisz").click()
    expect(dialog.get_by_text("Zapisano serwer")).to_be_visible()

    server = saved_server(live_server)
    assert server.folder_names == ["INBOX", "spam", POLISH_FOLDER]
    assert (server.host, server.port, server.encryption) == ("127.0.0.1", dovecot.imap_port, "starttls")
    assert server.whitelist_entries == ["*@dostawca.pl", "faktury@biuro.pl"]
    with live_server.app.app_context():
        assert decrypt_secret(server.secret_encrypted) == mail_user.password  # kept on the second save


def is_modal(dialog) -> bool:
    return dialog.evaluate("d => d.matches(':modal')")


def test_server_dialog_is_modal_keeps_errors_in_view_and_closes_on_escape(
    page, live_server, admin_and_company
):
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "szef")
    open_company(page, "Alfa sp. z o.o.")
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    assert is_modal(dialog)
    box = dialog.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768  # in the viewport, scrolling inside itself
    expect(dialog.get_by_label("Protokół")).to_be_focused()

    dialog.get_by_label("Hasło").fill("tajne-haslo")
    dialog.get_by_role("button", name="Zapisz").click()
    htmx_settled(page)
    assert is_modal(dialog)  # the dialog sent back with the errors is modal again
    host = dialog.get_by_label("Serwer poczty przychodzącej")
    expect(host).to_be_focused()
    expect(host).to_be_in_viewport()
    expect(dialog.locator("#field-host").get_by_role("alert")).to_be_in_viewport()
    # A secret never comes back from the server: the field is empty, and says it must be typed again.
    expect(dialog.get_by_label("Hasło")).to_have_value("")
    expect(dialog.locator("#field-password").get_by_role("status")).to_contain_text("wpisz je ponownie")

    # What was typed is not thrown away by one stray key: Escape asks first.
    asked: list[str] = []

    def answer(accept: bool):
        def handle(question):
            asked.append(question.message)
            question.accept() if accept else question.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(dialog.get_by_label("Serwer poczty przychodzącej")).to_be_focused()
    page.once("dialog", answer(True))
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(rf"/settings/email/companies/{admin_and_company}$"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert asked == ["Zamknąć okno? Wpisane zmiany nie zostaną zapisane."] * 2
    add = page.get_by_role("link", name="Dodaj serwer")
    expect(add).to_be_focused()  # back where the keyboard user was
    add.click()  # the page is usable again
    expect(page.get_by_role("dialog")).to_be_visible()
    htmx_settled(page)
    page.keyboard.press("Escape")  # nothing typed yet: closes without asking
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert len(asked) == 2


def test_wrong_password_shows_the_classified_message(
    page, live_server, admin_and_company, dovecot, mail_user
):
    live_server.app.config["CA_BUNDLE"] = str(dovecot.ca_path)
    server_id = add_server(
        live_server,
        admin_and_company,
        protocol="imap",
        host="127.0.0.1",
        port=dovecot.imaps_port,
        encryption="ssl",
        username=mail_user.login,
        secret="to-nie-jest-haslo",
        whitelist=["*@dostawca.pl"],
        folders=["INBOX"],
    )

    log_in(page, "szef")
    page.goto(f"/settings/email/servers/{server_id}/edit")
    assert is_modal(page.get_by_role("dialog"))  # a whole page with the dialog open shows it modal too
    page.get_by_role("button", name="Pobierz listę folderów").click()
    alert = page.locator("#remote-folders").get_by_role("alert")
    expect(alert).to_have_text("Serwer odrzucił nazwę użytkownika lub hasło.")
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_switching_protocol_keeps_the_common_fields(page, live_server, admin_and_company):
    log_in(page, "szef")
    open_company(page, "Alfa sp. z o.o.")
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Adresy e-mail mogących wysyłać dokumenty").fill("*@dostawca.pl")
    dialog.get_by_label("Foldery IMAP", exact=True).fill("INBOX\nFaktury")

    dialog.get_by_label("Protokół").select_option(label="API Outlook 365")
    for label in (
        "Nazwa serwera",
        "ID aplikacji",
        "Klucz sekretny aplikacji",
        "Tenant ID",
        "Adres skrzynki",
        "Klucz ważny do",
    ):
        expect(dialog.get_by_label(label, exact=True)).to_be_visible()
    expect(dialog.get_by_label("Serwer poczty przychodzącej")).to_have_count(0)
    expect(dialog.get_by_label("Adresy e-mail mogących wysyłać dokumenty")).to_have_value("*@dostawca.pl")
    expect(dialog.get_by_label("Foldery IMAP", exact=True)).to_have_value("INBOX\nFaktury")

    dialog.get_by_label("Protokół").select_option(label="IMAP")
    expect(dialog.get_by_label("Serwer poczty przychodzącej")).to_be_visible()
    expect(dialog.get_by_label("ID aplikacji")).to_have_count(0)
    expect(dialog.get_by_label("Foldery IMAP", exact=True)).to_have_value("INBOX\nFaktury")


def test_invalid_whitelist_entry_is_named_and_nothing_is_saved(page, live_server, admin_and_company):
    log_in(page, "szef")
    open_company(page, "Alfa sp. z o.o.")
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Serwer poczty przychodzącej").fill("imap.biuro.pl")
    dialog.get_by_label("Nazwa użytkownika").fill("faktury@biuro.pl")
    dialog.get_by_label("Hasło").fill("tajne")
    dialog.get_by_label("Adresy e-mail mogących wysyłać dokumenty").fill("*@dostawca.pl, jan@firma")
    dialog.get_by_role("button", name="Zapisz").click()
    expect(dialog.get_by_role("alert")).to_have_text("To nie jest adres e-mail ani wzorzec z *: jan@firma")
    with live_server.app.app_context():
        assert db.session.scalars(db.select(MailServer)).all() == []


def test_delete_asks_for_confirmation(page, live_server, admin_and_company):
    add_server(
        live_server,
        admin_and_company,
        protocol="imap",
        host="imap.biuro.pl",
        port=993,
        encryption="ssl",
        username="u",
        secret="x",
        whitelist=[],
        folders=["INBOX"],
    )
    log_in(page, "szef")
    open_company(page, "Alfa sp. z o.o.")
    expect(page.locator("#server-rows")).to_contain_text("Pusta biała lista")
    page.get_by_role("link", name="u (imap.biuro.pl)").click()
    page.get_by_role("link", name="Usuń serwer").click()
    expect(page.get_by_role("dialog")).to_contain_text("Dokumenty już z niego pobrane pozostaną")
    page.get_by_role("button", name="Usuń", exact=True).click()
    expect(page.get_by_text("Usunięto serwer u (imap.biuro.pl).")).to_be_visible()
    expect(page.locator("#server-rows")).to_contain_text("Ta firma nie ma jeszcze serwerów")


# --- Outlook 365, against the emulator -----------------------------------------------------------


@pytest.fixture
def ms_emulator(live_server) -> Iterator[MsEmulator]:
    with MsEmulator() as emulator:
        emulator.add_tenant(TENANT, domain="contoso.onmicrosoft.com")
        emulator.add_app(CLIENT, CLIENT_SECRET, TENANT, consented=False)
        emulator.add_mailbox(MAILBOX)
        emulator.add_folder(MAILBOX, "Faktury", parent="inbox")
        live_server.app.config.update(
            MS_LOGIN_URL=emulator.login_url, GRAPH_URL=emulator.graph_url, CA_BUNDLE=emulator.ca_path
        )
        yield emulator
        assert emulator.errors == []


@pytest.fixture
def https_page(browser, live_server):
    """A page that accepts the emulator's test certificate (the browser has no way to trust its CA)."""
    context = browser.new_context(
        base_url=live_server.url, locale="pl-PL", timezone_id="Europe/Warsaw", ignore_https_errors=True
    )
    context.set_default_timeout(20_000)
    problems = watch_for_problems(context)
    yield context.new_page()
    context.close()
    assert_no_problems(problems)


def test_outlook_server_gets_consent_and_lists_its_folders(
    https_page, live_server, admin_and_company, ms_emulator
):
    page = https_page
    log_in(page, "szef")
    open_company(page, "Alfa sp. z o.o.")
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Protokół").select_option(label="API Outlook 365")
    dialog.get_by_label("Nazwa serwera").fill("Outlook Contoso")
    dialog.get_by_label("ID aplikacji").fill(CLIENT)
    dialog.get_by_label("Klucz sekretny aplikacji").fill(CLIENT_SECRET)
    dialog.get_by_label("Tenant ID").fill("contoso.onmicrosoft.com")
    dialog.get_by_label("Adres skrzynki").fill(MAILBOX)
    dialog.get_by_label("Klucz ważny do").fill("2028-11-24")
    dialog.get_by_label("Adresy e-mail mogących wysyłać dokumenty").fill("*@dostawca.pl")
    dialog.get_by_role("button", name="Zapisz").click()
    expect(page.get_by_text("Dodano serwer Outlook Contoso.")).to_be_visible()
    expect(page.locator("#server-rows")).to_contain_text("Brak zgody administratora")
    expect(page.locator("#company-list")).to_contain_text("brak zgody")

    dialog.get_by_role("button", name="Udziel zgody administratora").click()
    # A whole page comes back from Microsoft: its message is moved into the reopened dialog.
    expect(dialog.get_by_text("Zapisano zgodę administratora dla serwera Outlook Contoso.")).to_be_visible()
    assert ms_emulator.is_consented(CLIENT)
    expect(page.locator("#server-rows")).not_to_contain_text("Brak zgody administratora")
    expect(page.locator("#company-list")).not_to_contain_text("brak zgody")
    expect(page.get_by_role("dialog")).to_contain_text("przez szef")

    page.get_by_role("button", name="Pobierz listę folderów").click()
    folder_list = page.locator("#remote-folders")
    expect(folder_list).to_contain_text("Junk Email")
    expect(folder_list).to_contain_text("Faktury")
    folder_list.get_by_role("button", name=re.compile(r"^Dodaj .*Faktury do folderów IMAP$")).click()
    expect(page.get_by_label("Foldery IMAP", exact=True)).to_have_value(
        re.compile(r"^INBOX\nspam\n.*Faktury$")
    )

    server = saved_server(live_server)
    assert server.consent_granted_at is not None
    assert server.tenant == "contoso.onmicrosoft.com"


def test_consent_callback_with_a_forged_state_is_refused(
    https_page, live_server, admin_and_company, ms_emulator
):
    page = https_page
    log_in(page, "szef")
    response = page.goto(
        f"/settings/email/consent/callback?admin_consent=True&tenant={TENANT}&state=forged-by-someone"
    )
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("Nieprawidłowy lub już wykorzystany parametr state")


def test_refused_consent_shows_microsofts_answer(https_page, live_server, admin_and_company, ms_emulator):
    server_id = add_server(live_server, admin_and_company, **outlook_values())
    ms_emulator.consent_answer("access_denied")

    page = https_page
    log_in(page, "szef")
    page.goto(f"/settings/email/servers/{server_id}/edit")
    page.get_by_role("button", name="Udziel zgody administratora").click()
    expect(page.get_by_text("access_denied")).to_be_visible()
    expect(page.get_by_text("AADSTS65004")).to_be_visible()
    assert saved_server(live_server).consent_granted_at is None


def test_outlook_folder_list_without_consent_explains_why(
    https_page, live_server, admin_and_company, ms_emulator
):
    server_id = add_server(live_server, admin_and_company, **outlook_values())

    page = https_page
    log_in(page, "szef")
    page.goto(f"/settings/email/servers/{server_id}/edit")
    page.get_by_role("button", name="Pobierz listę folderów").click()
    alert = page.locator("#remote-folders").get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile("zgod", re.IGNORECASE))
