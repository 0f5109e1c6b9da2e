"""Open the mailbox of a configured mail server: the one place that knows both protocols."""

from __future__ import annotations

import logging

from flask_babel import gettext as _

from ekpanel.mail.imap import ImapMailbox
from ekpanel.mail.mailbox import Mailbox, MailboxError, RemoteFolder
from ekpanel.mail.settings import MailSettings
from ekpanel.servers.models import DEFAULT_PORTS, ENCRYPTION_SSL, PROTOCOL_GRAPH, MailServer
from ekpanel.servers.secrets import SecretUnreadable, decrypt_secret


def open_mailbox(server: MailServer, settings: MailSettings) -> Mailbox:
    """A mailbox session for ``server``, not yet connected: use it with ``with``.

    Raises MailboxError (``secret_unreadable``) when the stored secret cannot be decrypted.
    """
    try:
        secret = decrypt_secret(server.secret_encrypted)
    except SecretUnreadable as error:
        raise MailboxError(
            "secret_unreadable",
            _("Zapisanego hasła nie da się odczytać (zmienił się klucz szyfrowania). Wpisz je ponownie."),
            detail=str(error),
        ) from error
    if server.protocol == PROTOCOL_GRAPH:
        # Imported here: msal and requests are loaded only once a Graph server is opened.
        from ekpanel.mail.graph import GraphMailbox

        return GraphMailbox(
            tenant=server.tenant or "",
            client_id=server.client_id or "",
            client_secret=secret,
            mailbox=server.mailbox_address or "",
            settings=settings,
            server_id=server.id,  # msal's token cache: one application object per server
        )
    encryption = server.encryption or ENCRYPTION_SSL
    return ImapMailbox(
        server.host or "",
        server.port or DEFAULT_PORTS.get(encryption, 993),
        encryption,
        server.username or "",
        secret,
        settings,
    )


def list_server_folders(server: MailServer, settings: MailSettings) -> list[RemoteFolder]:
    """The folders that really exist on the server, sorted for display. Raises only MailboxError."""
    try:
        with open_mailbox(server, settings) as mailbox:
            folders = mailbox.list_folders()
    except MailboxError:
        raise
    except Exception as error:  # the contract with the servers page: a message, never a traceback
        logging.getLogger(__name__).exception("listing the folders of server %s failed", server.id)
        message = _("Nie udało się pobrać listy folderów z powodu nieoczekiwanego błędu.")
        raise MailboxError("unexpected", message, detail=repr(error)) from error
    return sorted(folders, key=lambda folder: (folder.display.upper() != "INBOX", folder.display.casefold()))
