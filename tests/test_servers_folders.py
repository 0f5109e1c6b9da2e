"""Dostępne foldery IMAP na serwerze: the credentials test, through the real IMAP adapter."""

import socket
from collections.abc import Iterator

import pytest

from ekpanel.servers import routes
from tests.factories import make_graph_server, make_imap_server
from tests.support.ms_account import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT_ID
from tests.support.ms_emulator import MsEmulator
from tests.support.ports import free_port


@pytest.fixture
def client(sqlite_app):
    """The subject here is the mail protocol, not the database: SQLite only."""
    return sqlite_app.test_client()


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


def test_real_server_lists_its_folders_with_polish_names(admin_client, sqlite_app, dovecot, mail_user):
    sqlite_app.config["CA_BUNDLE"] = str(dovecot.ca_path)
    dovecot.create_folder(mail_user.login, mail_user.password, "Faktury/Wiadomości-śmieci")
    server_id = make_imap_server(
        host="127.0.0.1", port=dovecot.imaps_port, username=mail_user.login, secret=mail_user.password
    ).id

    html = folder_list(admin_client, server_id)

    assert 'role="alert"' not in html
    for name in ("INBOX", "Junk", "Faktury/Wiadomości-śmieci"):
        assert f'value="{name}"' in html
    assert "\\Junk" in html  # the SPECIAL-USE flag is shown


def test_untrusted_certificate_is_explained(admin_client, dovecot, mail_user):
    server_id = make_imap_server(
        host="127.0.0.1", port=dovecot.imaps_port, username=mail_user.login, secret=mail_user.password
    ).id
    html = folder_list(admin_client, server_id)
    assert 'role="alert">Certyfikat' in html


def test_refused_connection_is_explained(admin_client):
    server_id = make_imap_server(host="127.0.0.1", port=free_port("127.0.0.1")).id
    html = folder_list(admin_client, server_id)
    assert "nie przyjmuje połączeń na porcie" in html


def test_silent_server_hits_the_folder_list_time_limit(admin_client, silent_server, monkeypatch):
    monkeypatch.setattr(routes, "FOLDER_LIST_TIMEOUT", 0.5)
    server_id = make_imap_server(host="127.0.0.1", port=silent_server).id
    html = folder_list(admin_client, server_id)
    assert "nie odpowiedział w ciągu 0.5 s" in html


# --- Outlook 365, against the emulator -----------------------------------------------------------


@pytest.fixture
def ms_emulator(sqlite_app) -> Iterator[MsEmulator]:
    with MsEmulator() as emulator:
        emulator.add_tenant(TENANT_ID, domain="contoso.onmicrosoft.com")
        emulator.add_mailbox(MAILBOX)
        emulator.add_folder(MAILBOX, "Faktury zakupowe", parent="inbox")
        sqlite_app.config.update(
            MS_LOGIN_URL=emulator.login_url, GRAPH_URL=emulator.graph_url, CA_BUNDLE=emulator.ca_path
        )
        yield emulator
        assert emulator.errors == []


def test_outlook_server_lists_folders_with_their_children(admin_client, ms_emulator):
    ms_emulator.add_app(CLIENT_ID, CLIENT_SECRET, TENANT_ID)
    html = folder_list(admin_client, make_graph_server().id)
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
def test_outlook_failures_are_classified(admin_client, ms_emulator, arrange, server, message):
    ms_emulator.add_app(CLIENT_ID, CLIENT_SECRET, TENANT_ID, **arrange)
    html = folder_list(admin_client, make_graph_server(**server).id)
    assert 'role="alert"' in html
    assert message in html
