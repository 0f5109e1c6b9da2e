"""Mail servers in the database pointing at a test Dovecot, and helpers around a check."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ekpanel.extensions import db
from ekpanel.mail.folders import year_folder_name
from ekpanel.servers.models import ENCRYPTION_SSL, MailServer
from ekpanel.servers.secrets import encrypt_secret
from tests.factories import make_company
from tests.support.service_fixtures import MailUser


@dataclass(frozen=True)
class Box:
    """A mail user plus how the test connects to it."""

    user: MailUser
    encryption: str = ENCRYPTION_SSL

    @property
    def server(self):
        return self.user.server

    def folder(self, name: str) -> str:
        """``Junk`` → ``INBOX.Junk`` on the Courier-style server; INBOX stays INBOX."""
        return name if name == "INBOX" else self.server.prefix + name

    @property
    def port(self) -> int:
        return self.server.imaps_port if self.encryption == ENCRYPTION_SSL else self.server.imap_port


def make_server(
    company,
    box: Box,
    *,
    whitelist: str = "faktury@dostawca.pl",
    folders: str = "INBOX\nspam",
    password: str | None = None,
) -> MailServer:
    server = MailServer(
        company_id=company.id,
        protocol="imap",
        host="127.0.0.1",
        port=box.port,
        encryption=box.encryption,
        username=box.user.login,
        secret_encrypted=encrypt_secret(password if password is not None else box.user.password),
        whitelist=whitelist,
        folders=folders,
    )
    db.session.add(server)
    db.session.commit()
    return server


def new_box(dovecot, encryption: str = ENCRYPTION_SSL) -> Box:
    """A fresh user on ``dovecot``, so tests never see each other's mail."""
    user = MailUser(dovecot, f"user-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12))
    dovecot.add_user(user.login, user.password)
    return Box(user, encryption)


def server_for(app, box: Box, **fields) -> MailServer:
    """A company with one server on ``box``; the app trusts that Dovecot's test CA."""
    app.config["CA_BUNDLE"] = str(box.server.ca_path)
    return make_server(make_company(), box, **fields)


def year_folder(box: Box) -> str:
    return box.folder(year_folder_name(datetime.now(ZoneInfo("Europe/Warsaw")).year))
