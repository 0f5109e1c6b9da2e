"""Graph mail folders: ``/mailFolders``, ``/mailFolders/{id}``, ``.../childFolders`` (list, get, create)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from . import odata
from .errors import GraphError, graph_json, not_found
from .values import looks_like_id

if TYPE_CHECKING:
    from .model import Folder, Mailbox
    from .server import TlsServer
    from .store import MailStore

FOLDER_PROPS = [
    "id",
    "displayName",
    "parentFolderId",
    "childFolderCount",
    "unreadItemCount",
    "totalItemCount",
    "sizeInBytes",
    "isHidden",
    "childFolders",
    "messages",
    "messageRules",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
]
_TYPE = "microsoft.graph.mailFolder"
# Valid well-known names that this emulator does not create: Graph answers 404 for them, not 400.
_OTHER_WELL_KNOWN = {
    "outbox",
    "clutter",
    "conflicts",
    "conversationhistory",
    "localfailures",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "serverfailures",
    "syncissues",
}


def root(mb: Mailbox) -> Folder:
    return next(f for f in mb.folders.values() if f.well_known == "msgfolderroot")


def resolve_folder(mb: Mailbox, ref: str) -> Folder:
    """Graph-side lookup: an id or a well-known name, nothing else."""
    if ref in mb.folders:
        return mb.folders[ref]
    low = ref.lower()
    for f in mb.folders.values():
        if f.well_known == low:
            return f
    if low in _OTHER_WELL_KNOWN or looks_like_id(ref):
        raise not_found()
    raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


def render_folder(mb: Mailbox, f: Folder) -> dict[str, Any]:
    msgs = [m for m in mb.messages.values() if m.folder_id == f.id]
    return {
        "id": f.id,
        "displayName": f.display_name,
        "parentFolderId": f.parent_id,
        "childFolderCount": sum(1 for c in mb.folders.values() if c.parent_id == f.id),
        "unreadItemCount": sum(1 for m in msgs if not m.is_read),
        "totalItemCount": len(msgs),
        "sizeInBytes": sum(len(m.raw) for m in msgs),
        "isHidden": f.hidden,
    }


def list_folders(request: Request, site: TlsServer, mb: Mailbox, parent: Folder) -> Response:
    select = odata.select(request, FOLDER_PROPS, _TYPE)
    filters = odata.filters(request, FOLDER_PROPS, _TYPE)
    hidden = request.args.get("includeHiddenFolders", "").lower() == "true"
    docs = [
        render_folder(mb, f)
        for f in sorted(mb.folders.values(), key=lambda f: f.seq)
        if f.parent_id == parent.id and (hidden or not f.hidden)
    ]
    docs = [d for d in docs if odata.matches(d, filters)]
    top, skip = odata.page_args(request)
    page = docs[skip : skip + top]
    tail = (
        "mailFolders" if parent.well_known == "msgfolderroot" else f"mailFolders('{parent.id}')/childFolders"
    )
    body: dict[str, Any] = {
        "@odata.context": odata.context(site, mb, tail),
        "value": [odata.apply_select(d, select, ("id",)) for d in page],
    }
    if skip + top < len(docs):
        body["@odata.nextLink"] = odata.next_link(site, request, skip + top)
    return graph_json(200, body)


def get_folder(request: Request, site: TlsServer, mb: Mailbox, folder: Folder) -> Response:
    select = odata.select(request, FOLDER_PROPS, _TYPE)
    doc = {"@odata.context": odata.context(site, mb, "mailFolders/$entity"), **render_folder(mb, folder)}
    return graph_json(200, odata.apply_select(doc, select, ("id", "@odata.context")))


def create_folder(
    request: Request, site: TlsServer, store: MailStore, mb: Mailbox, parent: Folder
) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'DisplayName' is empty.")
    if any(f.parent_id == parent.id and f.display_name.lower() == name.lower() for f in mb.folders.values()):
        raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
    folder = store.make_folder(mb, name, parent.id, None, bool(body.get("isHidden", False)))
    doc = {"@odata.context": odata.context(site, mb, "mailFolders/$entity"), **render_folder(mb, folder)}
    location = f"{site.graph_url}/users('{quote(mb.upn, safe='@.')}')/mailFolders('{folder.id}')"
    return graph_json(201, doc, {"Location": location})
