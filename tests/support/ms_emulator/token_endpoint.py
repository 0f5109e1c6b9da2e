"""The token endpoint: client credentials in, a bearer token for Graph out (or Entra's exact refusal)."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from .directory import GRAPH_RESOURCE, Directory, unknown_tenant
from .errors import GRAPH_APP_ID, LoginError

MAIL_READWRITE_ROLE = "Mail.ReadWrite"


def token_endpoint(directory: Directory, request: Request, tenant: str) -> Response:
    """The client-credentials grant, with Entra's checks in Entra's order and its AADSTS errors."""
    form = request.form
    if tenant.lower() in ("common", "organizations", "consumers"):
        raise LoginError(
            400,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided "
            "credentials.",
        )
    tid = directory.resolve_tenant(tenant)
    if tid is None:
        raise unknown_tenant(tenant)
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    auth_header = request.headers.get("Authorization", "")
    if auth_header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth_header[6:].strip()).decode()
            basic_id, _, basic_secret = decoded.partition(":")
        except Exception:
            raise LoginError(401, "invalid_client", 7000215, "Invalid client secret provided.") from None
        client_id = client_id or unquote_plus(basic_id)
        secret = secret or unquote_plus(basic_secret)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise LoginError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    if grant_type != "client_credentials":
        raise LoginError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    if not client_id:
        raise LoginError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app = directory.apps.get(client_id.lower())
    if app is None or app.tenant_id != tid:
        raise LoginError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This "
            "can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to "
            "the wrong tenant.",
        )
    if form.get("client_assertion"):
        raise LoginError(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. (certificate credentials are not emulated)",
        )
    if not secret:
        raise LoginError(
            401,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' "
            "grant type.",
        )
    if not secrets.compare_digest(secret.encode(), app.secret.encode()):
        raise LoginError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
        )
    if app.secret_expired:
        raise LoginError(
            401,
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure "
            "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using "
            "certificate credentials for added security: https://aka.ms/certCreds.",
        )
    scopes = [s for s in form.get("scope", "").split() if s not in ("openid", "profile", "offline_access")]
    if not scopes:
        raise LoginError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    if len(scopes) > 1 or not scopes[0].endswith("/.default"):
        raise LoginError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {' '.join(scopes)} is not valid. Client credential flows must "
            "have a scope value with /.default suffixed to the resource identifier (application ID "
            "URI).",
        )
    resource = scopes[0][: -len("/.default")].rstrip("/")
    if resource not in (GRAPH_RESOURCE, GRAPH_APP_ID):
        raise LoginError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tid}. This can "
            "happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You might have sent your authentication request to "
            "the wrong tenant.",
        )
    roles = (MAIL_READWRITE_ROLE,) if app.consented else ()
    token = directory.issue_token(app, tid, roles)
    body = {
        "token_type": "Bearer",
        "expires_in": directory.token_lifetime,
        "ext_expires_in": directory.token_lifetime,
        "access_token": token,
    }
    resp = Response(json.dumps(body), status=200, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store, no-cache"
    resp.headers["Pragma"] = "no-cache"
    return resp
