"""App-only access to Microsoft 365: the HTTPS session and the tokens (msal), failures classified.

Two traps shape this module (``../shared/notes/microsoft365.md``):

- ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` in the environment silently replace a session's
  ``verify``, and msal only ever sets ``verify``. Our sessions ignore the environment and carry
  their own TLS context (system store plus ``EKPANEL_CA_BUNDLE``), which nothing can switch off.
- msal's token cache lives in its application object, and building one costs a discovery
  request (and raises ``ValueError`` for an unknown tenant). So one application object per
  server is kept for the life of the process, keyed by everything that identifies the app; a
  changed secret or tenant builds a new one, and two servers never share a cache.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.texts import Text, note
from ekpanel.mail.tls import client_context
from ekpanel.mail.vocabulary import ErrorCode

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]

# AADSTS codes the administrator can act on; anything else is reported with Microsoft's text.
AADSTS_WRONG_SECRET = 7000215
AADSTS_EXPIRED_SECRET = 7000222
AADSTS_UNKNOWN_APP = 700016
AADSTS_UNKNOWN_TENANT = 90002
AADSTS_INVALID_TENANT_NAME = 900023

_ERROR_CODES = re.compile(r'"error_codes"\s*:\s*\[\s*(\d+)')


# The session --------------------------------------------------------------------------------


class _VerifyingAdapter(HTTPAdapter):
    """Verifies every HTTPS connection with one TLS context, whatever ``verify`` a caller passes."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["verify"] = True  # there is no "verify off", and no path can replace the context
        return super().send(request, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would load its own bundle (certifi) into the connection; the trust is ours.
        super().cert_verify(conn, url, verify, cert)
        conn.ca_certs = None
        conn.ca_cert_dir = None


class GraphSession(requests.Session):
    """A requests session for Microsoft's endpoints: our TLS trust, a timeout on every request."""

    def __init__(self, *, ca_bundle: str | None, timeout: float) -> None:
        super().__init__()
        self.trust_env = False  # REQUESTS_CA_BUNDLE must not replace our trust (nor .netrc add auth)
        self.timeout = timeout
        self.mount("https://", _VerifyingAdapter(client_context(ca_bundle)))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        # msal passes no timeout when it is given an http_client; a request must never hang.
        kwargs.setdefault("timeout", self.timeout)
        # trust_env is off for the CA bundle's sake; an office proxy (HTTPS_PROXY, NO_PROXY)
        # still applies.
        text_url = url.decode() if isinstance(url, bytes) else url
        kwargs.setdefault("proxies", get_environ_proxies(text_url))
        return super().request(method, url, *args, **kwargs)


def transport_error(exc: requests.RequestException, url: str) -> MailboxError:
    """A network or TLS failure talking to ``url``, classified for people."""
    host = urlsplit(url).hostname or url
    detail = repr(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return MailboxError(
            ErrorCode.TLS_UNTRUSTED,
            note(Text.HTTP_TLS_UNTRUSTED, host=host),
            detail=detail,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return MailboxError(ErrorCode.TIMEOUT, note(Text.HTTP_TIMEOUT, host=host), transient=True)
    if isinstance(exc, requests.exceptions.ProxyError):
        return MailboxError(
            ErrorCode.PROXY_FAILED,
            note(Text.HTTP_PROXY_FAILED, host=host),
            transient=True,
            detail=detail,
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _caused_by(exc, socket.gaierror):
            return MailboxError(
                ErrorCode.HOST_NOT_FOUND,
                note(Text.HTTP_HOST_NOT_FOUND, host=host),
                transient=True,
                detail=detail,
            )
        if _caused_by(exc, ConnectionRefusedError):
            return MailboxError(
                ErrorCode.CONNECTION_REFUSED,
                note(Text.HTTP_CONNECTION_REFUSED, host=host),
                transient=True,
                detail=detail,
            )
        return MailboxError(
            ErrorCode.CONNECTION_FAILED,
            note(Text.HTTP_CONNECTION_FAILED, host=host),
            transient=True,
            detail=detail,
        )
    return MailboxError(
        ErrorCode.CONNECTION_FAILED,
        note(Text.HTTP_CONNECTION_ERROR, host=host),
        transient=True,
        detail=detail,
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is anywhere in the chain (requests wraps urllib3 wraps socket errors)."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return False


# Tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppCredentials:
    """Everything that identifies one server's application registration."""

    server_id: int | None  # None: not a saved server (the cache then keys on the rest)
    client_id: str
    tenant: str
    secret: str
    login_url: str = "https://login.microsoftonline.com"
    ca_bundle: str | None = None
    timeout: float = 30.0

    @property
    def cache_key(self) -> tuple:
        # The secret only as a hash: the key may end up in a traceback.
        secret_hash = hashlib.sha256(self.secret.encode()).hexdigest()
        return (
            self.server_id,
            self.client_id.strip().lower(),
            self.tenant.strip().lower(),
            secret_hash,
            self.login_url.rstrip("/"),
            self.ca_bundle or "",
        )


_apps: dict[tuple, msal.ConfidentialClientApplication] = {}
_apps_lock = threading.Lock()


def application(credentials: AppCredentials) -> msal.ConfidentialClientApplication:
    """The msal application of this server, built on first use and kept for the process."""
    key = credentials.cache_key
    with _apps_lock:
        app = _apps.get(key)
        if app is not None:
            return app
    app = _build_application(credentials)  # network I/O: not under the lock
    with _apps_lock:
        # Another thread may have won the race; keep one object so its cache is the one used.
        app = _apps.setdefault(key, app)
        if credentials.server_id is not None:
            for stale in [k for k in _apps if k[0] == credentials.server_id and k != key]:
                del _apps[stale]  # the server's secret or tenant changed: forget the old app
    return app


def _build_application(credentials: AppCredentials) -> msal.ConfidentialClientApplication:
    login_url = credentials.login_url.rstrip("/")
    authority = f"{login_url}/{credentials.tenant.strip()}"
    microsoft_host = (urlsplit(login_url).hostname or "").lower() in WELL_KNOWN_AUTHORITY_HOSTS
    session = GraphSession(ca_bundle=credentials.ca_bundle, timeout=credentials.timeout)
    try:
        return msal.ConfidentialClientApplication(
            credentials.client_id.strip(),
            client_credential=credentials.secret,
            authority=authority,
            http_client=session,
            # Instance discovery asks login.microsoftonline.com about any other host; a private
            # login URL (a sovereign cloud proxy, the test emulator) is trusted as configured.
            instance_discovery=None if microsoft_host else False,
            azure_region=False,  # a stray MSAL_FORCE_REGION would send us to {region}.{host}
            token_cache=msal.TokenCache(),  # each server its own
        )
    except requests.RequestException as exc:
        session.close()
        raise transport_error(exc, authority) from exc
    except ValueError as exc:
        session.close()
        raise _authority_error(exc, credentials) from exc


def _authority_error(exc: ValueError, credentials: AppCredentials) -> MailboxError:
    """msal raises ValueError from the constructor: bad authority URL, or the tenant is unknown."""
    inner = exc.__context__
    detail = f"{exc}\n{inner}" if inner else str(exc)
    codes = [int(code) for code in _ERROR_CODES.findall(str(inner or ""))]
    if codes or "authority configuration" in str(exc):
        return _tenant_unknown(credentials, codes[0] if codes else AADSTS_UNKNOWN_TENANT, detail)
    return MailboxError(
        ErrorCode.LOGIN_URL_INVALID,
        note(
            Text.MS_LOGIN_URL_INVALID,
            url=credentials.login_url,
        ),
        detail=detail,
    )


def _tenant_unknown(credentials: AppCredentials, code: int, detail: str) -> MailboxError:
    return MailboxError(
        ErrorCode.TENANT_UNKNOWN,
        note(
            Text.MS_TENANT_UNKNOWN,
            tenant=credentials.tenant,
            code=code,
        ),
        detail=detail,
    )


def acquire_token(credentials: AppCredentials, *, refresh: bool = False) -> str:
    """An access token for Graph, from msal's cache when it holds a valid one.

    ``refresh`` drops the cached token first: Graph said 401 to it (revoked, or clocks disagree).
    """
    app = application(credentials)
    if refresh:
        app.remove_tokens_for_client()
    try:
        result = app.acquire_token_for_client(scopes=GRAPH_SCOPES)
    except requests.RequestException as exc:
        raise transport_error(exc, credentials.login_url) from exc
    token = result.get("access_token") if isinstance(result, dict) else None
    if token:
        return token
    raise token_error(result if isinstance(result, dict) else {}, credentials)


def token_error(result: dict, credentials: AppCredentials) -> MailboxError:
    """The token endpoint's refusal, classified by its AADSTS code (never by its text)."""
    codes = [c for c in result.get("error_codes") or [] if isinstance(c, int)]
    error = result.get("error") or ""
    description = result.get("error_description") or ""
    detail = f"{error}: {description}".strip(": ")
    if AADSTS_WRONG_SECRET in codes:
        return MailboxError(
            ErrorCode.SECRET_INVALID,
            note(Text.MS_SECRET_INVALID),
            detail=detail,
        )
    if AADSTS_EXPIRED_SECRET in codes:
        return MailboxError(
            ErrorCode.SECRET_EXPIRED,
            note(Text.MS_SECRET_EXPIRED),
            detail=detail,
        )
    if AADSTS_UNKNOWN_APP in codes:
        return MailboxError(
            ErrorCode.APP_UNKNOWN,
            note(
                Text.MS_APP_UNKNOWN,
                client_id=credentials.client_id,
                tenant=credentials.tenant,
            ),
            detail=detail,
        )
    if AADSTS_UNKNOWN_TENANT in codes or AADSTS_INVALID_TENANT_NAME in codes:
        return _tenant_unknown(credentials, codes[0], detail)
    if error in ("temporarily_unavailable", "server_error"):
        return MailboxError(
            ErrorCode.LOGIN_UNAVAILABLE,
            note(Text.MS_LOGIN_UNAVAILABLE),
            transient=True,
            detail=detail,
        )
    code_text = ", ".join(f"AADSTS{c}" for c in codes) or error or "?"
    return MailboxError(
        ErrorCode.AUTH_FAILED,
        note(Text.MS_LOGIN_FAILED, code=code_text),
        detail=detail,
    )
