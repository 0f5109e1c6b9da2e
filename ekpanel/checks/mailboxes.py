"""From a configured server row to what the mail core needs to open its mailbox."""

from __future__ import annotations

from ekpanel.mail.connect import Encryption, MailboxAccess, MailProtocol
from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.sender import SenderSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode, SenderPolicy
from ekpanel.servers.models import MailServer
from ekpanel.servers.secrets import SecretUnreadable, decrypt_secret


def mailbox_access(server: MailServer) -> MailboxAccess:
    """The server's mailbox as plain values, its secret decrypted.

    Raises MailboxError (``secret_unreadable``) when the stored secret cannot be decrypted.
    """
    try:
        secret = decrypt_secret(server.secret_encrypted)
    except SecretUnreadable as error:
        raise MailboxError(
            ErrorCode.SECRET_UNREADABLE, note(Text.SECRET_UNREADABLE), detail=str(error)
        ) from error
    return MailboxAccess(
        protocol=MailProtocol(server.protocol or MailProtocol.IMAP),
        secret=secret,
        host=server.host or "",
        port=server.port,
        encryption=Encryption(server.encryption or Encryption.SSL),
        username=server.username or "",
        tenant=server.tenant or "",
        client_id=server.client_id or "",
        mailbox_address=server.mailbox_address or "",
        token_cache_key=server.id,
    )


def sender_settings(server: MailServer) -> SenderSettings:
    """The server's "Weryfikacja nadawcy" as the check applies it. A policy the code does not know
    (a newer version's) is read as the default, *Oznaczaj*, which takes nothing the whitelist would not."""
    try:
        policy = SenderPolicy(server.sender_policy or SenderPolicy.MARK)
    except ValueError:
        policy = SenderPolicy.MARK
    return SenderSettings(policy=policy, authserv_id=server.authserv_id or None, microsoft=server.is_graph)
