"""The two error shapes Microsoft answers with, and Graph's JSON response.

Graph errors are ``{"error": {"code", "message", "innerError"}}``; Entra (login) errors are OAuth's
``{"error", "error_description", "error_codes", ...}`` with the AADSTS number in the text. Endpoints raise
``GraphError``/``LoginError``; the side that routed the request renders them here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from .values import iso

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class LoginError(Exception):
    def __init__(
        self, status: int, error: str, aadsts: int | None, text: str, headers: dict[str, str] | None = None
    ):
        super().__init__(f"{status} {error}: {text}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.text = text
        self.headers = headers or {}


def not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def not_allowed(method: str) -> GraphError:
    return GraphError(
        405, "ErrorInvalidRequest", f"The OData request is not supported ({method} not emulated)."
    )


def graph_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    resp = Response(
        json.dumps(body),
        status=status,
        content_type="application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
        "charset=utf-8",
    )
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def graph_error(e: GraphError, login_url: str) -> Response:
    rid = str(uuid.uuid4())
    body = {
        "error": {
            "code": e.code,
            "message": e.message,
            "innerError": {"date": iso(datetime.now(UTC)), "request-id": rid, "client-request-id": rid},
        }
    }
    headers = dict(e.headers)
    if e.status == 401:
        headers.setdefault(
            "WWW-Authenticate",
            f'Bearer realm="", authorization_uri="{login_url}/common/oauth2/authorize", '
            f'client_id="{GRAPH_APP_ID}"',
        )
    return graph_json(e.status, body, headers)


def login_error(e: LoginError, login_url: str) -> Response:
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
        body["error_uri"] = f"{login_url}/error?code={e.aadsts}"
    resp = Response(json.dumps(body), status=e.status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store, no-cache"
    for k, v in e.headers.items():
        resp.headers[k] = v
    return resp
