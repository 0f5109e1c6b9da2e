"""The Entra ID directory: tenants, app registrations, admin consent and the tokens issued so far.

Both sides read it: the login endpoints to issue tokens, Graph to check them. Callers hold the emulator's
lock.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import LoginError
from .values import b64url

GRAPH_RESOURCE = "https://graph.microsoft.com"
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class App:
    client_id: str
    secret: str
    tenant_id: str
    consented: bool
    secret_expired: bool
    redirect_uris: set[str] | None
    allowed_upns: set[str] | None = None


@dataclass
class Token:
    client_id: str
    tenant_id: str
    roles: tuple[str, ...]
    expires_at: datetime
    revoked: bool = False


class Directory:
    def __init__(self, token_lifetime: int) -> None:
        self.token_lifetime = token_lifetime
        self.tenants: set[str] = set()
        self.domains: dict[str, str] = {}
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, Token] = {}
        # (error, error_description) the admin-consent endpoint redirects with; None: consent succeeds.
        self.consent_error: tuple[str, str] | None = None

    # ------------------------------------------------------------------ arranged by tests

    def add_tenant(self, tenant_id: str, domain: str | None = None) -> None:
        tid = tenant_id.lower()
        self.tenants.add(tid)
        if domain:
            self.domains[domain.lower()] = tid

    def add_app(
        self,
        client_id: str,
        secret: str,
        tenant_id: str,
        *,
        consented: bool,
        secret_expired: bool,
        redirect_uris: list[str] | None,
    ) -> None:
        tid = tenant_id.lower()
        self.tenants.add(tid)
        self.apps[client_id.lower()] = App(
            client_id=client_id,
            secret=secret,
            tenant_id=tid,
            consented=consented,
            secret_expired=secret_expired,
            redirect_uris=set(redirect_uris) if redirect_uris is not None else None,
        )

    def app(self, client_id: str) -> App:
        try:
            return self.apps[client_id.lower()]
        except KeyError:
            raise KeyError(f"unknown app {client_id}") from None

    def expire_tokens(self) -> None:
        for token in self.tokens.values():
            token.revoked = True

    def set_consent_answer(self, error: str | None, description: str | None) -> None:
        if error is None:
            self.consent_error = None
            return
        default = {
            "access_denied": "AADSTS65004: User declined to consent to access the app.",
            "permission_denied": "The admin canceled the request",
        }.get(error, f"AADSTS65004: {error}")
        self.consent_error = (error, description or default)

    # ------------------------------------------------------------------ read by the endpoints

    def resolve_tenant(self, name: str) -> str | None:
        """The tenant GUID for a GUID or a domain alias, None when unknown."""
        low = name.lower()
        if low in self.tenants:
            return low
        return self.domains.get(low)

    def issue_token(self, app: App, tid: str, roles: tuple[str, ...]) -> str:
        """A JWT-shaped access token (unsigned in effect: only this emulator ever checks it)."""
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
                b64url(json.dumps(header).encode()),
                b64url(json.dumps(claims).encode()),
                b64url(secrets.token_bytes(32)),
            ]
        )
        self.tokens[token] = Token(app.client_id, tid, roles, exp)
        return token


def unknown_tenant(name: str) -> LoginError:
    """What Entra answers for a tenant it does not know: malformed names and unknown ones differ."""
    if not _GUID_RE.match(name) and "." not in name:
        return LoginError(
            400,
            "invalid_request",
            900023,
            f"Specified tenant identifier '{name}' is neither a valid DNS name, nor a valid external domain.",
        )
    return LoginError(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there "
        "are no active subscriptions for the tenant.",
    )
