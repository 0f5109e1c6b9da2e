"""Mail servers (serwery pocztowe) configured per company."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekpanel.extensions import db
from ekpanel.mail.connect import Encryption, MailProtocol
from ekpanel.mail.vocabulary import SenderPolicy
from ekpanel.timeutil import utcnow

PROTOCOL_IMAP = MailProtocol.IMAP
PROTOCOL_GRAPH = MailProtocol.GRAPH  # "API Outlook 365"

ENCRYPTION_SSL = Encryption.SSL
ENCRYPTION_STARTTLS = Encryption.STARTTLS
ENCRYPTION_NONE = Encryption.NONE


class MailServer(db.Model):
    __tablename__ = "mail_servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(10), default=PROTOCOL_IMAP)
    name: Mapped[str | None] = mapped_column(String(200))  # Outlook: the configuration's own name
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    # IMAP
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    encryption: Mapped[str | None] = mapped_column(String(10))
    username: Mapped[str | None] = mapped_column(String(255))

    # Outlook 365 (Microsoft Graph, app-only)
    client_id: Mapped[str | None] = mapped_column(String(64))
    tenant: Mapped[str | None] = mapped_column(String(255))
    mailbox_address: Mapped[str | None] = mapped_column(String(320))
    secret_expires_on: Mapped[date | None] = mapped_column(Date)
    consent_granted_at: Mapped[datetime | None] = mapped_column(DateTime)
    consent_granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # The IMAP password or the Outlook client secret, Fernet-encrypted; never plain text.
    secret_encrypted: Mapped[str | None] = mapped_column(Text)

    # Normalised entries, one per line (see ekpanel.mail.whitelist).
    whitelist: Mapped[str] = mapped_column(Text, default="")
    # Configured folder names, one per line.
    folders: Mapped[str] = mapped_column(Text, default="INBOX\nspam")

    # "Weryfikacja nadawcy" (ekpanel.mail.sender): the policy, and for IMAP the authserv-id of the
    # receiving server, whose Authentication-Results alone are trusted. Microsoft 365 needs none.
    sender_policy: Mapped[str] = mapped_column(String(10), default=SenderPolicy.MARK)
    authserv_id: Mapped[str | None] = mapped_column(String(255))

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    company = relationship("Company", back_populates="servers")
    consent_granted_by = relationship("User")
    folder_states = relationship("FolderState", cascade="all, delete-orphan", back_populates="server")

    @property
    def is_graph(self) -> bool:
        return self.protocol == PROTOCOL_GRAPH

    @property
    def label(self) -> str:
        """What people call this server in lists and logs."""
        if self.name:
            return self.name
        if self.is_graph:
            return self.mailbox_address or ""
        # The user name is often an address itself: "user@host" would read as a broken address.
        return f"{self.username} ({self.host})" if self.username else (self.host or "")

    @property
    def whitelist_entries(self) -> list[str]:
        return [line for line in (self.whitelist or "").splitlines() if line.strip()]

    @property
    def folder_names(self) -> list[str]:
        return [line.strip() for line in (self.folders or "").splitlines() if line.strip()]

    def __repr__(self) -> str:
        return f"<MailServer {self.id} {self.protocol} {self.label}>"
