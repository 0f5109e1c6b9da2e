"""The login side (login.microsoftonline.com): routing, and the OpenID discovery document msal reads first."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from .consent import admin_consent
from .directory import Directory, unknown_tenant
from .errors import LoginError, login_error
from .token_endpoint import token_endpoint

if TYPE_CHECKING:
    from .server import TlsServer


class LoginEndpoints:
    def __init__(self, directory: Directory, site: TlsServer) -> None:
        self.directory = directory
        self.site = site

    def handle(self, request: Request, path: str) -> Response:
        try:
            m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
            if m and request.method == "GET":
                return self.discovery(m.group(1))
            m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
            if m:
                if request.method != "POST":
                    raise LoginError(
                        405,
                        "invalid_request",
                        900561,
                        "The endpoint only accepts POST requests. Received a GET request.",
                    )
                return token_endpoint(self.directory, request, m.group(1))
            m = re.fullmatch(r"/([^/]+)/(v2\.0/)?adminconsent", path)
            if m and request.method == "GET":
                return admin_consent(self.directory, request, m.group(1), v2=bool(m.group(2)))
        except LoginError as e:
            return login_error(e, self.site.login_url)
        return Response("Not found (not emulated)", status=404, mimetype="text/plain")

    def discovery(self, tenant: str) -> Response:
        if tenant.lower() in ("common", "organizations"):
            tid, issuer_tid = tenant.lower(), "{tenantid}"
        else:
            resolved = self.directory.resolve_tenant(tenant)
            if resolved is None:
                raise unknown_tenant(tenant)
            tid = issuer_tid = resolved
        login_url = self.site.login_url
        base = f"{login_url}/{tid}"
        doc = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{login_url}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{login_url}/{issuer_tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.site.origin}/oidc/userinfo",
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
