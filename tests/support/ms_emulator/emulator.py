"""``MsEmulator``: the one object tests hold. It starts the server, arranges state, and dispatches requests.

The parts it is composed of: ``TlsServer`` (https plumbing), ``Directory`` (tenants, apps, tokens),
``MailStore`` (mailboxes), ``Faults`` (injected failures), ``DeltaSync`` (delta links), and the two sides
that answer requests, ``LoginEndpoints`` and ``GraphApi``. All state lives behind one lock: the Python
methods below take it to arrange and inspect, and every HTTP request is answered while holding it.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from werkzeug.wrappers import Request, Response

from .delivery import deliver_fields, deliver_raw
from .delta import DeltaSync
from .directory import Directory
from .errors import GraphError, graph_error, graph_json, login_error
from .faults import Faults, fault_error
from .graph import GraphApi
from .login import LoginEndpoints
from .server import TlsServer
from .store import MailStore

log = logging.getLogger(__name__)


class RecordedRequest(NamedTuple):
    """One request the emulator received: ``query`` holds the first value of each query parameter."""

    method: str
    path: str
    query: dict[str, str]


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
        self.requests: list[RecordedRequest] = []
        self.errors: list[
            str
        ] = []  # tracebacks of bugs in the emulator itself; a fixture may assert it is empty
        self._lock = threading.RLock()
        self._site = TlsServer(host, ca_dir)
        self._directory = Directory(token_lifetime)
        self._store = MailStore()
        self._faults = Faults()
        self._delta = DeltaSync()
        self._login = LoginEndpoints(self._directory, self._site)
        self._graph = GraphApi(self._directory, self._store, self._faults, self._delta, self._site)

    # ------------------------------------------------------------------ lifecycle

    @property
    def host(self) -> str:
        return self._site.host

    @property
    def port(self) -> int | None:
        """The port bound by start() (None before)."""
        return self._site.port

    @property
    def ca_path(self) -> str | None:
        """The CA certificate clients must trust (None before start())."""
        return self._site.ca_path

    @property
    def token_lifetime(self) -> int:
        """``expires_in`` of the tokens issued from now on, in seconds."""
        return self._directory.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self._directory.token_lifetime = seconds

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return self._site.origin

    @property
    def login_url(self) -> str:
        """What production reads from EKPANEL_MS_LOGIN_URL (the authority is ``{login_url}/{tenant}``)."""
        return self._site.login_url

    @property
    def graph_url(self) -> str:
        """What production reads from EKPANEL_GRAPH_URL."""
        return self._site.graph_url

    def start(self) -> MsEmulator:
        """Create the CA and certificate, bind a free port and serve in a background thread."""
        self._site.start(self._wsgi)
        return self

    def stop(self) -> None:
        """Stop serving, wait for every worker thread, and remove the temporary CA directory."""
        self._site.stop()

    def __enter__(self) -> MsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ tenants and apps

    def add_tenant(self, tenant_id: str, domain: str | None = None) -> None:
        """Make a tenant known by GUID and, optionally, by a domain alias (``contoso.onmicrosoft.com``)."""
        with self._lock:
            self._directory.add_tenant(tenant_id, domain)

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
            self._directory.add_app(
                client_id,
                secret,
                tenant_id,
                consented=consented,
                secret_expired=secret_expired,
                redirect_uris=redirect_uris,
            )

    def set_consent(self, client_id: str, consented: bool) -> None:
        """Grant or revoke admin consent.

        Tokens carry their roles from the moment they were issued (like real Entra tokens): granting consent
        helps only tokens issued afterwards. Revoking takes effect at once here, to keep tests simple.
        """
        with self._lock:
            self._directory.app(client_id).consented = consented

    def restrict_mailboxes(self, client_id: str, allowed_upns: list[str] | set[str] | None) -> None:
        """Emulate an Application Access Policy: other mailboxes answer 403 "Access to OData is disabled."

        ``None`` lifts the restriction.
        """
        with self._lock:
            app = self._directory.app(client_id)
            app.allowed_upns = {u.lower() for u in allowed_upns} if allowed_upns is not None else None

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far; Graph then answers 401 InvalidAuthenticationToken.

        msal still holds them in its cache (it trusts expires_in), which is exactly the situation to test.
        """
        with self._lock:
            self._directory.expire_tokens()

    def consent_answer(self, error: str | None = None, description: str | None = None) -> None:
        """Make later admin-consent requests redirect with ``error``/``error_description`` (None: succeed)."""
        with self._lock:
            self._directory.set_consent_answer(error, description)

    def is_consented(self, client_id: str) -> bool:
        """Whether the app holds admin consent now (set by the consent endpoint, add_app or set_consent)."""
        with self._lock:
            return self._directory.app(client_id).consented

    # ------------------------------------------------------------------ mailboxes and folders

    def add_mailbox(self, upn: str, *, tenant_id: str | None = None) -> str:
        """Create a mailbox with the standard folders; returns its user object id.

        With ``tenant_id`` only tokens of that tenant see it (others get 404 ErrorInvalidUser).
        """
        with self._lock:
            return self._store.add_mailbox(upn, tenant_id)

    def add_folder(
        self, upn: str, display_name: str, parent: str = "msgfolderroot", *, hidden: bool = False
    ) -> str:
        """Create a folder; ``parent`` is a folder id, a well-known name or a display-name path."""
        with self._lock:
            return self._store.add_folder(upn, display_name, parent, hidden)

    def folder_id(self, upn: str, name: str) -> str:
        """The id of a folder given a well-known name, a display name, or a path like ``Inbox/Faktury``."""
        with self._lock:
            return self._store.find_folder(self._store.mailbox(upn), name).id

    def folders(self, upn: str) -> list[dict[str, Any]]:
        """Every folder of the mailbox (root excluded), with its display path, to inspect what was created."""
        with self._lock:
            return self._store.folders_view(upn)

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
        with self._lock:
            return deliver_fields(
                self._store,
                upn,
                folder,
                sender=sender,
                subject=subject,
                received=received,
                message_id=message_id,
                attachments=attachments,
                is_read=is_read,
                body=body,
                to=to,
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
        with self._lock:
            return deliver_raw(self._store, upn, folder, raw, received=received, is_read=is_read)

    def messages(self, upn: str, folder: str) -> list[dict[str, Any]]:
        """What a folder holds, in arrival order: id, subject, internetMessageId, parentFolderId and more."""
        with self._lock:
            return self._store.messages_view(upn, folder)

    def move_message(self, upn: str, message_id: str, destination: str) -> str:
        """Move a message as a user would (new id, like Graph's move); returns the new id."""
        with self._lock:
            mb = self._store.mailbox(upn)
            msg = self._store.find_message(mb, message_id)
            return self._store.move(mb, msg, self._store.find_folder(mb, destination)).id

    def delete_message(self, upn: str, message_id: str) -> None:
        """Remove a message for good, as a user emptying it would."""
        with self._lock:
            mb = self._store.mailbox(upn)
            self._store.delete(mb, self._store.find_message(mb, message_id))

    def set_read(self, upn: str, message_id: str, is_read: bool = True) -> None:
        """Change isRead as a user would (nothing on the HTTP side ever changes it)."""
        with self._lock:
            mb = self._store.mailbox(upn)
            self._store.find_message(mb, message_id).is_read = is_read

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
            self._faults.fail_next(
                path_regex,
                status,
                code=code,
                retry_after=retry_after,
                times=times,
                message=message,
                method=method,
            )

    def fail_attachments(
        self,
        upn: str,
        message_id: str,
        status: int = 500,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: int | float | None = None,
        times: int | None = None,
    ) -> None:
        """Make the attachments of ONE message fail while every other message answers normally.

        Its attachment list, each attachment and each attachment's ``$value`` answer ``status`` in Graph's
        error shape (default for 500: InternalServerError), after authentication, so such a request is
        counted in ``requests`` like any other. The fault follows the message across moves. ``times=None``
        keeps it until ``clear_faults()``; a number makes it heal after that many requests.
        """
        with self._lock:
            mb = self._store.mailbox(upn)
            key = self._store.find_message(mb, message_id).key
            self._faults.fail_attachments(
                key, status, code=code, message=message, retry_after=retry_after, times=times
            )

    def clear_faults(self) -> None:
        """Drop every pending fault, message faults included."""
        with self._lock:
            self._faults.clear()

    def expire_delta_links(self) -> None:
        """Make every delta and next link issued so far answer 410 SyncStateNotFound (forcing a resync)."""
        with self._lock:
            self._delta.expire_links()

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

    # ------------------------------------------------------------------ answering requests

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
            response = graph_json(
                500,
                {"error": {"code": "InternalServerError", "message": "emulator bug: " + tb.splitlines()[-1]}},
            )
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        is_graph = path == "/v1.0" or path.startswith("/v1.0/")
        fault = self._faults.take(request.method, path)
        if fault is not None:
            error = fault_error(fault, is_graph)
            if isinstance(error, GraphError):
                return graph_error(error, self.login_url)
            return login_error(error, self.login_url)
        if is_graph:
            return self._graph.handle(request, path[len("/v1.0") :])
        return self._login.handle(request, path)
