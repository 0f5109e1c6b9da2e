"""pytest fixtures for Microsoft 365: the emulator with one app and one mailbox, and an app reaching it.

Listed in ``pytest_plugins`` by tests/conftest.py. The emulator is per test (its state is the
mailbox); production code reaches it only through the settings ``MS_LOGIN_URL``, ``GRAPH_URL``
and ``CA_BUNDLE``, as it would reach Microsoft.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ekpanel.mail import graph_auth
from ekpanel.mail.graph import GraphMailbox
from ekpanel.mail.settings import MailSettings
from tests.support.ms_account import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT_ID
from tests.support.ms_emulator import MsEmulator


@pytest.fixture
def ms_emulator(monkeypatch) -> Iterator[MsEmulator]:
    """Entra ID and Graph on a loopback port, with our app (consented) and one mailbox."""
    # msal application objects outlive a check in a module cache: this test starts with an empty
    # one and leaves the shared one as it was, so no test sees another's tokens.
    monkeypatch.setattr(graph_auth, "_apps", {})
    with MsEmulator() as emulator:
        emulator.add_app(CLIENT_ID, CLIENT_SECRET, TENANT_ID)
        emulator.add_mailbox(MAILBOX)
        yield emulator
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
