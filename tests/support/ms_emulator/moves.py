"""Graph move: ``POST /messages/{id}/move`` with ``{"destinationId": ...}``.

As in Exchange, the moved message gets a new id (its ImmutableId stays); the answer is the moved message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from . import odata
from .errors import GraphError, graph_json
from .folders import resolve_folder
from .messages import message_doc

if TYPE_CHECKING:
    from .model import Mailbox, Message
    from .server import TlsServer
    from .store import MailStore


def move_message(request: Request, site: TlsServer, store: MailStore, mb: Mailbox, msg: Message) -> Response:
    prefs = odata.prefer(request)
    body = request.get_json(silent=True)
    dest_ref = body.get("destinationId") if isinstance(body, dict) else None
    if not isinstance(dest_ref, str) or not dest_ref:
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'DestinationId' is empty.")
    dest = resolve_folder(mb, dest_ref)
    moved = store.move(mb, msg, dest)
    doc = message_doc(moved, None, odata.wants_immutable_ids(prefs), None, prefs)
    location = f"{site.graph_url}/users('{quote(mb.upn, safe='@.')}')/messages('{doc['id']}')"
    return graph_json(
        201, {"@odata.context": odata.context(site, mb, "messages/$entity"), **doc}, {"Location": location}
    )
