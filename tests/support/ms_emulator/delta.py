"""Graph delta query: ``/mailFolders/{id}/messages/delta`` with its next links and delta links.

A round lists what changed since the client's delta link (everything, the first time) in pages chained by
``$skiptoken``; its last page gives a ``$deltatoken`` for the next round. Messages that left the folder come
back as ``@removed`` tombstones carrying the id the client was shown. Links can be expired to force a resync
(410 SyncStateNotFound), as Exchange does after a while.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from . import odata
from .errors import GraphError, graph_json
from .messages import MESSAGE_PROPS, MESSAGE_TYPE, message_doc
from .values import iso

if TYPE_CHECKING:
    from .model import Folder, Mailbox
    from .server import TlsServer


@dataclass
class DeltaBase:
    """What a delta link remembers: the folder, the query options, and which messages the client has seen."""

    upn: str
    folder_id: str
    select: list[str] | None
    filters: list[odata.Filter]
    change_type: str | None
    page_size: int | None
    immutable: bool
    seen: dict[str, str]  # key -> the id the client was given
    expired: bool = False


@dataclass
class DeltaRound:
    base: DeltaBase  # options of the round
    entries: list[tuple[str, str]]  # ("msg", key) or ("removed", id shown earlier)
    next_seen: dict[str, str]


class DeltaSync:
    """The delta endpoint and the links it has handed out."""

    def __init__(self) -> None:
        self._skiptokens: dict[str, tuple[DeltaRound, int]] = {}
        self._deltatokens: dict[str, DeltaBase] = {}

    def expire_links(self) -> None:
        """Every delta and next link issued so far answers 410 from now on."""
        for base in self._deltatokens.values():
            base.expired = True
        for rnd, _ in self._skiptokens.values():
            rnd.base.expired = True

    def respond(self, request: Request, site: TlsServer, mb: Mailbox, folder: Folder) -> Response:
        args = request.args
        prefs = odata.prefer(request)
        prefer_size = None
        if "odata.maxpagesize" in prefs:
            try:
                prefer_size = max(1, int(prefs["odata.maxpagesize"]))
            except ValueError:
                prefer_size = None
        skiptoken, deltatoken = args.get("$skiptoken"), args.get("$deltatoken")
        if skiptoken is not None:
            rnd, offset = self._continued_round(skiptoken, mb, folder)
        elif deltatoken is not None:
            rnd, offset = self._next_round(deltatoken, mb, folder), 0
        else:
            rnd, offset = _first_round(request, mb, folder, prefs), 0
        size = prefer_size or rnd.base.page_size or odata.DEFAULT_PAGE_SIZE
        value = self._page(rnd, offset, size, mb, folder, prefs)
        link_base = (
            f"{site.graph_url}/users/{quote(mb.upn, safe='@.')}/mailfolders('{folder.id}')/messages/delta"
        )
        body: dict[str, Any] = {
            "@odata.context": odata.context(site, mb, f"mailFolders('{folder.id}')/messages/$delta")
        }
        token = secrets.token_urlsafe(32)
        if offset + size < len(rnd.entries):
            self._skiptokens[token] = (rnd, offset + size)
            body["@odata.nextLink"] = f"{link_base}?$skiptoken={token}"
        else:
            self._deltatokens[token] = replace(rnd.base, seen=rnd.next_seen, expired=False)
            body["@odata.deltaLink"] = f"{link_base}?$deltatoken={token}"
        body["value"] = value
        headers = {"Preference-Applied": f"odata.maxpagesize={prefer_size}"} if prefer_size else {}
        return graph_json(200, body, headers)

    def _continued_round(self, skiptoken: str, mb: Mailbox, folder: Folder) -> tuple[DeltaRound, int]:
        entry = self._skiptokens.get(skiptoken)
        if entry is None or entry[0].base.upn != mb.upn.lower() or entry[0].base.folder_id != folder.id:
            raise _invalid_sync_state()
        if entry[0].base.expired:
            raise _sync_state_gone()
        return entry

    def _next_round(self, deltatoken: str, mb: Mailbox, folder: Folder) -> DeltaRound:
        base = self._deltatokens.get(deltatoken)
        if base is None or base.upn != mb.upn.lower() or base.folder_id != folder.id:
            raise _invalid_sync_state()
        if base.expired:
            raise _sync_state_gone()
        current = _current(mb, folder, base)
        entries: list[tuple[str, str]] = []
        if base.change_type in (None, "created"):
            entries += [("msg", key) for key in current if key not in base.seen]
        if base.change_type in (None, "deleted"):
            entries += [("removed", shown) for key, shown in base.seen.items() if key not in current]
        return DeltaRound(base=base, entries=entries, next_seen=current)

    @staticmethod
    def _page(
        rnd: DeltaRound, offset: int, size: int, mb: Mailbox, folder: Folder, prefs: dict[str, str]
    ) -> list[dict[str, Any]]:
        value = []
        for kind, ref in rnd.entries[offset : offset + size]:
            if kind == "removed":
                value.append(
                    {"@odata.type": "#microsoft.graph.message", "id": ref, "@removed": {"reason": "deleted"}}
                )
                continue
            msg = mb.messages.get(ref)
            if msg is None or msg.folder_id != folder.id:
                continue  # left the folder during this round; the next round reports it as removed
            doc = message_doc(msg, rnd.base.select, rnd.base.immutable, None, prefs)
            value.append({"@odata.type": "#microsoft.graph.message", **doc})
        return value


def _first_round(request: Request, mb: Mailbox, folder: Folder, prefs: dict[str, str]) -> DeltaRound:
    """A round without a link: the query options are checked here and remembered by the links."""
    args = request.args
    select = odata.select(request, MESSAGE_PROPS, MESSAGE_TYPE)
    filters = odata.filters(request, MESSAGE_PROPS, MESSAGE_TYPE)
    for prop, op, _ in filters:
        if prop != "receivedDateTime" or op not in ("ge", "gt"):
            raise GraphError(
                400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
            )
    change_type = args.get("changeType")
    if change_type is not None and change_type.lower() not in ("created", "updated", "deleted"):
        raise GraphError(400, "BadRequest", f"Invalid changeType '{change_type}'.")
    page_size = None
    if "$top" in args:
        page_size, _ = odata.page_args(request)
    base = DeltaBase(
        upn=mb.upn.lower(),
        folder_id=folder.id,
        select=select,
        filters=filters,
        change_type=change_type.lower() if change_type else None,
        page_size=page_size,
        immutable=odata.wants_immutable_ids(prefs),
        seen={},
    )
    current = _current(mb, folder, base)
    entries = [] if base.change_type == "deleted" else [("msg", key) for key in current]
    return DeltaRound(base=base, entries=entries, next_seen=current)


def _current(mb: Mailbox, folder: Folder, base: DeltaBase) -> dict[str, str]:
    """Messages now in the folder that match the round's filter, in arrival order: key -> id shown."""
    out: dict[str, str] = {}
    for msg in sorted(mb.messages.values(), key=lambda m: m.seq):
        if msg.folder_id != folder.id:
            continue
        if odata.matches({"receivedDateTime": iso(msg.received)}, base.filters):
            out[msg.key] = msg.key if base.immutable else msg.id
    return out


def _invalid_sync_state() -> GraphError:
    return GraphError(
        400, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid."
    )


def _sync_state_gone() -> GraphError:
    return GraphError(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be "
        "synchronized again.",
    )
