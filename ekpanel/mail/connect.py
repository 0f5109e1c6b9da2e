"""Open a configured mailbox: the one place that knows both protocols.

It takes :class:`MailboxAccess`, plain values with the secret already decrypted, so the mail
core never sees a database row or a key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from ekpanel.mail.folders import resolve_folder
from ekpanel.mail.imap import ImapMailbox
from ekpanel.mail.mailbox import Mailbox, MailboxError, RemoteFolder
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

# Messages of the inbox whose Authentication-Results the server dialog reads to propose an authserv-id.
RECENT_FOR_AUTHSERV_ID = 20


class MailProtocol(StrEnum):
    IMAP = "imap"
    GRAPH = "graph"  # "API Outlook 365"


class Encryption(StrEnum):
    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"


# The IMAP port each kind of encryption uses unless the administrator says otherwise.
DEFAULT_PORTS = {Encryption.SSL: 993, Encryption.STARTTLS: 143, Encryption.NONE: 143}


@dataclass(frozen=True)
class MailboxAccess:
    """Everything needed to open one mailbox. ``secret`` is the IMAP password or the client secret."""

    protocol: MailProtocol
    secret: str
    # IMAP
    host: str = ""
    port: int | None = None
    encryption: Encryption = Encryption.SSL
    username: str = ""
    # Outlook 365
    tenant: str = ""
    client_id: str = ""
    mailbox_address: str = ""
    token_cache_key: int | None = None  # msal keeps one application object (and token cache) per key

    def __repr__(self) -> str:  # never the secret in a log line or a traceback
        where = (
            self.mailbox_address if self.protocol == MailProtocol.GRAPH else f"{self.username}@{self.host}"
        )
        return f"<MailboxAccess {self.protocol} {where}>"


def open_mailbox(access: MailboxAccess, settings: MailSettings) -> Mailbox:
    """A mailbox session, not yet connected: use it with ``with``."""
    if access.protocol == MailProtocol.GRAPH:
        # Imported here: msal and requests are loaded only once a Graph server is opened.
        from ekpanel.mail.graph import GraphMailbox

        return GraphMailbox(
            tenant=access.tenant,
            client_id=access.client_id,
            client_secret=access.secret,
            mailbox=access.mailbox_address,
            settings=settings,
            server_id=access.token_cache_key,
        )
    return ImapMailbox(
        access.host,
        access.port or DEFAULT_PORTS.get(access.encryption, 993),
        access.encryption,
        access.username,
        access.secret,
        settings,
    )


def list_folders(access: MailboxAccess, settings: MailSettings) -> list[RemoteFolder]:
    """The folders that really exist on the server, sorted for display. Raises only MailboxError."""
    try:
        with open_mailbox(access, settings) as mailbox:
            folders = mailbox.list_folders()
    except MailboxError:
        raise
    except Exception as error:  # the contract with the servers page: a message, never a traceback
        logging.getLogger(__name__).exception("listing the folders of %r failed", access)
        raise MailboxError(
            ErrorCode.UNEXPECTED, note(Text.FOLDER_LIST_UNEXPECTED), detail=repr(error)
        ) from error
    return sorted(folders, key=lambda folder: (folder.display.upper() != "INBOX", folder.display.casefold()))


def recent_authentication_results(
    access: MailboxAccess, settings: MailSettings, count: int = RECENT_FOR_AUTHSERV_ID
) -> list[tuple[str, ...]]:
    """The Authentication-Results fields (top to bottom) of the inbox's newest messages of an IMAP
    server, one tuple per message: what its authserv-id is proposed from. Raises only MailboxError."""
    if access.protocol != MailProtocol.IMAP:
        raise ValueError("only an IMAP server has an authserv-id to configure")
    try:
        with ImapMailbox(
            access.host,
            access.port or DEFAULT_PORTS.get(access.encryption, 993),
            access.encryption,
            access.username,
            access.secret,
            settings,
        ) as mailbox:
            inbox = resolve_folder("INBOX", mailbox.list_folders())
            return mailbox.newest_authentication_results(inbox, count) if inbox is not None else []
    except MailboxError:
        raise
    except Exception as error:  # the contract with the servers page: a message, never a traceback
        logging.getLogger(__name__).exception("reading the newest messages of %r failed", access)
        raise MailboxError(
            ErrorCode.UNEXPECTED, note(Text.UNEXPECTED, error=type(error).__name__), detail=repr(error)
        ) from error
