"""The servers of a company through the panel: the dialog's rules, secrets, consent, rights."""

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ekpanel.clock import next_check_time
from ekpanel.extensions import db
from ekpanel.mail.mailbox import MailboxError, RemoteFolder
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode
from ekpanel.servers import routes
from ekpanel.servers.models import MailServer
from ekpanel.servers.secrets import decrypt_secret
from tests.factories import make_check, make_company, make_graph_server, make_imap_server, make_user
from tests.support.ms_account import CLIENT_ID, TENANT_ID
from tests.support.server_forms import CLIENT_SECRET, GRAPH_FORM, IMAP_FORM, PASSWORD


def new_url(company):
    return f"/settings/email/companies/{company.id}/servers/new"


def only_server() -> MailServer:
    return db.session.scalars(db.select(MailServer)).one()


# --- adding -----------------------------------------------------------------------------------


def test_admin_adds_an_imap_server(admin_client, company):
    response = admin_client.post(new_url(company), data=IMAP_FORM)

    server = only_server()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/settings/email/servers/{server.id}/edit")
    assert (server.protocol, server.host, server.port, server.encryption) == (
        "imap",
        "imap.biuro.pl",
        993,
        "ssl",
    )
    assert server.whitelist_entries == ["faktury@dostawca.pl", "*@helpoffice.pl"]
    assert server.folder_names == ["INBOX", "spam"]
    assert decrypt_secret(server.secret_encrypted) == PASSWORD


@pytest.mark.parametrize(("encryption", "port"), [("ssl", 993), ("starttls", 143), ("none", 143)])
def test_port_follows_the_encryption_when_none_is_typed(admin_client, company, encryption, port):
    admin_client.post(new_url(company), data=IMAP_FORM | {"encryption": encryption})
    assert only_server().port == port


def test_typed_port_is_kept(admin_client, company):
    admin_client.post(new_url(company), data=IMAP_FORM | {"encryption": "starttls", "port": "1143"})
    assert only_server().port == 1143


def test_admin_adds_an_outlook_server(admin_client, company):
    response = admin_client.post(new_url(company), data=GRAPH_FORM)

    server = only_server()
    assert response.status_code == 302
    assert (server.protocol, server.name, server.client_id, server.tenant) == (
        "graph",
        "Outlook biura",
        CLIENT_ID,
        TENANT_ID,
    )
    assert server.mailbox_address == "faktury@contoso.com"
    assert server.secret_expires_on == date(2028, 11, 24)
    assert decrypt_secret(server.secret_encrypted) == CLIENT_SECRET
    assert server.host is None


def test_tenant_may_be_a_domain(admin_client, company):
    admin_client.post(new_url(company), data=GRAPH_FORM | {"tenant": "Contoso.onmicrosoft.com"})
    assert only_server().tenant == "contoso.onmicrosoft.com"


def test_new_server_dialog_has_the_labels_and_default_folders(admin_client, company):
    html = admin_client.get(new_url(company)).get_data(as_text=True)
    for label in (
        "Serwer poczty przychodzącej",
        "Port",
        "Rodzaj szyfrowania",
        "Nazwa użytkownika",
        "Hasło",
        "Adresy e-mail mogących wysyłać dokumenty",
        "Foldery IMAP",
        "Aktywny",
    ):
        assert f">{label}</label>" in html or f"> {label}</label>" in html
    assert "INBOX\nspam</textarea>" in html
    for option in ("SSL/TLS", "STARTTLS", "Brak", "IMAP", "API Outlook 365"):
        assert f">{option}</option>" in html


def test_switching_protocol_swaps_in_the_outlook_fields(admin_client, company, htmx):
    response = admin_client.get(
        f"/settings/email/companies/{company.id}/servers/fields?protocol=graph",
        headers=htmx,
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="protocol-fields"')
    for label in (
        "Nazwa serwera",
        "ID aplikacji",
        "Klucz sekretny aplikacji",
        "Tenant ID",
        "Adres skrzynki",
        "Klucz ważny do",
    ):
        assert f">{label}</label>" in html
    assert "Serwer poczty przychodzącej" not in html
    assert "Foldery IMAP" not in html  # the common fields stay as typed on the page


# --- what the form refuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "changes", "message"),
    [
        (IMAP_FORM, {"host": ""}, "To pole jest wymagane."),
        (IMAP_FORM, {"host": "imap firma.pl"}, "Podaj nazwę hosta lub adres IP"),
        (IMAP_FORM, {"username": " "}, "To pole jest wymagane."),
        (IMAP_FORM, {"password": ""}, "To pole jest wymagane."),
        (IMAP_FORM, {"port": "99999"}, "Port to liczba od 1 do 65535."),
        (IMAP_FORM, {"port": "imap"}, "Port to liczba od 1 do 65535."),
        (
            IMAP_FORM,
            {"whitelist": "faktury@dostawca.pl, jan@firma"},
            "To nie jest adres e-mail ani wzorzec z *: jan@firma",
        ),
        (
            IMAP_FORM,
            {"whitelist": "a@b.pl nie-adres x@@y.pl"},
            "To nie jest adres e-mail ani wzorzec z *: nie-adres, x@@y.pl "
            "(spacja, przecinek i średnik rozdzielają wpisy)",
        ),
        (
            IMAP_FORM,
            {"whitelist": "*@helpoffice.pl\nfaktury dostawca.pl"},
            "To nie jest adres e-mail ani wzorzec z *: faktury, dostawca.pl "
            "(spacja, przecinek i średnik rozdzielają wpisy)",
        ),
        (IMAP_FORM, {"folders": " \n "}, "Podaj co najmniej jeden folder."),
        (GRAPH_FORM, {"name": ""}, "To pole jest wymagane."),
        (GRAPH_FORM, {"client_id": "moja-aplikacja"}, "ID aplikacji to identyfikator GUID"),
        (GRAPH_FORM, {"client_secret": ""}, "To pole jest wymagane."),
        (GRAPH_FORM, {"tenant": "contoso"}, "Tenant ID to identyfikator GUID albo domena"),
        (GRAPH_FORM, {"mailbox_address": "faktury"}, "Podaj adres skrzynki"),
        (GRAPH_FORM, {"secret_expires_on": "24.11.2028"}, "Podaj datę w postaci RRRR-MM-DD."),
    ],
)
def test_server_form_explains_what_is_wrong(admin_client, company, base, changes, message, htmx):
    response = admin_client.post(new_url(company), data=base | changes, headers=htmx)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html
    assert message in html
    assert db.session.scalar(db.select(db.func.count(MailServer.id))) == 0


def test_the_other_protocols_fields_are_not_checked(admin_client, company):
    data = GRAPH_FORM | {"host": "not a host", "port": "x", "encryption": "?"}
    assert admin_client.post(new_url(company), data=data).status_code == 302


def test_empty_whitelist_is_allowed_with_a_warning(admin_client, company):
    response = admin_client.post(new_url(company), data=IMAP_FORM | {"whitelist": ""}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert only_server().whitelist == ""
    assert "Biała lista jest pusta: z tego serwera nie zostanie pobrana żadna wiadomość." in html
    assert "Pusta biała lista: nic nie zostanie pobrane" in html  # on the server's row


def test_invalid_form_keeps_what_was_typed_but_the_password(admin_client, company, htmx):
    response = admin_client.post(new_url(company), data=IMAP_FORM | {"host": ""}, headers=htmx)
    html = response.get_data(as_text=True)
    assert "faktury@biuro.pl" in html and "*@helpoffice.pl" in html
    # A secret never goes back to the browser: the field is empty, and says why.
    assert PASSWORD not in html
    assert 'id="password" name="password" type="password" value=""' in html
    assert "Wpisane hasło nie zostało zapisane" in html


def test_invalid_outlook_form_asks_for_the_client_secret_again(admin_client, company, htmx):
    response = admin_client.post(new_url(company), data=GRAPH_FORM | {"tenant": "contoso"}, headers=htmx)
    html = response.get_data(as_text=True)
    assert CLIENT_SECRET not in html
    assert 'id="client_secret" name="client_secret" type="password" value=""' in html
    assert "Wpisany klucz nie został zapisany" in html


def test_no_note_about_the_secret_when_none_was_typed(admin_client, company, htmx):
    server = make_imap_server(company)
    response = admin_client.post(
        f"/settings/email/servers/{server.id}/edit",
        data=IMAP_FORM | {"password": "", "host": ""},
        headers=htmx,
    )
    html = response.get_data(as_text=True)
    assert "To pole jest wymagane." in html  # the host
    assert "Wpisane hasło nie zostało zapisane" not in html  # the stored one stays: nothing to retype


def test_whitelist_accepts_recipients_pasted_from_a_mail_client(admin_client, company):
    pasted = 'Jan Kowalski <Jan@Dostawca.pl>, "Nowak, Ewa" <ewa@helpoffice.pl>'
    assert admin_client.post(new_url(company), data=IMAP_FORM | {"whitelist": pasted}).status_code == 302
    assert only_server().whitelist_entries == ["jan@dostawca.pl", "ewa@helpoffice.pl"]


# --- secrets ----------------------------------------------------------------------------------


def test_secret_is_never_rendered_back(admin_client, company, htmx):
    responses = [admin_client.post(new_url(company), data=IMAP_FORM, follow_redirects=True)]
    server = only_server()
    responses.append(admin_client.get(f"/settings/email/servers/{server.id}/edit"))
    responses.append(admin_client.get(f"/settings/email/servers/{server.id}/edit", headers=htmx))
    responses.append(admin_client.get(f"/settings/email/companies/{company.id}"))
    # Saving in the dialog leaves it open for editing: with what was saved, not the typed secret.
    responses.append(
        admin_client.post(f"/settings/email/servers/{server.id}/edit", data=IMAP_FORM, headers=htmx)
    )
    responses.append(admin_client.post(new_url(company), data=IMAP_FORM, headers=htmx))
    for response in responses:
        html = response.get_data(as_text=True)
        assert PASSWORD not in html
        assert server.secret_encrypted not in html
    assert 'id="server-form"' in responses[-1].get_data(as_text=True)
    assert "pozostaw puste, aby nie zmieniać" in responses[1].get_data(as_text=True)


def test_outlook_edit_page_does_not_show_the_stored_client_secret(admin_client, company):
    server = make_graph_server(company)
    html = admin_client.get(f"/settings/email/servers/{server.id}/edit").get_data(as_text=True)
    assert 'name="client_secret"' in html
    assert 'id="client_secret" name="client_secret" type="password" value=""' in html
    assert decrypt_secret(server.secret_encrypted) not in html


@pytest.mark.parametrize("make_server", [make_imap_server, make_graph_server])
def test_server_folder_list_section_has_the_name_of_the_help_page(admin_client, company, make_server):
    server = make_server(company)
    html = admin_client.get(f"/settings/email/servers/{server.id}/edit").get_data(as_text=True)
    assert "<h4>Dostępne foldery IMAP na serwerze</h4>" in html


def test_empty_secret_on_edit_keeps_the_stored_one(admin_client, company):
    admin_client.post(new_url(company), data=IMAP_FORM)
    server = only_server()
    response = admin_client.post(
        f"/settings/email/servers/{server.id}/edit",
        data=IMAP_FORM | {"password": "", "host": "mail.biuro.pl"},
    )
    assert response.status_code == 302
    db.session.refresh(server)
    assert server.host == "mail.biuro.pl"
    assert decrypt_secret(server.secret_encrypted) == PASSWORD


def test_typed_secret_on_edit_replaces_the_stored_one(admin_client, company):
    admin_client.post(new_url(company), data=IMAP_FORM)
    server = only_server()
    admin_client.post(
        f"/settings/email/servers/{server.id}/edit", data=IMAP_FORM | {"password": "nowe-haslo"}
    )
    db.session.refresh(server)
    assert decrypt_secret(server.secret_encrypted) == "nowe-haslo"


def test_changing_protocol_asks_for_the_new_secret(admin_client, company, htmx):
    admin_client.post(new_url(company), data=IMAP_FORM)
    server = only_server()
    response = admin_client.post(
        f"/settings/email/servers/{server.id}/edit",
        data=GRAPH_FORM | {"client_secret": ""},
        headers=htmx,
    )
    assert "To pole jest wymagane." in response.get_data(as_text=True)
    db.session.refresh(server)
    assert server.protocol == "imap"


def test_database_file_holds_no_secret_in_plain_text(sqlite_app):
    sqlite_app.config["SECRETS_KEY"] = ""  # the key generated into the instance folder
    client = sqlite_app.test_client()
    make_user("szef", admin=True)
    client.post("/login", data={"login": "szef", "password": "haslo-testowe-1"})
    company = make_company("Alfa")
    client.post(new_url(company), data=IMAP_FORM)
    client.post(new_url(company), data=GRAPH_FORM)
    db.session.remove()
    db.engine.dispose()  # everything on disk, nothing only in a connection

    database = Path(sqlite_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    files = [
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-journal"),
    ]
    raw = b"".join(path.read_bytes() for path in files if path.exists())
    assert b"imap.biuro.pl" in raw  # the file is the one written to
    for secret in (PASSWORD, CLIENT_SECRET):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw


# --- collisions -------------------------------------------------------------------------------


def test_saving_warns_about_another_company_on_the_same_mailbox(admin_client, company):
    make_imap_server(make_company("Beta sp. z o.o."), whitelist=["*@dostawca.pl"], folders=["INBOX"])
    response = admin_client.post(new_url(company), data=IMAP_FORM, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Uwaga: firma Beta sp. z o.o. ma serwer" in html
    assert "faktury@dostawca.pl / *@dostawca.pl" in html
    assert db.session.scalar(db.select(db.func.count(MailServer.id))) == 2  # saved anyway


def test_enabling_a_server_warns_about_a_collision_that_arose_while_it_was_off(admin_client, company, htmx):
    mine = make_imap_server(company, whitelist=["faktury@dostawca.pl"], folders=["INBOX"], active=False)
    make_imap_server(make_company("Beta sp. z o.o."), whitelist=["*@dostawca.pl"], folders=["INBOX"])
    url = f"/settings/email/servers/{mine.id}/active"

    response = admin_client.post(url, headers=htmx)
    html = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#company-panel"  # the panel, where messages show
    assert "Uwaga: firma Beta sp. z o.o. ma serwer" in html
    assert "faktury@dostawca.pl / *@dostawca.pl" in html
    db.session.refresh(mine)
    assert mine.active is True  # enabled anyway

    response = admin_client.post(url, headers=htmx)  # disabling warns of nothing
    assert "HX-Retarget" not in response.headers
    assert "Uwaga: firma" not in response.get_data(as_text=True)


def test_no_collision_warning_for_a_different_mailbox(admin_client, company):
    make_imap_server(make_company("Beta"), username="kadry@biuro.pl", whitelist=["*@dostawca.pl"])
    html = admin_client.post(new_url(company), data=IMAP_FORM, follow_redirects=True).get_data(as_text=True)
    assert "Uwaga: firma" not in html


# --- rows and the company list ----------------------------------------------------------------


def test_rows_show_protocol_state_next_check_and_warnings(admin_client, company, app):
    make_imap_server(company, whitelist=["*@x.pl"])
    make_graph_server(company, whitelist=["*@x.pl"], secret_expires_on=date.today() + timedelta(days=10))
    html = admin_client.get(f"/settings/email/companies/{company.id}").get_data(as_text=True)
    assert ">IMAP</td>" in html and ">API Outlook 365</td>" in html
    assert "jeszcze nie sprawdzano" in html
    assert (
        next_check_time(app.config["CHECK_TIMES"], app.config["TIMEZONE"]).strftime("%Y-%m-%d %H:%M") in html
    )
    assert "Brak zgody administratora" in html
    assert f"Klucz wygasa {(date.today() + timedelta(days=10)).isoformat()}" in html
    assert f"klucz ważny do {(date.today() + timedelta(days=10)).isoformat()}" in html


def test_company_list_warns_about_an_expiring_secret(admin_client, company):
    other = make_company("Beta")
    make_graph_server(company, whitelist=["*@x.pl"], secret_expires_on=date.today() - timedelta(days=1))
    html = admin_client.get(f"/settings/email/companies/{other.id}").get_data(as_text=True)
    assert f'data-company-warnings="{company.id}"' in html
    assert "klucz wygasł" in html
    assert f'data-company-warnings="{other.id}"' not in html


def test_company_list_says_which_company_has_a_mailbox_that_stopped_working(admin_client, company):
    other = make_company("Beta")
    down = make_imap_server(company, whitelist=["*@x.pl"])
    make_check(down, started_at=datetime(2026, 11, 21, 4, 0))
    make_check(down, started_at=datetime(2026, 11, 22, 4, 0), outcome="failed")
    fine = make_imap_server(other, whitelist=["*@x.pl"], username="kadry@biuro.pl")
    make_check(fine, started_at=datetime(2026, 11, 22, 4, 0))

    html = admin_client.get(f"/settings/email/companies/{other.id}").get_data(as_text=True)
    warnings = re.search(rf'data-company-warnings="{company.id}">(.*?)</span>\s*</span>', html, re.S)
    assert warnings is not None and 'data-warning="checks_failing"' in warnings.group(1)
    assert f'data-company-warnings="{other.id}"' not in html


def test_saving_in_the_dialog_refreshes_the_company_list_too(admin_client, company, htmx):
    response = admin_client.post(new_url(company), data=IMAP_FORM | {"whitelist": ""}, headers=htmx)
    html = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#company-panel"
    assert response.headers["HX-Push-Url"] == f"/settings/email/servers/{only_server().id}/edit"
    assert re.search(r'<nav [^>]*id="company-list"[^>]*hx-swap-oob="true"', html)
    assert f'data-company-warnings="{company.id}"' in html


def test_message_after_saving_in_the_dialog_is_shown_in_the_dialog(admin_client, company, htmx):
    """The dialog stays open for editing and is modal: a message behind it would go unseen."""
    response = admin_client.post(new_url(company), data=IMAP_FORM, headers=htmx)
    html = response.get_data(as_text=True)
    assert html.count("Dodano serwer faktury@biuro.pl (imap.biuro.pl).") == 1
    dialog = html[html.index('id="server-dialog"') : html.index("</dialog>")]
    assert "Dodano serwer faktury@biuro.pl (imap.biuro.pl)." in dialog


def test_message_after_deleting_is_shown_above_the_rows(admin_client, company, htmx):
    server = make_imap_server(company)
    response = admin_client.post(f"/settings/email/servers/{server.id}/delete", headers=htmx)
    html = response.get_data(as_text=True)
    assert html.index("Usunięto serwer faktury@biuro.pl (imap.biuro.pl).") < html.index('id="server-rows"')


def test_row_shows_the_last_check_and_its_outcome(admin_client, company):
    from ekpanel.checks.models import Check

    server = make_imap_server(company, whitelist=["*@x.pl"])
    db.session.add(
        Check(server_id=server.id, trigger="schedule", outcome="failed", error_note={"text": "Błędne hasło."})
    )
    db.session.commit()
    html = admin_client.get(f"/settings/email/companies/{company.id}").get_data(as_text=True)
    assert "nieudane" in html and "Błędne hasło." in html
    assert f"/servers/{server.id}/checks" in html  # the way to "why was this not taken?"


def server_row(html: str, server) -> str:
    start = html.index(f'<tr id="server-{server.id}"')
    return html[start : html.index("</tr>", start)]


def test_failed_check_shows_its_reason_instead_of_zero_counts(admin_client, company):
    from ekpanel.checks.models import Check

    server = make_imap_server(company, whitelist=["*@x.pl"])
    reason = "Nie udało się połączyć z serwerem imap.biuro.pl: " + "przekroczono czas oczekiwania " * 8
    db.session.add(
        Check(server_id=server.id, trigger="schedule", outcome="failed", error_note={"text": reason})
    )
    db.session.commit()
    row = server_row(
        admin_client.get(f"/settings/email/companies/{company.id}").get_data(as_text=True), server
    )
    assert "pobrano 0" not in row
    assert f'title="{reason}"' in row  # the whole reason, on hover
    assert "Nie udało się połączyć z serwerem imap.biuro.pl" in row
    assert reason not in row.replace(f'title="{reason}"', "")  # shortened where it is shown
    assert 'data-warning="checks_failing">Nie działa</span>' in row  # and the Uwagi column says so

    server.active = False  # a disabled server is not checked: its old failure is no warning
    db.session.commit()
    row = server_row(
        admin_client.get(f"/settings/email/companies/{company.id}").get_data(as_text=True), server
    )
    assert "checks_failing" not in row


def test_row_of_a_server_that_works_has_counts_and_no_failing_warning(admin_client, company):
    from ekpanel.checks.models import Check

    server = make_imap_server(company, whitelist=["*@x.pl"])
    db.session.add(Check(server_id=server.id, trigger="schedule", outcome="ok", taken=2, skipped_sender=3))
    db.session.commit()
    row = server_row(
        admin_client.get(f"/settings/email/companies/{company.id}").get_data(as_text=True), server
    )
    assert "pobrano 2, pominięto 3, błędy 0" in row
    assert "checks_failing" not in row


def test_row_says_since_when_a_server_keeps_failing(admin_client, company):
    from ekpanel.checks.models import Check

    server = make_imap_server(company, whitelist=["*@x.pl"])
    starts = [datetime(2026, 11, 20, 4, 0), datetime(2026, 11, 21, 4, 0), datetime(2026, 11, 22, 4, 0)]
    for started, outcome in zip(starts, ["ok", "failed", "failed"], strict=True):
        db.session.add(Check(server_id=server.id, trigger="schedule", outcome=outcome, started_at=started))
    db.session.commit()
    html = admin_client.get(f"/settings/email/companies/{company.id}").get_data(as_text=True)
    assert "nie działa od 2026-11-21 05:00" in html  # 04:00 UTC is 05:00 in Warsaw


# --- enable, disable, delete ------------------------------------------------------------------


def test_disable_and_enable_a_server(admin_client, company, htmx):
    server = make_imap_server(company)
    response = admin_client.post(f"/settings/email/servers/{server.id}/active", headers=htmx)
    assert response.get_data(as_text=True).lstrip().startswith(f'<tr id="server-{server.id}"')
    db.session.refresh(server)
    assert server.active is False
    admin_client.post(f"/settings/email/servers/{server.id}/active")
    db.session.refresh(server)
    assert server.active is True


def test_delete_asks_first_then_deletes(admin_client, company, htmx):
    server = make_imap_server(company)
    confirm = admin_client.get(f"/settings/email/servers/{server.id}/delete").get_data(as_text=True)
    assert "Dokumenty już z niego pobrane pozostaną" in confirm
    assert db.session.get(MailServer, server.id) is not None

    response = admin_client.post(f"/settings/email/servers/{server.id}/delete", headers=htmx)
    assert response.headers["HX-Retarget"] == "#company-panel"
    assert db.session.scalars(db.select(MailServer)).all() == []


# --- the folders on the server ----------------------------------------------------------------


def test_folder_list_shows_folders_with_polish_names(admin_client, company, monkeypatch, htmx):
    server = make_imap_server(company)
    folders = [
        RemoteFolder("INBOX", "INBOX", "/"),
        RemoteFolder(
            "INBOX.Wiadomo&AWs-ci-&AVs-mieci", "INBOX.Wiadomości-śmieci", ".", frozenset({"\\Junk"})
        ),
    ]
    monkeypatch.setattr(routes, "list_folders", lambda s, settings: folders)
    response = admin_client.get(f"/settings/email/servers/{server.id}/remote-folders", headers=htmx)
    html = response.get_data(as_text=True)
    assert "INBOX.Wiadomości-śmieci" in html
    assert 'value="INBOX.Wiadomości-śmieci"' in html
    assert "\\Junk" in html


def test_folder_list_is_asked_for_with_a_fifteen_second_limit(admin_client, company, monkeypatch):
    server = make_imap_server(company)
    seen = {}
    monkeypatch.setattr(
        routes, "list_folders", lambda s, settings: seen.setdefault("settings", settings) and []
    )
    admin_client.get(f"/settings/email/servers/{server.id}/remote-folders")
    assert seen["settings"].imap_timeout == 15


def test_folder_list_failure_shows_the_classified_message(admin_client, company, monkeypatch, htmx):
    server = make_imap_server(company)

    def refuse(server, settings):
        raise MailboxError(ErrorCode.AUTH_FAILED, note(Text.IMAP_AUTH_FAILED), detail="NO [AUTH]")

    monkeypatch.setattr(routes, "list_folders", refuse)
    html = admin_client.get(f"/settings/email/servers/{server.id}/remote-folders", headers=htmx).get_data(
        as_text=True
    )
    assert 'role="alert">Serwer odrzucił nazwę użytkownika lub hasło.</div>' in html


def test_unexpected_folder_list_failure_is_logged_not_shown(admin_client, company, monkeypatch, caplog, htmx):
    server = make_imap_server(company)

    def explode(server, settings):
        raise RuntimeError("internal detail /srv/secret/path")

    monkeypatch.setattr(routes, "list_folders", explode)
    response = admin_client.get(f"/settings/email/servers/{server.id}/remote-folders", headers=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nie udało się pobrać listy folderów z powodu nieoczekiwanego błędu." in html
    assert "internal detail" not in html and "Traceback" not in html
    assert "internal detail" in caplog.text


def test_adding_a_folder_from_the_list_updates_the_field_as_typed(admin_client, company, htmx):
    server = make_imap_server(company)
    response = admin_client.post(
        f"/settings/email/servers/{server.id}/folders-field",
        data={"folders": "INBOX\nspam\nRęcznie", "add": "INBOX.Wiadomości-śmieci"},
        headers=htmx,
    )
    html = response.get_data(as_text=True)
    assert 'id="field-folders"' in html
    assert "INBOX\nspam\nRęcznie\nINBOX.Wiadomości-śmieci</textarea>" in html


# --- admin consent ----------------------------------------------------------------------------


def start_consent(client, server):
    response = client.post(f"/settings/email/servers/{server.id}/consent")
    assert response.status_code == 302
    return urlsplit(response.headers["Location"]), parse_qs(urlsplit(response.headers["Location"]).query)


def test_consent_sends_the_browser_to_microsoft(admin_client, company, app):
    app.config["MS_LOGIN_URL"] = "https://login.example.test"
    server = make_graph_server(company)
    target, query = start_consent(admin_client, server)
    assert (
        f"{target.scheme}://{target.netloc}{target.path}"
        == f"https://login.example.test/{TENANT_ID}/adminconsent"
    )
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://localhost/settings/email/consent/callback"]
    assert len(query["state"][0]) >= 32


def test_consent_callback_records_when_and_by_whom(admin_client, company):
    server = make_graph_server(company)
    _, query = start_consent(admin_client, server)
    response = admin_client.get(
        "/settings/email/consent/callback",
        query_string={"admin_consent": "True", "tenant": TENANT_ID, "state": query["state"][0]},
        follow_redirects=True,
    )
    db.session.refresh(server)
    assert server.consent_granted_at is not None
    assert server.consent_granted_by.login == "szef"
    assert "Zapisano zgodę administratora" in response.get_data(as_text=True)


@pytest.mark.parametrize("state", ["", "forged-state-value"])
def test_consent_callback_refuses_a_forged_state(admin_client, company, state):
    server = make_graph_server(company)
    start_consent(admin_client, server)
    response = admin_client.get(
        "/settings/email/consent/callback",
        query_string={"admin_consent": "True", "tenant": TENANT_ID, "state": state},
    )
    assert response.status_code == 400
    assert "Nieprawidłowy lub już wykorzystany parametr state" in response.get_data(as_text=True)
    db.session.refresh(server)
    assert server.consent_granted_at is None


def test_consent_state_cannot_be_replayed(admin_client, company):
    server = make_graph_server(company)
    _, query = start_consent(admin_client, server)
    args = {"admin_consent": "True", "tenant": TENANT_ID, "state": query["state"][0]}
    assert admin_client.get("/settings/email/consent/callback", query_string=args).status_code == 302
    server.consent_granted_at = None
    db.session.commit()

    replay = admin_client.get("/settings/email/consent/callback", query_string=args)
    assert replay.status_code == 400
    db.session.refresh(server)
    assert server.consent_granted_at is None


def test_consent_state_of_another_session_is_refused(app, admin_client, company):
    server = make_graph_server(company)
    _, query = start_consent(admin_client, server)
    other = app.test_client()
    make_user("drugi", admin=True)
    other.post("/login", data={"login": "drugi", "password": "haslo-testowe-1"})
    response = other.get(
        "/settings/email/consent/callback",
        query_string={"admin_consent": "True", "tenant": TENANT_ID, "state": query["state"][0]},
    )
    assert response.status_code == 400


def test_consent_refusal_shows_microsofts_error(admin_client, company):
    server = make_graph_server(company)
    _, query = start_consent(admin_client, server)
    response = admin_client.get(
        "/settings/email/consent/callback",
        query_string={
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent to access the app.",
            "state": query["state"][0],
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "access_denied: AADSTS65004: User declined to consent to access the app." in html
    db.session.refresh(server)
    assert server.consent_granted_at is None


def test_consent_is_only_for_outlook_servers(admin_client, company):
    server = make_imap_server(company)
    assert admin_client.post(f"/settings/email/servers/{server.id}/consent").status_code == 404


# --- who may ----------------------------------------------------------------------------------

OPERATOR_URLS = [
    ("get", "/settings/email/companies/{company}/servers/new"),
    ("post", "/settings/email/companies/{company}/servers/new"),
    ("get", "/settings/email/companies/{company}/servers/fields?protocol=graph"),
    ("get", "/settings/email/servers/{server}/edit"),
    ("post", "/settings/email/servers/{server}/edit"),
    ("post", "/settings/email/servers/{server}/active"),
    ("get", "/settings/email/servers/{server}/delete"),
    ("post", "/settings/email/servers/{server}/delete"),
    ("get", "/settings/email/servers/{server}/remote-folders"),
    ("post", "/settings/email/servers/{server}/folders-field"),
    ("post", "/settings/email/servers/{server}/consent"),
    ("get", "/settings/email/consent/callback?state=x&admin_consent=True"),
]


@pytest.mark.parametrize(("method", "url"), OPERATOR_URLS)
def test_operators_may_not_configure_servers(client, auth, company, method, url):
    server = make_graph_server(company)
    make_user("anna", companies=[company], can_refresh=True)
    auth.login("anna")
    response = getattr(client, method)(url.format(company=company.id, server=server.id), data=GRAPH_FORM)
    assert response.status_code == 403
    db.session.refresh(server)
    assert server.active is True


@pytest.mark.parametrize(("method", "url"), OPERATOR_URLS)
def test_anonymous_visitors_are_sent_to_log_in(client, company, method, url):
    server = make_graph_server(company)
    response = getattr(client, method)(url.format(company=company.id, server=server.id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
