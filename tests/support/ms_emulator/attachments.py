"""Graph attachments: ``/messages/{id}/attachments``, ``.../attachments/{id}`` and ``.../{id}/$value``.

A fileAttachment carries its bytes (``contentBytes``); an itemAttachment (a forwarded message) does not, and
its ``$value`` is the MIME of the attached message, as Exchange gives it.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from . import odata
from .errors import GraphError, graph_json, not_allowed, not_found
from .values import iso, looks_like_id

if TYPE_CHECKING:
    from .faults import Faults
    from .model import Attachment, Mailbox, Message
    from .server import TlsServer

ATTACHMENT_PROPS = [
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
_TYPE = "microsoft.graph.attachment"

Expand = tuple[bool, list[str] | None]  # $expand=attachments, with its own $select (None: every property)


def render_attachment(att: Attachment, select: list[str] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.itemAttachment"
        if att.is_item
        else "#microsoft.graph.fileAttachment",
        "id": att.id,
        "lastModifiedDateTime": iso(att.modified),
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
    return odata.apply_select(doc, select, ("id", "@odata.type"))


def parse_expand(request: Request) -> Expand | None:
    """``$expand=attachments`` or ``$expand=attachments($select=...)``; the only expansion emulated."""
    raw = request.args.get("$expand")
    if not raw:
        return None
    m = re.fullmatch(r"\s*attachments\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*", raw, re.IGNORECASE)
    if not m:
        raise GraphError(
            400,
            "BadRequest",
            f"Parsing OData Select and Expand failed: '{raw}' (only attachments is emulated).",
        )
    if m.group(1) is None:
        return True, None
    lookup = {p.lower(): p for p in ATTACHMENT_PROPS}
    names = []
    for item in m.group(1).split(","):
        short = item.strip().split("/")[-1]
        if short.lower() not in lookup:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{item.strip()}' on type 'microsoft.graph.attachment'.",
            )
        names.append(lookup[short.lower()])
    return True, names


def attachments_route(
    request: Request, site: TlsServer, faults: Faults, mb: Mailbox, msg: Message, segs: list[str]
) -> Response | None:
    """``segs`` is ``[message ref, "attachments", ...]``; None when the path is not an attachment route."""
    if request.method != "GET":
        raise not_allowed(request.method)
    injected = faults.attachment_error(msg.key)
    if injected is not None:
        raise injected
    if len(segs) == 2:
        select = odata.select(request, ATTACHMENT_PROPS, _TYPE)
        body = {
            "@odata.context": odata.context(site, mb, f"messages('{segs[0]}')/attachments"),
            "value": [render_attachment(a, select) for a in msg.attachments],
        }
        return graph_json(200, body)
    att = next((a for a in msg.attachments if a.id == segs[2]), None)
    if att is None:
        if not looks_like_id(segs[2]):
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        raise not_found()
    if len(segs) == 3:
        select = odata.select(request, ATTACHMENT_PROPS, _TYPE)
        ctx = odata.context(site, mb, f"messages('{segs[0]}')/attachments/$entity")
        return graph_json(200, {"@odata.context": ctx, **render_attachment(att, select)})
    if len(segs) == 4 and segs[3].lower() == "$value":
        return Response(att.content, status=200, content_type=att.content_type)
    return None
