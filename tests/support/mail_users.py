"""Users of a test Dovecot, and how the panel connects to them."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ekpanel.mail.folders import year_folder_name
from ekpanel.servers.models import ENCRYPTION_SSL
from tests.support.dovecot import DovecotServer, FolderMessage


@dataclass(frozen=True)
class MailUser:
    """A mailbox user on a test Dovecot, with helpers bound to it."""

    server: DovecotServer
    login: str
    password: str

    def append(self, folder: str, raw: bytes, flags: Iterable[str] = (), date: datetime | None = None) -> int:
        """APPEND ``raw`` to ``folder``; returns the new UID."""
        return self.server.append(self.login, self.password, folder, raw, flags, date)

    def list(self, folder: str) -> list[FolderMessage]:
        """UID, flags and Message-ID of every message in ``folder``."""
        return self.server.list_folder(self.login, self.password, folder)


@dataclass(frozen=True)
class Box:
    """A mail user plus how the panel connects to it."""

    user: MailUser
    encryption: str = ENCRYPTION_SSL

    @property
    def server(self) -> DovecotServer:
        return self.user.server

    def folder(self, name: str) -> str:
        """``Junk`` → ``INBOX.Junk`` on the Courier-style server; INBOX stays INBOX."""
        return name if name == "INBOX" else self.server.prefix + name

    @property
    def port(self) -> int:
        return self.server.imaps_port if self.encryption == ENCRYPTION_SSL else self.server.imap_port

    def year_folder(self) -> str:
        """Where this year's taken messages go."""
        return self.folder(year_folder_name(datetime.now(ZoneInfo("Europe/Warsaw")).year))


def new_box(dovecot: DovecotServer, encryption: str = ENCRYPTION_SSL) -> Box:
    """A fresh user on ``dovecot``, so tests never see each other's mail."""
    user = MailUser(dovecot, f"user-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12))
    dovecot.add_user(user.login, user.password)
    return Box(user, encryption)
