"""The Graph side (graph.microsoft.com/v1.0): bearer token checks, mailbox access, and routing by endpoint.

Only ``/users/{id | upn}/mailFolders...`` and ``/users/{id | upn}/messages...`` are emulated, with the
application permission Mail.ReadWrite; the endpoints themselves live in one module each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from . import odata
from .attachments import attachments_route
from .delta import DeltaSync
from .directory import Directory, Token
from .errors import GraphError, graph_error, not_allowed
from .faults import Faults
from .folders import create_folder, get_folder, list_folders, resolve_folder, root
from .messages import get_message, list_messages, message_value, resolve_message
from .moves import move_message
from .store import MailStore

if TYPE_CHECKING:
    from .model import Mailbox
    from .server import TlsServer


def _insufficient_privileges() -> GraphError:
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


class GraphApi:
    def __init__(
        self, directory: Directory, store: MailStore, faults: Faults, delta: DeltaSync, site: TlsServer
    ) -> None:
        self.directory = directory
        self.store = store
        self.faults = faults
        self.delta = delta
        self.site = site

    def handle(self, request: Request, rest: str) -> Response:
        """Answer ``/v1.0{rest}``; every answer carries Graph's request-id headers."""
        rid = str(uuid.uuid4())
        try:
            token = self._check_token(request)
            response = self._route(request, odata.normalise_segments(rest), token)
        except GraphError as e:
            response = graph_error(e, self.site.login_url)
        response.headers["request-id"] = rid
        response.headers["client-request-id"] = request.headers.get("client-request-id", rid)
        return response

    def _check_token(self, request: Request) -> Token:
        auth = request.headers.get("Authorization", "")
        if not auth:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        if not auth.lower().startswith("bearer "):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
        token = self.directory.tokens.get(auth[7:].strip())
        if token is None:
            raise GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        if token.revoked or token.expires_at <= datetime.now(UTC):
            raise GraphError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
            )
        return token

    def _route(self, request: Request, segs: list[str], token: Token) -> Response:
        if not segs:
            raise GraphError(400, "BadRequest", "Invalid request.")
        head = segs[0].lower()
        if head == "me":
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        if head != "users":
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segs[0]}'.")
        if len(segs) < 2:
            raise _insufficient_privileges()
        app = self.directory.apps.get(token.client_id.lower())
        if not token.roles or app is None or not app.consented:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if len(segs) == 2:
            # /users/{id} is a directory read; Mail.ReadWrite alone does not allow it.
            raise _insufficient_privileges()
        mb = self._mailbox(segs[1], token)
        if app.allowed_upns is not None and mb.upn.lower() not in app.allowed_upns:
            raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")
        rest = segs[2:]
        r0 = rest[0].lower()
        if r0 == "mailfolders":
            return self._folder_route(request, mb, rest)
        if r0 == "messages":
            if len(rest) == 1:
                if request.method == "GET":
                    return list_messages(request, self.site, mb, None)
                raise not_allowed(request.method)
            return self._message_route(request, mb, rest[1:])
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")

    def _mailbox(self, ref: str, token: Token) -> Mailbox:
        """By UPN or user object id; a mailbox of another tenant does not exist for this token."""
        low = ref.lower()
        mailboxes = self.store.mailboxes
        mb = mailboxes.get(low) or next((m for m in mailboxes.values() if m.user_id == low), None)
        if mb is None or (mb.tenant_id is not None and mb.tenant_id != token.tenant_id):
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
        return mb

    def _folder_route(self, request: Request, mb: Mailbox, rest: list[str]) -> Response:
        """``rest`` starts with ``mailFolders``."""
        method = request.method
        if len(rest) == 1:
            if method == "GET":
                return list_folders(request, self.site, mb, root(mb))
            if method == "POST":
                return create_folder(request, self.site, self.store, mb, root(mb))
            raise not_allowed(method)
        folder = resolve_folder(mb, rest[1])
        if len(rest) == 2:
            if method == "GET":
                return get_folder(request, self.site, mb, folder)
            raise not_allowed(method)
        r2 = rest[2].lower()
        if r2 == "childfolders" and len(rest) == 3:
            if method == "GET":
                return list_folders(request, self.site, mb, folder)
            if method == "POST":
                return create_folder(request, self.site, self.store, mb, folder)
            raise not_allowed(method)
        if r2 == "messages":
            if len(rest) == 3:
                if method == "GET":
                    return list_messages(request, self.site, mb, folder)
                raise not_allowed(method)
            if len(rest) == 4 and rest[3].lower() == "delta":
                if method == "GET":
                    return self.delta.respond(request, self.site, mb, folder)
                raise not_allowed(method)
            return self._message_route(request, mb, rest[3:])
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[2]}'.")

    def _message_route(self, request: Request, mb: Mailbox, segs: list[str]) -> Response:
        """``segs`` is ``[message id, ...]``: the message itself, its ``$value``, ``move`` or attachments."""
        method = request.method
        msg = resolve_message(mb, segs[0])
        tail = [s.lower() for s in segs[1:]]
        if not tail:
            if method != "GET":
                raise not_allowed(method)
            return get_message(request, self.site, mb, msg)
        if tail == ["$value"]:
            if method != "GET":
                raise not_allowed(method)
            return message_value(msg)
        if tail == ["move"]:
            if method != "POST":
                raise not_allowed(method)
            return move_message(request, self.site, self.store, mb, msg)
        if tail[0] == "attachments":
            response = attachments_route(request, self.site, self.faults, mb, msg, segs)
            if response is not None:
                return response
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segs[1]}'.")
