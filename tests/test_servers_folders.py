"""Dostępne foldery IMAP na serwerze: the credentials test, through the real IMAP adapter."""

import socket
from collections.abc import Iterator

import pytest

from ekpanel.extensions import db
from ekpanel.servers import routes
from ekpanel.servers.operations import ServerValues, save_server
from tests.factories import PASSWORD, make_company, make_user
from tests.support.ms_emulator import MsEmulator
from tests.support.ports import free_port


@pytest.fixture
def admin(sqlite_app):
    client = sqlite_app.test_client()
    make_user("szef", admin=True)
    client.post("/login", data={"login": "szef", "password": PASSWORD})
    return client


def imap_server_at(port: int, *, encryption="ssl", username="u@example.test", password="x") -> int:
    values = ServerValues(
        protocol="imap",
        host="127.0.0.1",
        port=port,
        encryption=encryption,
        username=username,
        secret=password,
        whitelist=["*@dostawca.pl"],
        folders=["INBOX"],
    )
    server = save_server(None, make_company(), values)
    db.session.commit()
    return server.id


def folder_list(client, server_id: int) -> str:
    response = client.get(
        f"/settings/email/servers/{server_id}/remote-folders", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener.getsockname()[1]


def test_real_server_lists_its_folders_with_polish_names(admin, sqlite_app, dovecot, mail_user):
    sqlite_app.config["CA_BUNDLE"] = str(dovecot.ca_path)
    dovecot.create_folder(mail_user.login, mail_user.password, "Faktury/Wiadomości-śmieci")
    server_id = imap_server_at(dovecot.imaps_port, username=mail_user.login, password=mail_user.password)

    html = folder_list(admin, server_id)

    assert 'role="alert"' not in html
    for name in ("INBOX", "Junk", "Faktury/Wiadomości-śmieci"):
        assert f'value="{name}"' in html
    assert "\\Junk" in html  # the SPECIAL-USE flag is shown


def test_untrusted_certificate_is_explained(admin, dovecot, mail_user):
    server_id = imap_server_at(dovecot.imaps_port, username=mail_user.login, password=mail_user.password)
    html = folder_list(admin, server_id)
    assert 'role="alert">Certyfikat' in html


def test_refused_connection_is_explained(admin):
    server_id = imap_server_at(free_port("127.0.0.1"))
    html = folder_list(admin, server_id)
    assert "nie przyjmuje połączeń na porcie" in html


def test_silent_server_hits_the_folder_list_time_limit(admin, silent_server, monkeypatch):
    monkeypatch.setattr(routes, "FOLDER_LIST_TIMEOUT", 0.5)
    server_id = imap_server_at(silent_server)
    html = folder_list(admin, server_id)
    assert "nie odpowiedział w ciągu 0.5 s" in html


# --- Outlook 365, against the emulator -----------------------------------------------------------

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-0000-0000-0000-000000000001"
SECRET = "Qx8~emulator-secret-value"
MAILBOX = "faktury@contoso.com"


@pytest.fixture
def ms_emulator(sqlite_app) -> Iterator[MsEmulator]:
    with MsEmulator() as emulator:
        emulator.add_tenant(TENANT, domain="contoso.onmicrosoft.com")
        emulator.add_mailbox(MAILBOX)
        emulator.add_folder(MAILBOX, "Faktury zakupowe", parent="inbox")
        sqlite_app.config.update(
            MS_LOGIN_URL=emulator.login_url, GRAPH_URL=emulator.graph_url, CA_BUNDLE=emulator.ca_path
        )
        yield emulator
        assert emulator.errors == []


def outlook_server(*, tenant=TENANT, client_id=CLIENT, secret=SECRET) -> int:
    values = ServerValues(
        protocol="graph",
        name="Outlook",
        client_id=client_id,
        tenant=tenant,
        mailbox_address=MAILBOX,
        secret=secret,
        whitelist=["*@dostawca.pl"],
        folders=["INBOX"],
    )
    server = save_server(None, make_company(), values)
    db.session.commit()
    return server.id


def test_outlook_server_lists_folders_with_their_children(admin, ms_emulator):
    ms_emulator.add_app(CLIENT, SECRET, TENANT)
    html = folder_list(admin, outlook_server())
    assert 'role="alert"' not in html
    assert "Junk Email" in html
    assert "Faktury zakupowe" in html  # a child of Inbox


@pytest.mark.parametrize(
    ("arrange", "server", "message"),
    [
        ({}, {"secret": "wrong-secret"}, "AADSTS7000215"),
        ({"secret_expired": True}, {}, "AADSTS7000222"),
        ({}, {"client_id": "bbbbbbbb-0000-0000-0000-000000000002"}, "AADSTS700016"),
        ({}, {"tenant": "99999999-2222-3333-4444-555555555555"}, "AADSTS90002"),
        ({"consented": False}, {}, "nie udzielił zgody"),
    ],
)
def test_outlook_failures_are_classified(admin, ms_emulator, arrange, server, message):
    ms_emulator.add_app(CLIENT, SECRET, TENANT, **arrange)
    html = folder_list(admin, outlook_server(**server))
    assert 'role="alert"' in html
    assert message in html
