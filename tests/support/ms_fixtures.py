"""pytest fixtures for Microsoft 365: the emulator with one app and one mailbox, and Graph servers.

Listed in ``pytest_plugins`` by tests/conftest.py. The emulator is per test (its state is the
mailbox); production code reaches it only through the settings ``MS_LOGIN_URL``, ``GRAPH_URL``
and ``CA_BUNDLE``, as it would reach Microsoft.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ekpanel.extensions import db
from ekpanel.mail.graph import GraphMailbox
from ekpanel.mail.graph_auth import forget_applications
from ekpanel.mail.settings import MailSettings
from ekpanel.servers.models import PROTOCOL_GRAPH, MailServer
from ekpanel.servers.secrets import encrypt_secret
from tests.factories import make_company
from tests.support.ms_emulator import MsEmulator

TENANT_ID = "7d3c9a51-1b2e-4f60-9a8b-0c1d2e3f4a5b"
CLIENT_ID = "0b6f3e2a-5c4d-4e8f-9a1b-2c3d4e5f6a7b"
CLIENT_SECRET = "Zq8~emulator.secret-value_1234567890abcd"
MAILBOX = "faktury@biuro-rachunkowe.onmicrosoft.com"
WHITELIST = "faktury@dostawca.pl"


@pytest.fixture
def ms_emulator() -> Iterator[MsEmulator]:
    """Entra ID and Graph on a loopback port, with our app (consented) and one mailbox."""
    with MsEmulator() as emulator:
        emulator.add_app(CLIENT_ID, CLIENT_SECRET, TENANT_ID)
        emulator.add_mailbox(MAILBOX)
        yield emulator
    # msal application objects outlive a test in the module cache; the next test's emulator
    # has another port, but nothing should leak between tests.
    forget_applications()
    assert emulator.errors == [], "the emulator itself failed:\n" + "\n".join(emulator.errors)


@pytest.fixture
def graph_settings(ms_emulator: MsEmulator) -> MailSettings:
    return MailSettings(
        ms_login_url=ms_emulator.login_url,
        graph_url=ms_emulator.graph_url,
        ca_bundle=ms_emulator.ca_path,
        imap_timeout=10.0,
    )


@pytest.fixture
def graph_mailbox(graph_settings: MailSettings) -> Callable[..., GraphMailbox]:
    """Build (not open) a GraphMailbox on the emulator; keyword arguments override the defaults."""

    def build(**overrides) -> GraphMailbox:
        arguments = {
            "tenant": TENANT_ID,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "mailbox": MAILBOX,
            "settings": graph_settings,
            "server_id": 1,
        }
        arguments.update(overrides)
        return GraphMailbox(**arguments)

    return build


@pytest.fixture
def graph_app(sqlite_app, ms_emulator: MsEmulator):
    """The app configured to reach Microsoft at the emulator."""
    sqlite_app.config.update(
        MS_LOGIN_URL=ms_emulator.login_url, GRAPH_URL=ms_emulator.graph_url, CA_BUNDLE=ms_emulator.ca_path
    )
    return sqlite_app


def make_graph_server(
    company=None,
    *,
    whitelist: str = WHITELIST,
    folders: str = "INBOX\nspam",
    tenant: str = TENANT_ID,
    client_id: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
    mailbox: str = MAILBOX,
) -> MailServer:
    """An "API Outlook 365" server of ``company`` (a new company by default) on the emulator's app."""
    server = MailServer(
        company_id=(company or make_company()).id,
        protocol=PROTOCOL_GRAPH,
        name="Outlook biura",
        client_id=client_id,
        tenant=tenant,
        mailbox_address=mailbox,
        secret_encrypted=encrypt_secret(secret),
        whitelist=whitelist,
        folders=folders,
    )
    db.session.add(server)
    db.session.commit()
    return server
