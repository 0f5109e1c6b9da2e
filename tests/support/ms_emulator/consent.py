"""Admin consent (``adminconsent``): the page an administrator accepts, answered as Entra redirects.

Entra redirects back to the app with ``admin_consent``/``tenant`` or ``error``/``error_description`` when it
can trust the client and the redirect URI, and shows its own error page (no redirect) otherwise.
"""

from __future__ import annotations

from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .directory import Directory, unknown_tenant
from .errors import LoginError


def admin_consent(directory: Directory, request: Request, tenant: str, *, v2: bool) -> Response:
    """``/{tenant}/adminconsent`` (v1) and ``/{tenant}/v2.0/adminconsent``: redirect back with the outcome."""
    args = request.args
    low = tenant.lower()
    client_id = args.get("client_id", "")
    app = directory.apps.get(client_id.lower())
    if low in ("common", "organizations"):
        tid = app.tenant_id if app else None
    else:
        tid = directory.resolve_tenant(tenant)
        if tid is None:
            return _consent_page(unknown_tenant(tenant))
    if not client_id:
        return _consent_page(
            LoginError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        )
    if app is None or app.tenant_id != tid:
        return _consent_page(
            LoginError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        )
    redirect_uri = args.get("redirect_uri")
    if not redirect_uri:
        return _consent_page(
            LoginError(
                400, "invalid_request", 900144, "The request must contain the parameter 'redirect_uri'."
            )
        )
    if app.redirect_uris is not None and redirect_uri not in app.redirect_uris:
        return _consent_page(
            LoginError(
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
    elif directory.consent_error is not None:
        if v2:
            params.append(("admin_consent", "True"))
        params += [("error", directory.consent_error[0]), ("error_description", directory.consent_error[1])]
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


def _consent_page(e: LoginError) -> Response:
    """Entra shows an error page (no redirect) when it cannot trust the client or the redirect URI."""
    text = f"<html><body><h1>Sign in</h1><p>AADSTS{e.aadsts}: {e.text}</p></body></html>"
    return Response(text, status=e.status, mimetype="text/html")
