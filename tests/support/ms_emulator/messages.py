"""Graph messages: how a message is rendered, the message lists, one message and its ``$value`` (MIME)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from . import odata
from .attachments import Expand, parse_expand, render_attachment
from .errors import GraphError, graph_json, not_found
from .values import b64url, iso, looks_like_id, strip_html

if TYPE_CHECKING:
    from .model import Folder, Mailbox, Message
    from .server import TlsServer

MESSAGE_PROPS = [
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "uniqueBody",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
    "internetMessageHeaders",
    "attachments",
    "extensions",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
]
MESSAGE_TYPE = "microsoft.graph.message"


def resolve_message(mb: Mailbox, ref: str) -> Message:
    """Graph-side lookup by the current regular id or the ImmutableId."""
    key = mb.ids.get(ref)
    if key is None and ref in mb.messages:
        key = ref  # an ImmutableId
    if key is None:
        if not looks_like_id(ref):
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        raise not_found()
    return mb.messages[key]


def render_message(msg: Message, immutable: bool, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every default property; ``extra`` names those Graph gives only when selected."""

    def addr(name: str | None, address: str | None) -> dict[str, Any] | None:
        if not address and not name:
            return None
        return {"emailAddress": {"name": name or address or "", "address": address or ""}}

    preview = msg.body if msg.body_type == "text" else strip_html(msg.body)
    doc: dict[str, Any] = {
        "@odata.etag": f'W/"{msg.change_key}"',
        "id": msg.key if immutable else msg.id,
        "createdDateTime": iso(msg.created),
        "lastModifiedDateTime": iso(msg.modified),
        "changeKey": msg.change_key,
        "categories": [],
        "receivedDateTime": iso(msg.received),
        "sentDateTime": iso(msg.sent),
        "hasAttachments": any(not a.is_inline for a in msg.attachments),
        "internetMessageId": msg.internet_message_id,
        "subject": msg.subject,
        "bodyPreview": re.sub(r"\s+", " ", preview).strip()[:255],
        "importance": "normal",
        "parentFolderId": msg.folder_id,
        "conversationId": msg.conversation_id,
        "conversationIndex": b64url(msg.conversation_id.encode()[:22]),
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": msg.is_read,
        "isDraft": False,
        "webLink": "https://outlook.office365.com/owa/?ItemID="
        + quote(msg.id, safe="")
        + "&exvsurl=1&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "body": {"contentType": msg.body_type, "content": msg.body},
        "sender": addr(msg.sender_name, msg.sender_addr),
        "from": addr(msg.sender_name, msg.sender_addr),
        "toRecipients": [addr(n, a) for n, a in msg.to],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }
    if "internetMessageHeaders" in extra:
        doc["internetMessageHeaders"] = [{"name": k, "value": v} for k, v in msg.headers]
    if "uniqueBody" in extra:
        doc["uniqueBody"] = doc["body"]
    return doc


def message_doc(
    msg: Message,
    select: list[str] | None,
    immutable: bool,
    expand: Expand | None,
    prefs: dict[str, str],
) -> dict[str, Any]:
    """A message as a request asked for it: ``$select``, ``$expand=attachments``, ``Prefer`` body type."""
    doc = render_message(msg, immutable, tuple(select or ()))
    if prefs.get("outlook.body-content-type") == "text" and msg.body_type == "html":
        doc["body"] = {"contentType": "text", "content": strip_html(msg.body)}
    doc = odata.apply_select(doc, select, ("id", "@odata.etag"))
    if expand is not None:
        _, att_select = expand
        doc["attachments"] = [render_attachment(a, att_select) for a in msg.attachments]
    return doc


def _order(request: Request, docs: list[tuple[dict[str, Any], int]]) -> list[tuple[dict[str, Any], int]]:
    raw = request.args.get("$orderby")
    if not raw:
        return sorted(docs, key=lambda d: (d[0]["receivedDateTime"], d[1]), reverse=True)
    for clause in reversed([c.strip() for c in raw.split(",") if c.strip()]):
        parts = clause.split()
        prop = parts[0]
        desc = len(parts) > 1 and parts[1].lower() == "desc"
        docs = sorted(
            docs,
            key=lambda d, p=prop: (odata.lookup(d[0], p) is None, str(odata.lookup(d[0], p) or "")),
            reverse=desc,
        )
    return docs


def list_messages(request: Request, site: TlsServer, mb: Mailbox, folder: Folder | None) -> Response:
    """``/messages`` (the whole mailbox) or ``/mailFolders/{id}/messages``, newest first by default."""
    select = odata.select(request, MESSAGE_PROPS, MESSAGE_TYPE)
    filters = odata.filters(request, MESSAGE_PROPS, MESSAGE_TYPE)
    expand = parse_expand(request)
    prefs = odata.prefer(request)
    immutable = odata.wants_immutable_ids(prefs)
    rendered = [
        (render_message(m, immutable), m.seq, m)
        for m in mb.messages.values()
        if folder is None or m.folder_id == folder.id
    ]
    rendered = [r for r in rendered if odata.matches(r[0], filters)]
    by_seq = {seq: m for _, seq, m in rendered}
    ordered = _order(request, [(d, seq) for d, seq, _ in rendered])
    top, skip = odata.page_args(request)
    page = ordered[skip : skip + top]
    tail = "messages" if folder is None else f"mailFolders('{folder.id}')/messages"
    body: dict[str, Any] = {
        "@odata.context": odata.context(site, mb, tail),
        "value": [message_doc(by_seq[seq], select, immutable, expand, prefs) for _, seq in page],
    }
    if skip + top < len(ordered):
        body["@odata.nextLink"] = odata.next_link(site, request, skip + top)
    return graph_json(200, body)


def get_message(request: Request, site: TlsServer, mb: Mailbox, msg: Message) -> Response:
    prefs = odata.prefer(request)
    select = odata.select(request, MESSAGE_PROPS, MESSAGE_TYPE)
    doc = message_doc(msg, select, odata.wants_immutable_ids(prefs), parse_expand(request), prefs)
    return graph_json(200, {"@odata.context": odata.context(site, mb, "messages/$entity"), **doc})


def message_value(msg: Message) -> Response:
    """``/messages/{id}/$value``: the message's MIME."""
    return Response(msg.raw, status=200, content_type="message/rfc822")
