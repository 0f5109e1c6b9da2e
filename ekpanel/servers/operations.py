"""Mail server operations; the caller commits."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from ekpanel import audit
from ekpanel.audit import Action
from ekpanel.checks.models import Check, Decision, SenderException
from ekpanel.checks.queries import failing_server_ids
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.authres.header import normalise_authserv_id
from ekpanel.mail.folders import SPAM_KEYWORDS
from ekpanel.mail.vocabulary import SenderPolicy
from ekpanel.mail.whitelist import entries_overlap
from ekpanel.servers.models import PROTOCOL_GRAPH, PROTOCOL_IMAP, MailServer
from ekpanel.servers.secrets import SecretUnreadable, encrypt_secret, rotate_secret
from ekpanel.timeutil import utcnow

SECRET_WARNING_DAYS = 30

WARNING_WHITELIST_EMPTY = "whitelist_empty"
WARNING_CONSENT_MISSING = "consent_missing"
WARNING_SECRET_EXPIRING = "secret_expiring"
WARNING_SECRET_EXPIRED = "secret_expired"
WARNING_CHECKS_FAILING = "checks_failing"
# Sender verification, on the server's row only (the company list keeps to what stops intake):
WARNING_NO_AUTHSERV_ID = "no_authserv_id"  # an IMAP server verifying senders without an authserv-id
WARNING_NO_AUTHRES = "no_authres"  # its messages carry no Authentication-Results at all

# The settings the audit log compares (a new one, such as a sender-verification policy, is one more name).
AUDITED_FIELDS = (
    "protocol",
    "active",
    "host",
    "port",
    "encryption",
    "username",
    "name",
    "client_id",
    "tenant",
    "mailbox_address",
    "secret_expires_on",
    "sender_policy",
    "authserv_id",
)


@dataclass
class ServerValues:
    """What the dialog submits, already validated and normalised."""

    protocol: str
    whitelist: list[str]
    folders: list[str]
    active: bool = True
    secret: str = ""  # empty: keep the stored one
    host: str | None = None
    port: int | None = None
    encryption: str | None = None
    username: str | None = None
    name: str | None = None
    client_id: str | None = None
    tenant: str | None = None
    mailbox_address: str | None = None
    secret_expires_on: date | None = None
    sender_policy: str = SenderPolicy.MARK
    authserv_id: str | None = None  # IMAP only


def save_server(server: MailServer | None, company: Company, values: ServerValues) -> MailServer:
    """Create (``server`` None) or update a server of ``company``.

    The other protocol's fields are cleared, so a server never carries stale credentials. A new
    application or tenant needs the administrator's consent again. The audit log gets what changed,
    the whitelist and folders as entries added and removed, and of the secret only that it changed.
    """
    before = _server_snapshot(server) if server is not None else None
    if server is None:
        server = MailServer(company=company)
        db.session.add(server)
    if server.protocol != values.protocol:
        server.secret_encrypted = None  # a password is no client secret, and the other way round
    server.protocol = values.protocol
    server.active = values.active
    server.whitelist = "\n".join(values.whitelist)
    server.folders = "\n".join(values.folders)
    server.sender_policy = SenderPolicy(values.sender_policy)

    if values.protocol == PROTOCOL_IMAP:
        server.host = (values.host or "").strip().lower()
        server.port = values.port
        server.encryption = values.encryption
        server.username = (values.username or "").strip()
        server.authserv_id = normalise_authserv_id(values.authserv_id or "") or None
        server.name = None
        server.client_id = server.tenant = server.mailbox_address = None
        server.secret_expires_on = None
        _clear_consent(server)
    else:
        client_id = (values.client_id or "").strip().lower()
        tenant = (values.tenant or "").strip().lower()
        if (client_id, tenant) != (server.client_id, server.tenant):
            _clear_consent(server)
        server.name = " ".join((values.name or "").split())
        server.client_id = client_id
        server.tenant = tenant
        server.mailbox_address = (values.mailbox_address or "").strip().lower()
        server.secret_expires_on = values.secret_expires_on
        server.host = server.port = server.encryption = server.username = None
        server.authserv_id = None  # Exchange Online's field has none (ekpanel.mail.authres)

    if values.secret:
        server.secret_encrypted = encrypt_secret(values.secret)
    db.session.flush()
    after = _server_snapshot(server)
    if before is None:
        audit.record(Action.SERVER_CREATED, target=server, details=_without_blanks(after))
    else:
        diff = audit.changes(before, after)
        if values.secret:
            diff["secret"] = "changed"
        if diff:
            audit.record(Action.SERVER_CHANGED, target=server, details=diff)
    return server


def _server_snapshot(server: MailServer) -> dict:
    snapshot = {name: getattr(server, name) for name in AUDITED_FIELDS}
    if server.is_graph:  # a new application or tenant drops the consent: the log says so
        snapshot["consent"] = server.consent_granted_at is not None
    snapshot["whitelist"] = server.whitelist_entries
    snapshot["folders"] = server.folder_names
    return snapshot


def _without_blanks(snapshot: dict) -> dict:
    return {key: value for key, value in snapshot.items() if value not in (None, "", [])}


def _clear_consent(server: MailServer) -> None:
    server.consent_granted_at = None
    server.consent_granted_by_id = None


def set_server_active(server: MailServer, active: bool) -> None:
    if server.active != active:
        audit.record(Action.SERVER_ENABLED if active else Action.SERVER_DISABLED, target=server)
    server.active = active
    db.session.flush()


def delete_server(server: MailServer) -> None:
    """Delete a server with its checks; the documents it took stay, with its name.

    Done explicitly rather than left to ``ON DELETE``: SQLite enforces foreign keys only when asked.
    """
    audit.record(Action.SERVER_DELETED, target=server, details=_without_blanks(_server_snapshot(server)))
    db.session.execute(
        update(Document)
        .where(Document.server_id == server.id, Document.server_label == "")
        .values(server_label=server.label[:255])
    )
    check_ids = select(Check.id).where(Check.server_id == server.id)
    db.session.execute(update(Document).where(Document.check_id.in_(check_ids)).values(check_id=None))
    db.session.execute(update(Document).where(Document.server_id == server.id).values(server_id=None))
    db.session.execute(Decision.__table__.delete().where(Decision.server_id == server.id))
    db.session.execute(SenderException.__table__.delete().where(SenderException.server_id == server.id))
    db.session.execute(Check.__table__.delete().where(Check.server_id == server.id))
    db.session.delete(server)
    db.session.flush()


def record_consent(server: MailServer, user_id: int, when: datetime | None = None) -> None:
    server.consent_granted_at = when or utcnow()
    server.consent_granted_by_id = user_id
    db.session.flush()
    audit.record(Action.CONSENT_GRANTED, target=server)


def folders_with(text: str | None, name: str) -> str:
    """The folder field's text with ``name`` appended, unless it is already there."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    wanted = unicodedata.normalize("NFC", name.strip())
    if wanted and wanted not in (unicodedata.normalize("NFC", line.strip()) for line in lines):
        lines.append(wanted)
    return "\n".join(lines)


# --- key rotation ---------------------------------------------------------------------------


@dataclass
class SecretRotation:
    """What re-encrypting the stored secrets under the newest key did."""

    reencrypted: int = 0
    already_current: int = 0
    unreadable: list[MailServer] = field(default_factory=list)  # left as they are


def reencrypt_secrets() -> SecretRotation:
    """Re-encrypt every stored password and client secret under the newest key; the caller commits.

    A secret that no configured key opens stays as it is, so nothing is lost if a key went missing
    by mistake: put the key back and run again, or enter the password in the server's dialog.
    """
    rotation = SecretRotation()
    stored = (
        select(MailServer)
        .where(MailServer.secret_encrypted.is_not(None), MailServer.secret_encrypted != "")
        .order_by(MailServer.id)
        .with_for_update()  # a password saved in the panel meanwhile is not overwritten with the old one
    )
    for server in db.session.scalars(stored):
        try:
            token = rotate_secret(server.secret_encrypted or "")
        except SecretUnreadable:
            rotation.unreadable.append(server)
            continue
        if token is None:
            rotation.already_current += 1
        else:
            server.secret_encrypted = token
            rotation.reencrypted += 1
    db.session.flush()
    return rotation


# --- warnings -------------------------------------------------------------------------------


def server_warnings(server: MailServer, today: date) -> list[str]:
    """What needs the administrator on this server (warning codes, most urgent first)."""
    warnings = []
    if server.is_graph and server.secret_expires_on is not None:
        if server.secret_expires_on < today:
            warnings.append(WARNING_SECRET_EXPIRED)
        elif server.secret_expires_on <= today + timedelta(days=SECRET_WARNING_DAYS):
            warnings.append(WARNING_SECRET_EXPIRING)
    if server.is_graph and server.consent_granted_at is None:
        warnings.append(WARNING_CONSENT_MISSING)
    if not server.whitelist_entries:
        warnings.append(WARNING_WHITELIST_EMPTY)
    return warnings


def server_row_warnings(server: MailServer, checks: dict, today: date) -> list[str]:
    """The warnings of a server's row: its settings' and, first, whether its last checks failed
    (an enabled server only, as on the company list: a disabled one is not checked at all).

    ``checks`` is ekpanel.checks.queries.last_check_summary of the server.
    """
    failing = [WARNING_CHECKS_FAILING] if server.active and checks.get("failing_since") else []
    return failing + server_warnings(server, today) + sender_warnings(server, checks)


def sender_warnings(server: MailServer, checks: dict) -> list[str]:
    """Why the server's sender verification cannot confirm anyone (none when it is off)."""
    if server.sender_policy == SenderPolicy.OFF:
        return []
    if checks.get("authres_absent"):
        return [WARNING_NO_AUTHRES]
    if not server.is_graph and not server.authserv_id:
        return [WARNING_NO_AUTHSERV_ID]
    return []


def companies_with_warnings(today: date) -> dict[int, list[str]]:
    """Company id → the warning codes of its servers (each code once), for the company list."""
    found: dict[int, list[str]] = {}
    servers = list(db.session.scalars(select(MailServer)))
    failing = failing_server_ids([server.id for server in servers if server.active])
    for server in servers:
        failing_first = [WARNING_CHECKS_FAILING] if server.id in failing else []
        for code in failing_first + server_warnings(server, today):
            codes = found.setdefault(server.company_id, [])
            if code not in codes:
                codes.append(code)
    return found


# --- collisions -----------------------------------------------------------------------------


@dataclass
class Collision:
    """Another company's server reads the same mailbox folder and admits some of the same senders."""

    server: MailServer
    company: Company
    folders: list[str]
    entries: list[tuple[str, str]] = field(default_factory=list)  # (our entry, their entry)


def _same_mailbox(a: MailServer, b: MailServer) -> bool:
    if a.protocol != b.protocol:
        return False
    if a.protocol == PROTOCOL_GRAPH:
        return bool(a.tenant and a.mailbox_address) and (
            (a.tenant or "").lower(),
            (a.mailbox_address or "").lower(),
        ) == ((b.tenant or "").lower(), (b.mailbox_address or "").lower())
    return bool(a.host and a.username) and ((a.host or "").lower(), (a.username or "").lower()) == (
        (b.host or "").lower(),
        (b.username or "").lower(),
    )


def _folder_key(name: str) -> str:
    """Names that surely mean the same folder compare equal: any case; ``spam``/``junk`` are one."""
    key = unicodedata.normalize("NFC", name.strip()).casefold()
    return "\\junk" if key in SPAM_KEYWORDS else key


def find_collisions(server: MailServer) -> list[Collision]:
    """Active servers of other companies that would take the same messages as ``server``.

    Same mailbox (host + user, or tenant + mailbox address), a folder in common, and whitelist
    entries that admit a common sender. Whoever checks first would take such a message.
    """
    collisions = []
    ours = {_folder_key(name): name for name in server.folder_names}
    query = select(MailServer).where(
        MailServer.company_id != server.company_id,
        MailServer.active.is_(True),
        MailServer.protocol == server.protocol,
    )
    for other in db.session.scalars(query):
        if other.id == server.id or not _same_mailbox(server, other):
            continue
        common = [ours[key] for key in (_folder_key(name) for name in other.folder_names) if key in ours]
        if not common:
            continue
        pairs = [
            (mine, theirs)
            for mine in server.whitelist_entries
            for theirs in other.whitelist_entries
            if entries_overlap(mine, theirs)
        ]
        if pairs:
            collisions.append(Collision(server=other, company=other.company, folders=common, entries=pairs))
    return collisions
