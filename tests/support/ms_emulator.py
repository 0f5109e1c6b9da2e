"""A local emulator of Microsoft Entra ID (login) and the Microsoft Graph mail endpoints, for tests.

Why: the Microsoft 365 adapter talks to login.microsoftonline.com through msal and to graph.microsoft.com
through requests. Tests must run exactly those code paths offline, including msal's quirks (https only, one
discovery GET, its token cache) and Graph's (ids that change on move, paging links followed verbatim, delta
tombstones, throttling with Retry-After). The shapes imitate Microsoft's documentation and the team's
``microsoft365.md`` notes; nothing here ever contacts Microsoft.

Typical use::

    with MsEmulator() as emu:
        emu.add_app(CLIENT_ID, SECRET, TENANT_ID)
        emu.add_mailbox("faktury@contoso.com")
        emu.add_message("faktury@contoso.com", "inbox", sender="a@b.pl", subject="FV 1",
                        attachments=[{"name": "fv.pdf", "content_type": "application/pdf", "content": pdf}])
        # production reads EKPANEL_MS_LOGIN_URL=emu.login_url, EKPANEL_GRAPH_URL=emu.graph_url
        # and must trust emu.ca_path (pass a requests.Session with trust_env=False, verify=emu.ca_path)
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import json
import logging
import mimetypes
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote_plus, urlencode

import trustme
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

__all__ = ["MsEmulator", "RecordedRequest"]

log = logging.getLogger(__name__)

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MAIL_READWRITE_ROLE = "Mail.ReadWrite"
DEFAULT_PAGE_SIZE = 10

# Mailbox layout created by add_mailbox: (well-known name, display name, hidden).
_STANDARD_FOLDERS = [
    ("inbox", "Inbox", False),
    ("junkemail", "Junk Email", False),
    ("deleteditems", "Deleted Items", False),
    ("sentitems", "Sent Items", False),
    ("drafts", "Drafts", False),
    ("archive", "Archive", False),
    (None, "Conversation Action Settings", True),
]
# Valid well-known names that this emulator does not create: Graph answers 404 for them, not 400.
_OTHER_WELL_KNOWN = {
    "outbox",
    "clutter",
    "conflicts",
    "conversationhistory",
    "localfailures",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "serverfailures",
    "syncissues",
}
_ID_RE = re.compile(r"^[A-Za-z0-9+/=_-]{20,}$")
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

_MESSAGE_PROPS = [
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "uniqueBody",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
    "internetMessageHeaders",
    "attachments",
    "extensions",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
]
_FOLDER_PROPS = [
    "id",
    "displayName",
    "parentFolderId",
    "childFolderCount",
    "unreadItemCount",
    "totalItemCount",
    "sizeInBytes",
    "isHidden",
    "childFolders",
    "messages",
    "messageRules",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
]
_ATTACHMENT_PROPS = [
    "id",
    "name",
    "contentType",
    "size",
    "isInline",
    "lastModifiedDateTime",
    "contentBytes",
    "contentId",
    "contentLocation",
    "item",
]


class RecordedRequest(NamedTuple):
    """One request the emulator received: ``query`` holds the first value of each query parameter."""

    method: str
    path: str
    query: dict[str, str]


# --------------------------------------------------------------------------------------------- state


@dataclass
class _App:
    client_id: str
    secret: str
    tenant_id: str
    consented: bool
    secret_expired: bool
    redirect_uris: set[str] | None
    allowed_upns: set[str] | None = None


@dataclass
class _Token:
    client_id: str
    tenant_id: str
    roles: tuple[str, ...]
    expires_at: datetime
    revoked: bool = False


@dataclass
class _Folder:
    id: str
    display_name: str
    parent_id: str
    well_known: str | None
    hidden: bool
    seq: int


@dataclass
class _Attachment:
    id: str
    name: str
    content_type: str
    content: bytes  # file bytes, or the MIME of an item attachment
    is_inline: bool
    is_item: bool
    content_id: str | None
    modified: datetime


@dataclass
class _Message:
    key: str  # internal identity, also the ImmutableId (constant across moves)
    id: str  # the regular Graph id; a move replaces it
    folder_id: str
    seq: int  # arrival order in its current folder
    subject: str
    sender_name: str | None
    sender_addr: str | None
    to: list[tuple[str, str]]
    received: datetime
    sent: datetime
    internet_message_id: str | None
    attachments: list[_Attachment]
    is_read: bool
    body_type: str  # "text" or "html"
    body: str
    raw: bytes
    headers: list[tuple[str, str]]
    created: datetime
    modified: datetime
    change_key: str
    conversation_id: str


@dataclass
class _Mailbox:
    upn: str
    user_id: str
    tenant_id: str | None
    root_parent_id: str
    folders: dict[str, _Folder] = field(default_factory=dict)
    messages: dict[str, _Message] = field(default_factory=dict)  # by key
    ids: dict[str, str] = field(default_factory=dict)  # current regular id -> key


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int
    code: str | None
    message: str | None
    retry_after: int | float | None
    remaining: int
    method: str | None


@dataclass
class _DeltaBase:
    """What a delta link remembers: the folder, the query options, and which messages the client has seen."""

    upn: str
    folder_id: str
    select: list[str] | None
    filters: list[tuple[str, str, Any]]
    change_type: str | None
    page_size: int | None
    immutable: bool
    seen: dict[str, str]  # key -> the id the client was given
    expired: bool = False


@dataclass
class _DeltaRound:
    base: _DeltaBase  # options of the round
    entries: list[tuple[str, str]]  # ("msg", key) or ("removed", id shown earlier)
    next_seen: dict[str, str]


class _GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class _LoginError(Exception):
    def __init__(
        self, status: int, error: str, aadsts: int | None, text: str, headers: dict[str, str] | None = None
    ):
        super().__init__(f"{status} {error}: {text}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.text = text
        self.headers = headers or {}


# --------------------------------------------------------------------------------------------- server


class _Handler(WSGIRequestHandler):
    """Request handler that keeps the test output quiet (werkzeug logs every request otherwise)."""

    timeout = 30  # a client that connects and sends nothing cannot hold a worker thread forever

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, type, *args)


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, but stop() waits for its worker threads and cuts idle connections."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._live_lock:
            self._live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._live_lock:
            self._live.discard(request)
        super().shutdown_request(request)

    def abort_connections(self) -> None:
        with self._live_lock:
            live = list(self._live)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str, nbytes: int = 48) -> str:
    """An id shaped like Exchange's: long, URL-safe base64 with ``-``/``_`` and a ``=`` pad."""
    return prefix + secrets.token_urlsafe(nbytes) + "AAA="


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _as_utc(value: datetime | str | None) -> datetime:
    if value is None:
        return _now()
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def _bracket(message_id: str | None) -> str | None:
    if not message_id:
        return None
    message_id = message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    return message_id


def _strip_html(html: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _normalise_segments(path: str) -> list[str]:
    """Split a Graph path, turning OData key syntax ``mailFolders('x')`` into ``mailFolders/x``."""
    out: list[str] = []
    for seg in path.strip("/").split("/"):
        if not seg:
            continue
        m = re.fullmatch(r"([A-Za-z.]+)\('(.*)'\)", seg)
        if m:
            out.extend([m.group(1), m.group(2).replace("''", "'")])
        elif seg.lower().startswith("microsoft.graph."):
            out.append(seg[len("microsoft.graph.") :].rstrip("()"))
        else:
            out.append(seg)
    return out


def _split_and(expr: str) -> list[str]:
    """Split an OData $filter on ``and`` outside quoted strings."""
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            in_quote = not in_quote
        if not in_quote and expr[i : i + 5].lower() == " and ":
            parts.append("".join(buf))
            buf = []
            i += 5
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


_DT_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$")


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _DT_LITERAL.match(text):
        return _as_utc(text)
    try:
        return float(text)
    except ValueError:
        raise _GraphError(
            400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
        ) from None


def _lookup(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        left = _as_utc(left)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right}[op]
    except TypeError:
        return False


def _header_str(value: Any) -> str:
    try:
        return str(value) if value is not None else ""
    except Exception:  # a header the stdlib cannot decode: keep something readable
        return ""


# --------------------------------------------------------------------------------------------- emulator


class MsEmulator:
    """Entra ID token endpoint plus Graph mail endpoints on one local https origin.

    All state lives behind one lock; the Python methods below are for tests to arrange and inspect it,
    the HTTP endpoints are for the code under test.
    """

    def __init__(
        self,
        *,
        ca_dir: str | Path | None = None,
        token_lifetime: int = 3599,
        host: str = "127.0.0.1",
    ) -> None:
        """Prepare (not start) an emulator; ``ca_dir`` receives ``ca.pem`` (a temp dir by default)."""
        if token_lifetime < 300:
            log.warning(
                "msal never serves tokens with < 300 s left from its cache; token_lifetime=%s", token_lifetime
            )
        self.host = host
        self.token_lifetime = token_lifetime
        self.port: int | None = None
        self.ca_path: str | None = None
        self.requests: list[RecordedRequest] = []
        self.errors: list[
            str
        ] = []  # tracebacks of bugs in the emulator itself; a fixture may assert it is empty
        self._ca_dir = Path(ca_dir) if ca_dir is not None else None
        self._own_dir: str | None = None
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tenants: set[str] = set()
        self._domains: dict[str, str] = {}
        self._apps: dict[str, _App] = {}
        self._tokens: dict[str, _Token] = {}
        self._mailboxes: dict[str, _Mailbox] = {}
        self._faults: list[_Fault] = []
        self._consent_error: tuple[str, str] | None = None
        self._skiptokens: dict[str, tuple[_DeltaRound, int]] = {}
        self._deltatokens: dict[str, _DeltaBase] = {}
        self._seq = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:PORT``."""
        if self.port is None:
            raise RuntimeError("MsEmulator is not started")
        return f"https://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        """What production reads from EKPANEL_MS_LOGIN_URL (the authority is ``{login_url}/{tenant}``)."""
        return self.origin

    @property
    def graph_url(self) -> str:
        """What production reads from EKPANEL_GRAPH_URL."""
        return f"{self.origin}/v1.0"

    def start(self) -> MsEmulator:
        """Create the CA and certificate, bind a free port and serve in a background thread."""
        if self._server is not None:
            return self
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        if self._ca_dir is None:
            self._own_dir = tempfile.mkdtemp(prefix="ms-emulator-")
            directory = Path(self._own_dir)
        else:
            directory = self._ca_dir
            directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        self.ca_path = str(ca_file)
        server = _Server(self.host, 0, self._wsgi, handler=_Handler)
        # Wrap ourselves with a lazy handshake: the handshake then runs in the worker thread, so a client
        # that connects and stalls (or speaks plain http) cannot block the accept loop.
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.ssl_context = ctx
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"ms-emulator:{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wait for every worker thread, and remove the temporary CA directory."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.abort_connections()
        server.server_close()  # joins the worker threads
        if thread is not None:
            thread.join(timeout=10)
        self._server = None
        self._thread = None
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self) -> MsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ tenants and apps

    def add_tenant(self, tenant_id: str, domain: str | None = None) -> None:
        """Make a tenant known by GUID and, optionally, by a domain alias (``contoso.onmicrosoft.com``)."""
        with self._lock:
            tid = tenant_id.lower()
            self._tenants.add(tid)
            if domain:
                self._domains[domain.lower()] = tid

    def add_app(
        self,
        client_id: str,
        secret: str,
        tenant_id: str,
        *,
        consented: bool = True,
        secret_expired: bool = False,
        redirect_uris: list[str] | None = None,
    ) -> None:
        """Register (or replace) an app in a tenant; the tenant is created if unknown.

        ``redirect_uris=None`` accepts any redirect URI on the admin-consent endpoints.
        """
        with self._lock:
            tid = tenant_id.lower()
            self._tenants.add(tid)
            self._apps[client_id.lower()] = _App(
                client_id=client_id,
                secret=secret,
                tenant_id=tid,
                consented=consented,
                secret_expired=secret_expired,
                redirect_uris=set(redirect_uris) if redirect_uris is not None else None,
            )

    def set_consent(self, client_id: str, consented: bool) -> None:
        """Grant or revoke admin consent.

        Tokens carry their roles from the moment they were issued (like real Entra tokens): granting consent
        helps only tokens issued afterwards. Revoking takes effect at once here, to keep tests simple.
        """
        with self._lock:
            self._app(client_id).consented = consented

    def restrict_mailboxes(self, client_id: str, allowed_upns: list[str] | set[str] | None) -> None:
        """Emulate an Application Access Policy: other mailboxes answer 403 "Access to OData is disabled."

        ``None`` lifts the restriction.
        """
        with self._lock:
            app = self._app(client_id)
            app.allowed_upns = {u.lower() for u in allowed_upns} if allowed_upns is not None else None

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far; Graph then answers 401 InvalidAuthenticationToken.

        msal still holds them in its cache (it trusts expires_in), which is exactly the situation to test.
        """
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def consent_answer(self, error: str | None = None, description: str | None = None) -> None:
        """Make later admin-consent requests redirect with ``error``/``error_description`` (None: succeed)."""
        with self._lock:
            if error is None:
                self._consent_error = None
            else:
                default = {
                    "access_denied": "AADSTS65004: User declined to consent to access the app.",
                    "permission_denied": "The admin canceled the request",
                }.get(error, f"AADSTS65004: {error}")
                self._consent_error = (error, description or default)

    def is_consented(self, client_id: str) -> bool:
        """Whether the app holds admin consent now (set by the consent endpoint, add_app or set_consent)."""
        with self._lock:
            return self._app(client_id).consented

    # ------------------------------------------------------------------ mailboxes and folders

    def add_mailbox(self, upn: str, *, tenant_id: str | None = None) -> str:
        """Create a mailbox with the standard folders; returns its user object id.

        With ``tenant_id`` only tokens of that tenant see it (others get 404 ErrorInvalidUser).
        """
        with self._lock:
            key = upn.lower()
            if key in self._mailboxes:
                raise ValueError(f"mailbox {upn} exists")
            mb = _Mailbox(
                upn=upn,
                user_id=str(uuid.uuid4()),
                tenant_id=tenant_id.lower() if tenant_id else None,
                root_parent_id=_new_id("AQMkAD", 24),
            )
            root = self._make_folder(
                mb, "Top of Information Store", mb.root_parent_id, "msgfolderroot", False
            )
            for well_known, name, hidden in _STANDARD_FOLDERS:
                self._make_folder(mb, name, root.id, well_known, hidden)
            self._mailboxes[key] = mb
            return mb.user_id

    def add_folder(
        self, upn: str, display_name: str, parent: str = "msgfolderroot", *, hidden: bool = False
    ) -> str:
        """Create a folder; ``parent`` is a folder id, a well-known name or a display-name path."""
        with self._lock:
            mb = self._mailbox(upn)
            parent_folder = self._find_folder(mb, parent)
            if any(
                f.parent_id == parent_folder.id and f.display_name.lower() == display_name.lower()
                for f in mb.folders.values()
            ):
                raise ValueError(f"folder {display_name!r} already exists under {parent!r}")
            return self._make_folder(mb, display_name, parent_folder.id, None, hidden).id

    def folder_id(self, upn: str, name: str) -> str:
        """The id of a folder given a well-known name, a display name, or a path like ``Inbox/Faktury``."""
        with self._lock:
            return self._find_folder(self._mailbox(upn), name).id

    def folders(self, upn: str) -> list[dict[str, Any]]:
        """Every folder of the mailbox (root excluded), with its display path, to inspect what was created."""
        with self._lock:
            mb = self._mailbox(upn)
            out = []
            for f in sorted(mb.folders.values(), key=lambda f: f.seq):
                if f.well_known == "msgfolderroot":
                    continue
                out.append(
                    {
                        "id": f.id,
                        "displayName": f.display_name,
                        "path": self._folder_path(mb, f),
                        "parentFolderId": f.parent_id,
                        "wellKnownName": f.well_known,
                        "isHidden": f.hidden,
                    }
                )
            return out

    # ------------------------------------------------------------------ messages

    def add_message(
        self,
        upn: str,
        folder: str,
        *,
        sender: str,
        subject: str,
        received: datetime | str | None = None,
        message_id: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        is_read: bool = False,
        body: str = "",
        to: str | None = None,
    ) -> str:
        """Deliver a message into ``folder`` (id, well-known name or display path); returns its Graph id.

        ``sender`` is ``"addr"`` or ``"Name <addr>"``. An attachment is ``{"name", "content_type", "content",
        "is_inline", "content_id"?}`` (fileAttachment) or ``{"item": raw_rfc822_bytes, "name"?}``
        (itemAttachment, a forwarded message whose ``$value`` is that MIME).
        """
        name, addr = parseaddr(sender)
        recipient = to or upn
        received_at = _as_utc(received)
        mid = _bracket(message_id) or f"<{uuid.uuid4().hex}@emulator.invalid>"
        atts = []
        for spec in attachments or []:
            if "item" in spec:
                item = bytes(spec["item"])
                inner = email.message_from_bytes(item, policy=email.policy.default)
                atts.append(
                    self._attachment(
                        spec.get("name") or _header_str(inner.get("Subject")) or "Untitled message",
                        "message/rfc822",
                        item,
                        is_inline=bool(spec.get("is_inline", False)),
                        is_item=True,
                    )
                )
            else:
                atts.append(
                    self._attachment(
                        spec["name"],
                        spec.get("content_type") or _guess_type(spec["name"]),
                        bytes(spec["content"]),
                        is_inline=bool(spec.get("is_inline", False)),
                        content_id=spec.get("content_id"),
                    )
                )
        raw = _synthesize_mime(name, addr, recipient, subject, received_at, mid, body, atts)
        headers = [
            (k, _header_str(v)) for k, v in email.message_from_bytes(raw, policy=email.policy.default).items()
        ]
        with self._lock:
            mb = self._mailbox(upn)
            target = self._find_folder(mb, folder)
            return self._store_message(
                mb,
                target,
                subject=subject,
                sender_name=name or None,
                sender_addr=addr or None,
                to=[("", recipient)],
                received=received_at,
                sent=received_at,
                internet_message_id=mid,
                attachments=atts,
                is_read=is_read,
                body_type="text",
                body=body,
                raw=raw,
                headers=headers,
            )

    def add_raw_message(
        self,
        upn: str,
        folder: str,
        raw: bytes,
        *,
        received: datetime | str | None = None,
        is_read: bool = False,
    ) -> str:
        """Deliver an RFC 822 message as Exchange would store it, so one .eml can feed IMAP and Graph tests.

        Sender, subject, Message-ID and Date come from the headers (Date is the received time unless
        ``received`` is given; no Message-ID stays None). message/rfc822 parts become itemAttachments; other
        non-body parts become fileAttachments, inline when Content-Disposition says so (or when they sit in a
        multipart/related without a disposition but with a Content-ID).
        """
        parsed = _parse_mime(raw)
        atts = [
            self._attachment(
                a["name"], a["content_type"], a["content"], a["is_inline"], a["is_item"], a["content_id"]
            )
            for a in parsed["attachments"]
        ]
        received_at = _as_utc(received) if received is not None else (parsed["date"] or _now())
        with self._lock:
            mb = self._mailbox(upn)
            target = self._find_folder(mb, folder)
            return self._store_message(
                mb,
                target,
                subject=parsed["subject"],
                sender_name=parsed["sender_name"],
                sender_addr=parsed["sender_addr"],
                to=parsed["to"] or [("", mb.upn)],
                received=received_at,
                sent=parsed["date"] or received_at,
                internet_message_id=parsed["message_id"],
                attachments=atts,
                is_read=is_read,
                body_type=parsed["body_type"],
                body=parsed["body"],
                raw=raw,
                headers=parsed["headers"],
            )

    def messages(self, upn: str, folder: str) -> list[dict[str, Any]]:
        """What a folder holds, in arrival order: id, subject, internetMessageId, parentFolderId and more."""
        with self._lock:
            mb = self._mailbox(upn)
            target = self._find_folder(mb, folder)
            out = []
            for msg in sorted(mb.messages.values(), key=lambda m: m.seq):
                if msg.folder_id != target.id:
                    continue
                out.append(
                    {
                        "id": msg.id,
                        "immutableId": msg.key,
                        "subject": msg.subject,
                        "internetMessageId": msg.internet_message_id,
                        "parentFolderId": msg.folder_id,
                        "receivedDateTime": _iso(msg.received),
                        "hasAttachments": any(not a.is_inline for a in msg.attachments),
                        "isRead": msg.is_read,
                        "from": msg.sender_addr,
                        "attachments": [a.name for a in msg.attachments],
                    }
                )
            return out

    def move_message(self, upn: str, message_id: str, destination: str) -> str:
        """Move a message as a user would (new id, like Graph's move); returns the new id."""
        with self._lock:
            mb = self._mailbox(upn)
            msg = self._message_py(mb, message_id)
            return self._move(mb, msg, self._find_folder(mb, destination)).id

    def delete_message(self, upn: str, message_id: str) -> None:
        """Remove a message for good, as a user emptying it would."""
        with self._lock:
            mb = self._mailbox(upn)
            msg = self._message_py(mb, message_id)
            del mb.messages[msg.key]
            mb.ids.pop(msg.id, None)

    def set_read(self, upn: str, message_id: str, is_read: bool = True) -> None:
        """Change isRead as a user would (nothing on the HTTP side ever changes it)."""
        with self._lock:
            self._message_py(self._mailbox(upn), message_id).is_read = is_read

    # ------------------------------------------------------------------ faults and delta links

    def fail_next(
        self,
        path_regex: str,
        status: int,
        *,
        code: str | None = None,
        retry_after: int | float | None = None,
        times: int = 1,
        message: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path matches (re.search) with an error.

        Graph paths get the Graph error shape (default codes: 429 ApplicationThrottled, 503
        ServiceNotAvailable, 401 InvalidAuthenticationToken, ...); login paths get the OAuth shape. Faults
        fire before authentication and are counted in ``requests``.
        """
        with self._lock:
            self._faults.append(
                _Fault(
                    pattern=re.compile(path_regex),
                    status=status,
                    code=code,
                    message=message,
                    retry_after=retry_after,
                    remaining=times,
                    method=method.upper() if method else None,
                )
            )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def expire_delta_links(self) -> None:
        """Make every delta and next link issued so far answer 410 SyncStateNotFound (forcing a resync)."""
        with self._lock:
            for base in self._deltatokens.values():
                base.expired = True
            for rnd, _ in self._skiptokens.values():
                rnd.base.expired = True

    # ------------------------------------------------------------------ request log

    def count(self, method: str | None, path_regex: str) -> int:
        """How many requests with this method (None: any) had a path matching ``path_regex`` (re.search)."""
        with self._lock:
            pattern = re.compile(path_regex)
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper()) and pattern.search(r.path)
            )

    def reset_counts(self) -> None:
        """Forget the request log."""
        with self._lock:
            self.requests.clear()

    # ================================================================== internals: state

    def _app(self, client_id: str) -> _App:
        try:
            return self._apps[client_id.lower()]
        except KeyError:
            raise KeyError(f"unknown app {client_id}") from None

    def _mailbox(self, upn: str) -> _Mailbox:
        try:
            return self._mailboxes[upn.lower()]
        except KeyError:
            raise KeyError(f"unknown mailbox {upn}") from None

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _make_folder(
        self, mb: _Mailbox, name: str, parent_id: str, well_known: str | None, hidden: bool
    ) -> _Folder:
        folder = _Folder(_new_id("AQMkAD"), name, parent_id, well_known, hidden, self._next_seq())
        mb.folders[folder.id] = folder
        return folder

    def _folder_path(self, mb: _Mailbox, folder: _Folder) -> str:
        parts = []
        current: _Folder | None = folder
        while current is not None and current.well_known != "msgfolderroot":
            parts.append(current.display_name)
            current = mb.folders.get(current.parent_id)
        return "/".join(reversed(parts))

    def _find_folder(self, mb: _Mailbox, ref: str) -> _Folder:
        """Python-side lookup: id, well-known name, display path from the root, or a unique display name."""
        if ref in mb.folders:
            return mb.folders[ref]
        low = ref.lower()
        for f in mb.folders.values():
            if f.well_known == low:
                return f
        root = next(f for f in mb.folders.values() if f.well_known == "msgfolderroot")
        current = root
        for part in ref.split("/"):
            nxt = next(
                (
                    f
                    for f in mb.folders.values()
                    if f.parent_id == current.id and f.display_name.lower() == part.lower()
                ),
                None,
            )
            if nxt is None:
                break
            current = nxt
        else:
            return current
        matches = [f for f in mb.folders.values() if f.display_name.lower() == low]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"no single folder {ref!r} in {mb.upn}")

    def _attachment(
        self,
        name: str,
        content_type: str,
        content: bytes,
        is_inline: bool = False,
        is_item: bool = False,
        content_id: str | None = None,
    ) -> _Attachment:
        return _Attachment(
            id=_new_id("AAMkAD", 64),
            name=name,
            content_type=content_type,
            content=content,
            is_inline=is_inline,
            is_item=is_item,
            content_id=content_id.strip("<>") if content_id else None,
            modified=_now(),
        )

    def _store_message(self, mb: _Mailbox, folder: _Folder, **kw: Any) -> str:
        now = _now()
        key = _new_id("AAkALg", 48)
        msg = _Message(
            key=key,
            id=_new_id("AAMkAD", 48),
            folder_id=folder.id,
            seq=self._next_seq(),
            created=now,
            modified=now,
            change_key=_b64url(secrets.token_bytes(12)),
            conversation_id=_new_id("AAQkAD", 24),
            **kw,
        )
        mb.messages[key] = msg
        mb.ids[msg.id] = key
        return msg.id

    def _message_py(self, mb: _Mailbox, message_id: str) -> _Message:
        key = mb.ids.get(message_id, message_id)
        if key not in mb.messages:
            raise KeyError(f"no message {message_id} in {mb.upn}")
        return mb.messages[key]

    def _move(self, mb: _Mailbox, msg: _Message, dest: _Folder) -> _Message:
        mb.ids.pop(msg.id, None)
        msg.id = _new_id("AAMkAD", 48)
        mb.ids[msg.id] = msg.key
        msg.folder_id = dest.id
        msg.seq = self._next_seq()
        msg.modified = _now()
        msg.change_key = _b64url(secrets.token_bytes(12))
        for att in msg.attachments:
            att.id = _new_id("AAMkAD", 64)  # attachment ids embed the message id in Exchange
        return msg

    # ================================================================== internals: HTTP

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            with self._lock:
                self.requests.append(RecordedRequest(request.method, request.path, request.args.to_dict()))
                response = self._dispatch(request)
        except Exception:
            tb = traceback.format_exc()
            self.errors.append(tb)
            log.error("ms emulator bug:\n%s", tb)
            response = self._graph_json(
                500,
                {"error": {"code": "InternalServerError", "message": "emulator bug: " + tb.splitlines()[-1]}},
            )
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        is_graph = path == "/v1.0" or path.startswith("/v1.0/")
        fault = self._take_fault(request.method, path)
        if fault is not None:
            return self._fault_response(fault, is_graph)
        if is_graph:
            return self._graph(request, path[len("/v1.0") :])
        return self._login(request, path)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if (
                fault.remaining > 0
                and (fault.method is None or fault.method == method)
                and fault.pattern.search(path)
            ):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: _Fault, is_graph: bool) -> Response:
        headers = {}
        if fault.retry_after is not None:
            ra = fault.retry_after
            headers["Retry-After"] = str(int(ra) if float(ra).is_integer() else ra)
        if is_graph:
            code, message = {
                400: ("BadRequest", "Bad request."),
                401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
                403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
                404: ("ErrorItemNotFound", "The specified object was not found in the store."),
                409: ("ErrorFolderExists", "A folder with the specified name already exists."),
                429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
                500: ("InternalServerError", "An internal server error occurred."),
                502: ("BadGateway", "Bad gateway."),
                503: ("ServiceNotAvailable", "Service Unavailable"),
                504: ("GatewayTimeout", "Gateway timeout."),
            }.get(fault.status, ("UnknownError", "Emulated failure."))
            err = _GraphError(fault.status, fault.code or code, fault.message or message, headers)
            return self._graph_error(err)
        error = fault.code or {
            400: "invalid_request",
            401: "invalid_client",
            429: "temporarily_unavailable",
            503: "temporarily_unavailable",
        }.get(fault.status, "server_error")
        return self._login_error(
            _LoginError(fault.status, error, None, fault.message or "Emulated failure.", headers)
        )

    # ------------------------------------------------------------------ login side

    def _resolve_tenant(self, name: str) -> str | None:
        low = name.lower()
        if low in self._tenants:
            return low
        return self._domains.get(low)

    def _login(self, request: Request, path: str) -> Response:
        try:
            m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
            if m and request.method == "GET":
                return self._discovery(m.group(1))
            m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
            if m:
                if request.method != "POST":
                    raise _LoginError(
                        405,
                        "invalid_request",
                        900561,
                        "The endpoint only accepts POST requests. Received a GET request.",
                    )
                return self._token(request, m.group(1))
            m = re.fullmatch(r"/([^/]+)/(v2\.0/)?adminconsent", path)
            if m and request.method == "GET":
                return self._admin_consent(request, m.group(1), v2=bool(m.group(2)))
        except _LoginError as e:
            return self._login_error(e)
        return Response("Not found (not emulated)", status=404, mimetype="text/plain")

    def _login_error(self, e: _LoginError) -> Response:
        now = datetime.now(UTC)
        trace_id, corr_id = str(uuid.uuid4()), str(uuid.uuid4())
        prefix = f"AADSTS{e.aadsts}: " if e.aadsts is not None else ""
        body = {
            "error": e.error,
            "error_description": f"{prefix}{e.text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {corr_id}\r\n"
            f"Timestamp: {now:%Y-%m-%d %H:%M:%S}Z",
            "error_codes": [e.aadsts] if e.aadsts is not None else [],
            "timestamp": f"{now:%Y-%m-%d %H:%M:%S}Z",
            "trace_id": trace_id,
            "correlation_id": corr_id,
        }
        if e.aadsts is not None:
            body["error_uri"] = f"{self.login_url}/error?code={e.aadsts}"
        resp = Response(json.dumps(body), status=e.status, mimetype="application/json")
        resp.headers["Cache-Control"] = "no-store, no-cache"
        for k, v in e.headers.items():
            resp.headers[k] = v
        return resp

    def _unknown_tenant(self, name: str) -> _LoginError:
        if not _GUID_RE.match(name) and "." not in name:
            return _LoginError(
                400,
                "invalid_request",
                900023,
                f"Specified tenant identifier '{name}' is neither a valid DNS name, nor a valid external "
                "domain.",
            )
        return _LoginError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud. Check with your subscription administrator, this may happen if there "
            "are no active subscriptions for the tenant.",
        )

    def _discovery(self, tenant: str) -> Response:
        if tenant.lower() in ("common", "organizations"):
            tid, issuer_tid = tenant.lower(), "{tenantid}"
        else:
            resolved = self._resolve_tenant(tenant)
            if resolved is None:
                raise self._unknown_tenant(tenant)
            tid = issuer_tid = resolved
        base = f"{self.login_url}/{tid}"
        doc = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{self.login_url}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.login_url}/{issuer_tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.origin}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid", "name", "email"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        return Response(json.dumps(doc), status=200, mimetype="application/json")

    def _token(self, request: Request, tenant: str) -> Response:
        form = request.form
        if tenant.lower() in ("common", "organizations", "consumers"):
            raise _LoginError(
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided "
                "credentials.",
            )
        tid = self._resolve_tenant(tenant)
        if tid is None:
            raise self._unknown_tenant(tenant)
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        auth_header = request.headers.get("Authorization", "")
        if auth_header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth_header[6:].strip()).decode()
                basic_id, _, basic_secret = decoded.partition(":")
            except Exception:
                raise _LoginError(401, "invalid_client", 7000215, "Invalid client secret provided.") from None
            client_id = client_id or unquote_plus(basic_id)
            secret = secret or unquote_plus(basic_secret)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _LoginError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        if grant_type != "client_credentials":
            raise _LoginError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if not client_id:
            raise _LoginError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        app = self._apps.get(client_id.lower())
        if app is None or app.tenant_id != tid:
            raise _LoginError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This "
                "can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant.",
            )
        if form.get("client_assertion"):
            raise _LoginError(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. (certificate credentials are not emulated)",
            )
        if not secret:
            raise _LoginError(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' "
                "grant type.",
            )
        if not secrets.compare_digest(secret.encode(), app.secret.encode()):
            raise _LoginError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if app.secret_expired:
            raise _LoginError(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure "
                "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using "
                "certificate credentials for added security: https://aka.ms/certCreds.",
            )
        scopes = [
            s for s in form.get("scope", "").split() if s not in ("openid", "profile", "offline_access")
        ]
        if not scopes:
            raise _LoginError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        if len(scopes) > 1 or not scopes[0].endswith("/.default"):
            raise _LoginError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {' '.join(scopes)} is not valid. Client credential flows must "
                "have a scope value with /.default suffixed to the resource identifier (application ID "
                "URI).",
            )
        resource = scopes[0][: -len("/.default")].rstrip("/")
        if resource not in (GRAPH_RESOURCE, GRAPH_APP_ID):
            raise _LoginError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named {tid}. This can "
                "happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You might have sent your authentication request to "
                "the wrong tenant.",
            )
        roles = (MAIL_READWRITE_ROLE,) if app.consented else ()
        token = self._issue_token(app, tid, roles)
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
        resp = Response(json.dumps(body), status=200, mimetype="application/json")
        resp.headers["Cache-Control"] = "no-store, no-cache"
        resp.headers["Pragma"] = "no-cache"
        return resp

    def _issue_token(self, app: _App, tid: str, roles: tuple[str, ...]) -> str:
        now = datetime.now(UTC)
        exp = now + timedelta(seconds=self.token_lifetime)
        header = {"typ": "JWT", "alg": "RS256", "kid": "ms-emulator"}
        claims = {
            "aud": GRAPH_RESOURCE,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(exp.timestamp()),
            "appid": app.client_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": str(uuid.uuid4()),
            "tid": tid,
            "ver": "1.0",
            "uti": secrets.token_urlsafe(16),
        }
        if roles:
            claims["roles"] = list(roles)
        token = ".".join(
            [
                _b64url(json.dumps(header).encode()),
                _b64url(json.dumps(claims).encode()),
                _b64url(secrets.token_bytes(32)),
            ]
        )
        self._tokens[token] = _Token(app.client_id, tid, roles, exp)
        return token

    def _admin_consent(self, request: Request, tenant: str, *, v2: bool) -> Response:
        args = request.args
        low = tenant.lower()
        client_id = args.get("client_id", "")
        app = self._apps.get(client_id.lower())
        if low in ("common", "organizations"):
            tid = app.tenant_id if app else None
        else:
            tid = self._resolve_tenant(tenant)
            if tid is None:
                return self._consent_page(self._unknown_tenant(tenant))
        if not client_id:
            return self._consent_page(
                _LoginError(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'client_id'.",
                )
            )
        if app is None or app.tenant_id != tid:
            return self._consent_page(
                _LoginError(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
                )
            )
        redirect_uri = args.get("redirect_uri")
        if not redirect_uri:
            return self._consent_page(
                _LoginError(
                    400, "invalid_request", 900144, "The request must contain the parameter 'redirect_uri'."
                )
            )
        if app.redirect_uris is not None and redirect_uri not in app.redirect_uris:
            return self._consent_page(
                _LoginError(
                    400,
                    "invalid_request",
                    50011,
                    f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
                    f"URIs configured for the application '{app.client_id}'.",
                )
            )
        state = args.get("state")
        scope = args.get("scope")
        params: list[tuple[str, str]] = []
        if v2 and not scope:
            params += [
                ("error", "invalid_request"),
                (
                    "error_description",
                    "AADSTS900144: The request body must contain the following parameter: 'scope'.",
                ),
            ]
        elif self._consent_error is not None:
            if v2:
                params.append(("admin_consent", "True"))
            params += [("error", self._consent_error[0]), ("error_description", self._consent_error[1])]
        else:
            app.consented = True
            params += [("admin_consent", "True"), ("tenant", app.tenant_id)]
            if v2 and scope:
                params.append(("scope", scope))
        if state is not None:
            params.append(("state", state))
        sep = "&" if "?" in redirect_uri else "?"
        resp = Response("", status=302)
        resp.headers["Location"] = redirect_uri + sep + urlencode(params)
        return resp

    def _consent_page(self, e: _LoginError) -> Response:
        """Entra shows an error page (no redirect) when it cannot trust the client or the redirect URI."""
        text = f"<html><body><h1>Sign in</h1><p>AADSTS{e.aadsts}: {e.text}</p></body></html>"
        return Response(text, status=e.status, mimetype="text/html")

    # ------------------------------------------------------------------ graph side

    def _graph_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        resp = Response(
            json.dumps(body),
            status=status,
            content_type="application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
            "charset=utf-8",
        )
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def _graph_error(self, e: _GraphError) -> Response:
        rid = str(uuid.uuid4())
        body = {
            "error": {
                "code": e.code,
                "message": e.message,
                "innerError": {"date": _iso(datetime.now(UTC)), "request-id": rid, "client-request-id": rid},
            }
        }
        headers = dict(e.headers)
        if e.status == 401:
            headers.setdefault(
                "WWW-Authenticate",
                f'Bearer realm="", authorization_uri="{self.login_url}/common/oauth2/authorize", '
                f'client_id="{GRAPH_APP_ID}"',
            )
        return self._graph_json(e.status, body, headers)

    def _graph(self, request: Request, rest: str) -> Response:
        rid = str(uuid.uuid4())
        try:
            token = self._check_token(request)
            response = self._graph_route(request, _normalise_segments(rest), token)
        except _GraphError as e:
            response = self._graph_error(e)
        response.headers["request-id"] = rid
        response.headers["client-request-id"] = request.headers.get("client-request-id", rid)
        return response

    def _check_token(self, request: Request) -> _Token:
        auth = request.headers.get("Authorization", "")
        if not auth:
            raise _GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        if not auth.lower().startswith("bearer "):
            raise _GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
        token = self._tokens.get(auth[7:].strip())
        if token is None:
            raise _GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        if token.revoked or token.expires_at <= datetime.now(UTC):
            raise _GraphError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
            )
        return token

    def _prefer(self, request: Request) -> dict[str, str]:
        prefs: dict[str, str] = {}
        for header in request.headers.getlist("Prefer"):
            for item in header.split(","):
                name, _, value = item.strip().partition("=")
                if name:
                    prefs[name.strip().lower()] = value.strip().strip('"')
        return prefs

    def _graph_route(self, request: Request, segs: list[str], token: _Token) -> Response:
        if not segs:
            raise _GraphError(400, "BadRequest", "Invalid request.")
        head = segs[0].lower()
        if head == "me":
            raise _GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        if head != "users":
            raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{segs[0]}'.")
        if len(segs) < 2:
            raise _GraphError(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        app = self._apps.get(token.client_id.lower())
        if not token.roles or app is None or not app.consented:
            raise _GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if len(segs) == 2:
            # /users/{id} is a directory read; Mail.ReadWrite alone does not allow it.
            raise _GraphError(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        mb = self._graph_mailbox(segs[1], token)
        if app.allowed_upns is not None and mb.upn.lower() not in app.allowed_upns:
            raise _GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")
        method = request.method
        rest = segs[2:]
        r0 = rest[0].lower()
        if r0 == "mailfolders":
            if len(rest) == 1:
                if method == "GET":
                    return self._list_folders(request, mb, self._root(mb))
                if method == "POST":
                    return self._create_folder(request, mb, self._root(mb))
                raise self._not_allowed(method)
            folder = self._graph_folder(mb, rest[1])
            if len(rest) == 2:
                if method == "GET":
                    return self._get_folder(request, mb, folder)
                raise self._not_allowed(method)
            r2 = rest[2].lower()
            if r2 == "childfolders" and len(rest) == 3:
                if method == "GET":
                    return self._list_folders(request, mb, folder)
                if method == "POST":
                    return self._create_folder(request, mb, folder)
                raise self._not_allowed(method)
            if r2 == "messages":
                if len(rest) == 3:
                    if method == "GET":
                        return self._list_messages(request, mb, folder)
                    raise self._not_allowed(method)
                if len(rest) == 4 and rest[3].lower() == "delta":
                    if method == "GET":
                        return self._delta(request, mb, folder)
                    raise self._not_allowed(method)
                return self._message_op(request, mb, rest[3:])
            raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[2]}'.")
        if r0 == "messages":
            if len(rest) == 1:
                if method == "GET":
                    return self._list_messages(request, mb, None)
                raise self._not_allowed(method)
            return self._message_op(request, mb, rest[1:])
        raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")

    def _not_allowed(self, method: str) -> _GraphError:
        return _GraphError(
            405, "ErrorInvalidRequest", f"The OData request is not supported ({method} not emulated)."
        )

    def _graph_mailbox(self, ref: str, token: _Token) -> _Mailbox:
        low = ref.lower()
        mb = self._mailboxes.get(low) or next((m for m in self._mailboxes.values() if m.user_id == low), None)
        if mb is None or (mb.tenant_id is not None and mb.tenant_id != token.tenant_id):
            raise _GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
        return mb

    def _root(self, mb: _Mailbox) -> _Folder:
        return next(f for f in mb.folders.values() if f.well_known == "msgfolderroot")

    def _graph_folder(self, mb: _Mailbox, ref: str) -> _Folder:
        if ref in mb.folders:
            return mb.folders[ref]
        low = ref.lower()
        for f in mb.folders.values():
            if f.well_known == low:
                return f
        if low in _OTHER_WELL_KNOWN or _ID_RE.match(ref):
            raise _GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        raise _GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")

    def _graph_message(self, mb: _Mailbox, ref: str) -> _Message:
        key = mb.ids.get(ref)
        if key is None and ref in mb.messages:
            key = ref  # an ImmutableId
        if key is None:
            if not _ID_RE.match(ref):
                raise _GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
            raise _GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return mb.messages[key]

    # ------------------------------------------------------------------ graph: query options

    def _select(self, request: Request, allowed: list[str], type_name: str) -> list[str] | None:
        raw = request.args.get("$select")
        if raw is None or not raw.strip():
            return None
        lookup = {p.lower(): p for p in allowed}
        out = []
        for item in raw.split(","):
            name = item.strip()
            short = name.split("/")[-1]  # microsoft.graph.fileAttachment/contentBytes
            canonical = lookup.get(short.lower())
            if canonical is None:
                raise _GraphError(
                    400,
                    "RequestBroker--ParseUri",
                    f"Could not find a property named '{name}' on type '{type_name}'.",
                )
            out.append(canonical)
        return out

    def _filters(self, request: Request, known: list[str], type_name: str) -> list[tuple[str, str, Any]]:
        raw = request.args.get("$filter")
        if raw is None or not raw.strip():
            return []
        out = []
        lookup = {p.lower(): p for p in known}
        for clause in _split_and(raw):
            m = re.fullmatch(r"([A-Za-z/]+)\s+(eq|ne|ge|gt|le|lt)\s+(.+)", clause.strip(), re.IGNORECASE)
            if not m:
                raise _GraphError(
                    400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
                )
            prop, op, literal = m.group(1), m.group(2).lower(), m.group(3)
            head, _, tail = prop.partition("/")
            canonical = lookup.get(head.lower())
            if canonical is None:
                raise _GraphError(
                    400,
                    "RequestBroker--ParseUri",
                    f"Could not find a property named '{head}' on type '{type_name}'.",
                )
            out.append((canonical + ("/" + tail if tail else ""), op, _parse_literal(literal)))
        return out

    def _page_args(self, request: Request, default: int = DEFAULT_PAGE_SIZE) -> tuple[int, int]:
        try:
            top = int(request.args.get("$top", default))
            skip = int(request.args.get("$skip", 0))
        except ValueError:
            raise _GraphError(400, "BadRequest", "Invalid $top or $skip value.") from None
        if top < 0 or skip < 0:
            raise _GraphError(400, "BadRequest", "Invalid $top or $skip value.")
        return max(1, min(top, 1000)) if top else default, skip

    def _next_link(self, request: Request, skip: int) -> str:
        raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        raw_path = raw_path.split("?", 1)[0]
        pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "$skip"]
        pairs.append(("$skip", str(skip)))
        return f"{self.origin}{raw_path}?" + urlencode(pairs, quote_via=quote, safe="$,'()")

    def _context(self, mb: _Mailbox, tail: str) -> str:
        return f"{self.graph_url}/$metadata#users('{quote(mb.upn, safe='@.')}')/{tail}"

    @staticmethod
    def _apply_select(
        doc: dict[str, Any], select: list[str] | None, always: tuple[str, ...]
    ) -> dict[str, Any]:
        if select is None:
            return doc
        keep = set(select) | set(always)
        return {k: v for k, v in doc.items() if k in keep}

    # ------------------------------------------------------------------ graph: folders

    def _render_folder(self, mb: _Mailbox, f: _Folder) -> dict[str, Any]:
        msgs = [m for m in mb.messages.values() if m.folder_id == f.id]
        return {
            "id": f.id,
            "displayName": f.display_name,
            "parentFolderId": f.parent_id,
            "childFolderCount": sum(1 for c in mb.folders.values() if c.parent_id == f.id),
            "unreadItemCount": sum(1 for m in msgs if not m.is_read),
            "totalItemCount": len(msgs),
            "sizeInBytes": sum(len(m.raw) for m in msgs),
            "isHidden": f.hidden,
        }

    def _list_folders(self, request: Request, mb: _Mailbox, parent: _Folder) -> Response:
        select = self._select(request, _FOLDER_PROPS, "microsoft.graph.mailFolder")
        filters = self._filters(request, _FOLDER_PROPS, "microsoft.graph.mailFolder")
        hidden = request.args.get("includeHiddenFolders", "").lower() == "true"
        docs = [
            self._render_folder(mb, f)
            for f in sorted(mb.folders.values(), key=lambda f: f.seq)
            if f.parent_id == parent.id and (hidden or not f.hidden)
        ]
        docs = [d for d in docs if all(_compare(_lookup(d, p), op, v) for p, op, v in filters)]
        top, skip = self._page_args(request)
        page = docs[skip : skip + top]
        tail = (
            "mailFolders"
            if parent.well_known == "msgfolderroot"
            else f"mailFolders('{parent.id}')/childFolders"
        )
        body: dict[str, Any] = {
            "@odata.context": self._context(mb, tail),
            "value": [self._apply_select(d, select, ("id",)) for d in page],
        }
        if skip + top < len(docs):
            body["@odata.nextLink"] = self._next_link(request, skip + top)
        return self._graph_json(200, body)

    def _get_folder(self, request: Request, mb: _Mailbox, folder: _Folder) -> Response:
        select = self._select(request, _FOLDER_PROPS, "microsoft.graph.mailFolder")
        doc = {"@odata.context": self._context(mb, "mailFolders/$entity"), **self._render_folder(mb, folder)}
        return self._graph_json(200, self._apply_select(doc, select, ("id", "@odata.context")))

    def _create_folder(self, request: Request, mb: _Mailbox, parent: _Folder) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise _GraphError(
                400, "ErrorInvalidParameter", "The value of the parameter 'DisplayName' is empty."
            )
        if any(
            f.parent_id == parent.id and f.display_name.lower() == name.lower() for f in mb.folders.values()
        ):
            raise _GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder = self._make_folder(mb, name, parent.id, None, bool(body.get("isHidden", False)))
        doc = {"@odata.context": self._context(mb, "mailFolders/$entity"), **self._render_folder(mb, folder)}
        location = f"{self.graph_url}/users('{quote(mb.upn, safe='@.')}')/mailFolders('{folder.id}')"
        return self._graph_json(201, doc, {"Location": location})

    # ------------------------------------------------------------------ graph: messages

    def _render_message(
        self, mb: _Mailbox, msg: _Message, immutable: bool, extra: tuple[str, ...] = ()
    ) -> dict:
        def addr(name: str | None, address: str | None) -> dict[str, Any] | None:
            if not address and not name:
                return None
            return {"emailAddress": {"name": name or address or "", "address": address or ""}}

        preview = msg.body if msg.body_type == "text" else _strip_html(msg.body)
        doc: dict[str, Any] = {
            "@odata.etag": f'W/"{msg.change_key}"',
            "id": msg.key if immutable else msg.id,
            "createdDateTime": _iso(msg.created),
            "lastModifiedDateTime": _iso(msg.modified),
            "changeKey": msg.change_key,
            "categories": [],
            "receivedDateTime": _iso(msg.received),
            "sentDateTime": _iso(msg.sent),
            "hasAttachments": any(not a.is_inline for a in msg.attachments),
            "internetMessageId": msg.internet_message_id,
            "subject": msg.subject,
            "bodyPreview": re.sub(r"\s+", " ", preview).strip()[:255],
            "importance": "normal",
            "parentFolderId": msg.folder_id,
            "conversationId": msg.conversation_id,
            "conversationIndex": _b64url(msg.conversation_id.encode()[:22]),
            "isDeliveryReceiptRequested": False,
            "isReadReceiptRequested": False,
            "isRead": msg.is_read,
            "isDraft": False,
            "webLink": "https://outlook.office365.com/owa/?ItemID="
            + quote(msg.id, safe="")
            + "&exvsurl=1&viewmodel=ReadMessageItem",
            "inferenceClassification": "focused",
            "body": {"contentType": msg.body_type, "content": msg.body},
            "sender": addr(msg.sender_name, msg.sender_addr),
            "from": addr(msg.sender_name, msg.sender_addr),
            "toRecipients": [addr(n, a) for n, a in msg.to],
            "ccRecipients": [],
            "bccRecipients": [],
            "replyTo": [],
            "flag": {"flagStatus": "notFlagged"},
        }
        if "internetMessageHeaders" in extra:
            doc["internetMessageHeaders"] = [{"name": k, "value": v} for k, v in msg.headers]
        if "uniqueBody" in extra:
            doc["uniqueBody"] = doc["body"]
        return doc

    def _message_doc(
        self,
        mb: _Mailbox,
        msg: _Message,
        select: list[str] | None,
        immutable: bool,
        expand: tuple[bool, list[str] | None] | None,
        prefs: dict[str, str],
    ) -> dict[str, Any]:
        doc = self._render_message(mb, msg, immutable, tuple(select or ()))
        if prefs.get("outlook.body-content-type") == "text" and msg.body_type == "html":
            doc["body"] = {"contentType": "text", "content": _strip_html(msg.body)}
        doc = self._apply_select(doc, select, ("id", "@odata.etag"))
        if expand is not None:
            _, att_select = expand
            doc["attachments"] = [self._render_attachment(a, att_select) for a in msg.attachments]
        return doc

    def _expand(self, request: Request) -> tuple[bool, list[str] | None] | None:
        raw = request.args.get("$expand")
        if not raw:
            return None
        m = re.fullmatch(r"\s*attachments\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*", raw, re.IGNORECASE)
        if not m:
            raise _GraphError(
                400,
                "BadRequest",
                f"Parsing OData Select and Expand failed: '{raw}' (only attachments is emulated).",
            )
        if m.group(1) is None:
            return True, None
        lookup = {p.lower(): p for p in _ATTACHMENT_PROPS}
        names = []
        for item in m.group(1).split(","):
            short = item.strip().split("/")[-1]
            if short.lower() not in lookup:
                raise _GraphError(
                    400,
                    "RequestBroker--ParseUri",
                    f"Could not find a property named '{item.strip()}' on type 'microsoft.graph.attachment'.",
                )
            names.append(lookup[short.lower()])
        return True, names

    def _order(
        self, request: Request, docs: list[tuple[dict[str, Any], int]]
    ) -> list[tuple[dict[str, Any], int]]:
        raw = request.args.get("$orderby")
        if not raw:
            return sorted(docs, key=lambda d: (d[0]["receivedDateTime"], d[1]), reverse=True)
        for clause in reversed([c.strip() for c in raw.split(",") if c.strip()]):
            parts = clause.split()
            prop = parts[0]
            desc = len(parts) > 1 and parts[1].lower() == "desc"
            docs = sorted(
                docs,
                key=lambda d, p=prop: (_lookup(d[0], p) is None, str(_lookup(d[0], p) or "")),
                reverse=desc,
            )
        return docs

    def _list_messages(self, request: Request, mb: _Mailbox, folder: _Folder | None) -> Response:
        select = self._select(request, _MESSAGE_PROPS, "microsoft.graph.message")
        filters = self._filters(request, _MESSAGE_PROPS, "microsoft.graph.message")
        expand = self._expand(request)
        prefs = self._prefer(request)
        immutable = prefs.get("idtype", "").lower() == "immutableid"
        rendered = [
            (self._render_message(mb, m, immutable), m.seq, m)
            for m in mb.messages.values()
            if folder is None or m.folder_id == folder.id
        ]
        rendered = [r for r in rendered if all(_compare(_lookup(r[0], p), op, v) for p, op, v in filters)]
        by_seq = {seq: m for _, seq, m in rendered}
        ordered = self._order(request, [(d, seq) for d, seq, _ in rendered])
        top, skip = self._page_args(request)
        page = ordered[skip : skip + top]
        tail = "messages" if folder is None else f"mailFolders('{folder.id}')/messages"
        body: dict[str, Any] = {
            "@odata.context": self._context(mb, tail),
            "value": [
                self._message_doc(mb, by_seq[seq], select, immutable, expand, prefs) for _, seq in page
            ],
        }
        if skip + top < len(ordered):
            body["@odata.nextLink"] = self._next_link(request, skip + top)
        return self._graph_json(200, body)

    def _message_op(self, request: Request, mb: _Mailbox, segs: list[str]) -> Response:
        method = request.method
        msg = self._graph_message(mb, segs[0])
        prefs = self._prefer(request)
        immutable = prefs.get("idtype", "").lower() == "immutableid"
        tail = [s.lower() for s in segs[1:]]
        if not tail:
            if method != "GET":
                raise self._not_allowed(method)
            select = self._select(request, _MESSAGE_PROPS, "microsoft.graph.message")
            doc = self._message_doc(mb, msg, select, immutable, self._expand(request), prefs)
            return self._graph_json(200, {"@odata.context": self._context(mb, "messages/$entity"), **doc})
        if tail == ["$value"]:
            if method != "GET":
                raise self._not_allowed(method)
            return Response(msg.raw, status=200, content_type="message/rfc822")
        if tail == ["move"]:
            if method != "POST":
                raise self._not_allowed(method)
            body = request.get_json(silent=True)
            dest_ref = body.get("destinationId") if isinstance(body, dict) else None
            if not isinstance(dest_ref, str) or not dest_ref:
                raise _GraphError(
                    400, "ErrorInvalidParameter", "The value of the parameter 'DestinationId' is empty."
                )
            dest = self._graph_folder(mb, dest_ref)
            moved = self._move(mb, msg, dest)
            doc = self._message_doc(mb, moved, None, immutable, None, prefs)
            location = f"{self.graph_url}/users('{quote(mb.upn, safe='@.')}')/messages('{doc['id']}')"
            return self._graph_json(
                201, {"@odata.context": self._context(mb, "messages/$entity"), **doc}, {"Location": location}
            )
        if tail[0] == "attachments":
            if method != "GET":
                raise self._not_allowed(method)
            if len(tail) == 1:
                select = self._select(request, _ATTACHMENT_PROPS, "microsoft.graph.attachment")
                body = {
                    "@odata.context": self._context(mb, f"messages('{segs[0]}')/attachments"),
                    "value": [self._render_attachment(a, select) for a in msg.attachments],
                }
                return self._graph_json(200, body)
            att = next((a for a in msg.attachments if a.id == segs[2]), None)
            if att is None:
                if not _ID_RE.match(segs[2]):
                    raise _GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
                raise _GraphError(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            if len(tail) == 2:
                select = self._select(request, _ATTACHMENT_PROPS, "microsoft.graph.attachment")
                ctx = self._context(mb, f"messages('{segs[0]}')/attachments/$entity")
                return self._graph_json(200, {"@odata.context": ctx, **self._render_attachment(att, select)})
            if len(tail) == 3 and tail[2] == "$value":
                return Response(att.content, status=200, content_type=att.content_type)
        raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{segs[1]}'.")

    def _render_attachment(self, att: _Attachment, select: list[str] | None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.itemAttachment"
            if att.is_item
            else "#microsoft.graph.fileAttachment",
            "id": att.id,
            "lastModifiedDateTime": _iso(att.modified),
            "name": att.name,
            "contentType": att.content_type,
            "size": len(att.content),
            "isInline": att.is_inline,
        }
        if not att.is_item:
            doc["@odata.mediaContentType"] = att.content_type
            doc["contentId"] = att.content_id
            doc["contentLocation"] = None
            doc["contentBytes"] = base64.b64encode(att.content).decode()
        if select is None:
            return doc
        keep = set(select) | {"id", "@odata.type"}
        return {k: v for k, v in doc.items() if k in keep}

    # ------------------------------------------------------------------ graph: delta

    def _delta(self, request: Request, mb: _Mailbox, folder: _Folder) -> Response:
        args = request.args
        prefs = self._prefer(request)
        prefer_size = None
        if "odata.maxpagesize" in prefs:
            try:
                prefer_size = max(1, int(prefs["odata.maxpagesize"]))
            except ValueError:
                prefer_size = None
        skiptoken, deltatoken = args.get("$skiptoken"), args.get("$deltatoken")
        if skiptoken is not None:
            entry = self._skiptokens.get(skiptoken)
            if entry is None or entry[0].base.upn != mb.upn.lower() or entry[0].base.folder_id != folder.id:
                raise _GraphError(
                    400, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid."
                )
            rnd, offset = entry
            if rnd.base.expired:
                raise self._sync_state_gone()
        elif deltatoken is not None:
            base = self._deltatokens.get(deltatoken)
            if base is None or base.upn != mb.upn.lower() or base.folder_id != folder.id:
                raise _GraphError(
                    400, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid."
                )
            if base.expired:
                raise self._sync_state_gone()
            current = self._delta_current(mb, folder, base)
            entries: list[tuple[str, str]] = []
            if base.change_type in (None, "created"):
                entries += [("msg", key) for key in current if key not in base.seen]
            if base.change_type in (None, "deleted"):
                entries += [("removed", shown) for key, shown in base.seen.items() if key not in current]
            rnd = _DeltaRound(base=base, entries=entries, next_seen=current)
            offset = 0
        else:
            select = self._select(request, _MESSAGE_PROPS, "microsoft.graph.message")
            filters = self._filters(request, _MESSAGE_PROPS, "microsoft.graph.message")
            for prop, op, _ in filters:
                if prop != "receivedDateTime" or op not in ("ge", "gt"):
                    raise _GraphError(
                        400,
                        "ErrorInvalidUrlQueryFilter",
                        "The query filter contains one or more invalid nodes.",
                    )
            change_type = args.get("changeType")
            if change_type is not None and change_type.lower() not in ("created", "updated", "deleted"):
                raise _GraphError(400, "BadRequest", f"Invalid changeType '{change_type}'.")
            page_size = None
            if "$top" in args:
                page_size, _ = self._page_args(request)
            base = _DeltaBase(
                upn=mb.upn.lower(),
                folder_id=folder.id,
                select=select,
                filters=filters,
                change_type=change_type.lower() if change_type else None,
                page_size=page_size,
                immutable=prefs.get("idtype", "").lower() == "immutableid",
                seen={},
            )
            current = self._delta_current(mb, folder, base)
            entries = [] if base.change_type == "deleted" else [("msg", key) for key in current]
            rnd = _DeltaRound(base=base, entries=entries, next_seen=current)
            offset = 0
        size = prefer_size or rnd.base.page_size or DEFAULT_PAGE_SIZE
        chunk = rnd.entries[offset : offset + size]
        value = []
        for kind, ref in chunk:
            if kind == "removed":
                value.append(
                    {"@odata.type": "#microsoft.graph.message", "id": ref, "@removed": {"reason": "deleted"}}
                )
                continue
            msg = mb.messages.get(ref)
            if msg is None or msg.folder_id != folder.id:
                continue  # left the folder during this round; the next round reports it as removed
            doc = self._message_doc(mb, msg, rnd.base.select, rnd.base.immutable, None, prefs)
            value.append({"@odata.type": "#microsoft.graph.message", **doc})
        link_base = (
            f"{self.graph_url}/users/{quote(mb.upn, safe='@.')}/mailfolders('{folder.id}')/messages/delta"
        )
        body: dict[str, Any] = {
            "@odata.context": self._context(mb, f"mailFolders('{folder.id}')/messages/$delta")
        }
        if offset + size < len(rnd.entries):
            token = secrets.token_urlsafe(32)
            self._skiptokens[token] = (rnd, offset + size)
            body["@odata.nextLink"] = f"{link_base}?$skiptoken={token}"
        else:
            token = secrets.token_urlsafe(32)
            self._deltatokens[token] = _DeltaBase(
                upn=rnd.base.upn,
                folder_id=rnd.base.folder_id,
                select=rnd.base.select,
                filters=rnd.base.filters,
                change_type=rnd.base.change_type,
                page_size=rnd.base.page_size,
                immutable=rnd.base.immutable,
                seen=rnd.next_seen,
            )
            body["@odata.deltaLink"] = f"{link_base}?$deltatoken={token}"
        body["value"] = value
        headers = {"Preference-Applied": f"odata.maxpagesize={prefer_size}"} if prefer_size else {}
        return self._graph_json(200, body, headers)

    def _delta_current(self, mb: _Mailbox, folder: _Folder, base: _DeltaBase) -> dict[str, str]:
        """Messages now in the folder that match the round's filter, in arrival order: key -> id shown."""
        out: dict[str, str] = {}
        for msg in sorted(mb.messages.values(), key=lambda m: m.seq):
            if msg.folder_id != folder.id:
                continue
            doc = {"receivedDateTime": _iso(msg.received)}
            if all(_compare(_lookup(doc, p), op, v) for p, op, v in base.filters):
                out[msg.key] = msg.key if base.immutable else msg.id
        return out

    @staticmethod
    def _sync_state_gone() -> _GraphError:
        return _GraphError(
            410,
            "SyncStateNotFound",
            "The sync state generation is not found. The delta token is expired and data must be "
            "synchronized again.",
        )


# --------------------------------------------------------------------------------------------- MIME


def _parse_mime(raw: bytes) -> dict[str, Any]:
    """Read an RFC 822 message the way Exchange would present it through Graph."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = _header_str(msg.get("Subject"))
    sender_name = sender_addr = None
    from_value = _header_str(msg.get("From"))
    if from_value:
        pairs = getaddresses([from_value])
        if pairs and (pairs[0][0] or pairs[0][1]):
            sender_name, sender_addr = pairs[0][0] or None, pairs[0][1] or None
    to = [(n, a) for n, a in getaddresses([_header_str(v) for v in msg.get_all("To") or []]) if a]
    date = None
    try:
        header = msg.get("Date")
        if header is not None and getattr(header, "datetime", None) is not None:
            date = _as_utc(header.datetime)
    except Exception:
        date = None
    headers = [(k, _header_str(v)) for k, v in msg.items()]
    state: dict[str, Any] = {"plain": None, "html": None, "attachments": [], "unnamed": 0}
    _walk(msg, state, in_related=False, top=True)
    if state["html"] is not None:
        body_type, body = "html", state["html"]
    else:
        body_type, body = "text", state["plain"] or ""
    return {
        "subject": subject,
        "sender_name": sender_name,
        "sender_addr": sender_addr,
        "to": to,
        "message_id": _bracket(_header_str(msg.get("Message-ID"))),
        "date": date,
        "headers": headers,
        "body_type": body_type,
        "body": body,
        "attachments": state["attachments"],
    }


def _walk(part: Message, state: dict[str, Any], *, in_related: bool, top: bool = False) -> None:
    ctype = part.get_content_type()
    if ctype == "message/rfc822" and not top:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if inner is not None:
            try:
                item = inner.as_bytes(policy=inner.policy.clone(linesep="\r\n"))
            except Exception:  # headers the generator cannot refold: keep the compat32 rendering
                item = inner.as_bytes(policy=email.policy.compat32)
            name = _header_str(inner.get("Subject")) or _safe_filename(part) or "Untitled message"
        else:
            item = part.get_payload(decode=True) or b""
            name = _safe_filename(part) or "Untitled message"
        state["attachments"].append(
            {
                "name": name,
                "content_type": "message/rfc822",
                "content": item,
                "is_inline": False,
                "is_item": True,
                "content_id": None,
            }
        )
        return
    if part.is_multipart():
        related = in_related or ctype == "multipart/related"
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _walk(sub, state, in_related=related)
        return
    disposition = part.get_content_disposition()
    filename = _safe_filename(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        slot = "html" if ctype == "text/html" else "plain"
        if state[slot] is None:
            try:
                state[slot] = part.get_content()
            except Exception:
                state[slot] = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
            return
    content = part.get_payload(decode=True) or b""
    content_id = _header_str(part.get("Content-ID")).strip() or None
    is_inline = disposition == "inline" or (disposition is None and in_related and content_id is not None)
    if not filename:
        state["unnamed"] += 1
        filename = f"ATT{state['unnamed']:05d}{mimetypes.guess_extension(ctype) or '.bin'}"
    state["attachments"].append(
        {
            "name": filename,
            "content_type": ctype,
            "content": content,
            "is_inline": is_inline,
            "is_item": False,
            "content_id": content_id,
        }
    )


def _safe_filename(part: Message) -> str | None:
    try:
        return part.get_filename() or None
    except Exception:
        return None


def _synthesize_mime(
    name: str,
    addr: str,
    to: str,
    subject: str,
    date: datetime,
    message_id: str,
    body: str,
    attachments: list[_Attachment],
) -> bytes:
    """The MIME a message added with add_message would have, for ``messages/{id}/$value``."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{addr}>" if name else addr
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg.set_content(body or "")
    for att in attachments:
        if att.is_item:
            inner = email.message_from_bytes(att.content, policy=email.policy.default)
            msg.add_attachment(inner)
        else:
            maintype, _, subtype = att.content_type.partition("/")
            msg.add_attachment(
                att.content,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=att.name,
                disposition="inline" if att.is_inline else "attachment",
                cid=f"<{att.content_id}>" if att.content_id else None,
            )
    return msg.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
