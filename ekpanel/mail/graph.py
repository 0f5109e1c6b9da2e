"""The Microsoft 365 mailbox (Microsoft Graph, app-only): the Mailbox interface over HTTPS.

What it costs (SPEC, "checks cost what the new mail costs"):

- a folder is read through its delta link, so a check with nothing new is one request per
  folder; the first check pages through the folder with ``$select`` of the few fields needed;
- a message's attachments are listed (never their content) only when the check first looks at
  them, which it does only for senders on the whitelist: mail from anyone else costs nothing
  beyond its line in the delta page (see :class:`GraphMessageSummary`); its
  ``internetMessageHeaders`` (for the sender's verdict) are read the same way, only for a
  whitelisted message with a PDF candidate on a server whose sender verification is on;
- only candidate PDF parts are downloaded, through ``/attachments/{id}/$value``; a forwarded
  message (an item attachment) is read once as MIME, kept until the check has decided its
  message (:meth:`GraphMailbox.forget`), and its PDF parts taken from that (``graph_forwarded``).

Every call goes through :class:`GraphClient` (``graph_http``: throttling waited out within a
bound, an expired token renewed once); an error answer leaves as a :class:`MailboxError` classified
by ``graph_errors`` for what the call was about: the mailbox, one folder, or one message. A
message Graph cannot read (a refusal, a server error) is that message's error and the check goes
on; a server error for message after message is Graph's outage (:data:`MAX_UNREADABLE_IN_ROW`).
Ids change when a message moves; :meth:`GraphMailbox.move` reports the new ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from urllib.parse import quote, unquote, urlsplit

import requests

from ekpanel.mail.graph_auth import AppCredentials, transport_error
from ekpanel.mail.graph_errors import (
    FOLDER_EXISTS,
    ITEM_NOT_FOUND,
    GraphError,
    ItemGone,
    MessageRefused,
    SyncStateGone,
    classified,
)
from ekpanel.mail.graph_forwarded import ForwardedMessages
from ekpanel.mail.graph_http import GraphClient, RetryPolicy
from ekpanel.mail.graph_items import (
    Attachments,
    attachment_kind,
    file_part,
    summary_from_item,
)
from ekpanel.mail.mailbox import (
    AttachmentPart,
    FolderCursor,
    FoundByRef,
    MailboxError,
    MessageSummary,
    MoveOutcome,
    RemoteFolder,
)
from ekpanel.mail.sender import fields_from_graph
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

INBOX_FLAG = "\\Inbox"
JUNK_FLAG = "\\Junk"
DELIMITER = "/"
PAGE_SIZE = 100  # messages per delta page (Prefer: odata.maxpagesize)
FOLDER_PAGE_SIZE = 100
MESSAGE_FIELDS = "id,internetMessageId,from,subject,receivedDateTime,sentDateTime,hasAttachments"
ATTACHMENT_FIELDS = "id,name,contentType,size,isInline"  # never contentBytes
FOLDER_FIELDS = "id,displayName,parentFolderId,childFolderCount,isHidden"
DOWNLOAD_CHUNK = 64 * 1024
# A message Graph fails to read with a server error (5xx) is that message's error, and the check
# goes on; this many in a row, with no message read between them, is Graph's outage: the check
# stops (transient), its batch not recorded, and the next check reads those messages again.
MAX_UNREADABLE_IN_ROW = 3


class GraphMailbox:
    """One Graph session on one mailbox (``Adres skrzynki``), with the server's app credentials."""

    def __init__(
        self,
        *,
        tenant: str,
        client_id: str,
        client_secret: str,
        mailbox: str,
        settings: MailSettings,
        server_id: int | None = None,
        page_size: int = PAGE_SIZE,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.mailbox = mailbox.strip()
        credentials = AppCredentials(
            server_id=server_id,
            client_id=client_id,
            tenant=tenant,
            secret=client_secret,
            login_url=settings.ms_login_url,
            ca_bundle=settings.ca_bundle,
            timeout=settings.imap_timeout,
        )
        self._graph = GraphClient(credentials, settings.graph_url, retry=retry, sleep=sleep)
        self._users_url = f"{self._graph.graph_url}/users/{quote(self.mailbox, safe='@')}"
        self._page_size = page_size
        self.pending_count: int | None = None  # Graph does not say how many are new before paging
        self._folders: list[RemoteFolder] | None = None
        self._top_level: dict[str, RemoteFolder] = {}
        self._forwarded = ForwardedMessages(self._attachment_chunks, settings.max_forwarded_bytes)
        self._unreadable_in_row = 0  # messages Graph failed to read (5xx) since one it read

    # -- session -----------------------------------------------------------------------------

    def __enter__(self) -> GraphMailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        if not self.mailbox:
            raise MailboxError(ErrorCode.MAILBOX_MISSING, note(Text.GRAPH_MAILBOX_MISSING))
        self._graph.open()

    def close(self) -> None:
        self._graph.close()
        self._forwarded.clear()

    # -- folders -----------------------------------------------------------------------------

    def list_folders(self, include_hidden: bool = False) -> list[RemoteFolder]:
        """Every folder of the mailbox, child folders as ``Parent/Child``; hidden ones only if asked.

        The list without hidden folders is kept for the session (``ensure_folder`` adds to it).
        """
        if self._folders is not None and not include_hidden:
            return list(self._folders)
        with self._errors():
            flags = {}
            for well_known, flag in (("inbox", INBOX_FLAG), ("junkemail", JUNK_FLAG)):
                folder_id = self._well_known_id(well_known)
                if folder_id:
                    flags[folder_id] = frozenset({flag})
            params = {"$top": str(FOLDER_PAGE_SIZE), "$select": FOLDER_FIELDS}
            if include_hidden:
                params["includeHiddenFolders"] = "true"
            folders: list[RemoteFolder] = []
            top_level: dict[str, RemoteFolder] = {}
            pending: list[tuple[str, dict]] = [
                ("", item) for item in self._graph.collection(f"{self._users_url}/mailFolders", params)
            ]
            while pending:
                parent_path, item = pending.pop(0)
                name = item.get("displayName") or ""
                path = f"{parent_path}{DELIMITER}{name}" if parent_path else name
                folder = RemoteFolder(
                    ref=item["id"],
                    display=path,
                    delimiter=DELIMITER,
                    flags=flags.get(item["id"], frozenset()),
                )
                folders.append(folder)
                if not parent_path:
                    top_level[name.casefold()] = folder
                if item.get("childFolderCount"):
                    url = f"{self._users_url}/mailFolders/{_segment(item['id'])}/childFolders"
                    pending += [(path, child) for child in self._graph.collection(url, params)]
        if not include_hidden:
            self._folders, self._top_level = folders, top_level
        return list(folders)

    def ensure_folder(self, name: str) -> RemoteFolder:
        """The folder ``name`` directly under the mailbox root, created when missing."""
        if self._folders is None:
            self.list_folders()
        known = self._top_level.get(name.casefold())
        if known is not None:
            return known
        with self._errors():
            try:
                response = self._graph.request(
                    "POST", f"{self._users_url}/mailFolders", json={"displayName": name, "isHidden": False}
                )
                item = response.json()
            except GraphError as error:
                if error.key != FOLDER_EXISTS:
                    raise
                # Created meanwhile (another check, a person): it exists, which is what we want.
                item = self._find_top_level(name)
        folder = RemoteFolder(ref=item["id"], display=item.get("displayName") or name, delimiter=DELIMITER)
        self._top_level[name.casefold()] = folder
        if self._folders is not None:
            self._folders.append(folder)
        return folder

    def _find_top_level(self, name: str) -> dict:
        escaped = name.replace("'", "''")
        params = {
            "$filter": f"displayName eq '{escaped}'",
            "$select": FOLDER_FIELDS,
            "includeHiddenFolders": "true",
        }
        for item in self._graph.collection(f"{self._users_url}/mailFolders", params):
            if (item.get("displayName") or "").casefold() == name.casefold():
                return item
        raise GraphError(404, "ErrorItemNotFound", f"folder {name!r} exists but cannot be found")

    def _well_known_id(self, name: str) -> str | None:
        try:
            response = self._graph.request(
                "GET", f"{self._users_url}/mailFolders/{name}", params={"$select": "id"}
            )
        except GraphError as error:
            if error.status == 404 and error.key == ITEM_NOT_FOUND:
                return None
            raise
        return response.json().get("id")

    # -- messages ----------------------------------------------------------------------------

    def new_messages(
        self,
        folder: RemoteFolder,
        cursor: FolderCursor,
        needs_structure: Callable[[str | None], bool] | None = None,
    ) -> Iterator[tuple[list[MessageSummary], FolderCursor]]:
        """Pages of the folder's delta: everything on the first check, what arrived since after.

        ``needs_structure`` is not needed here: a summary lists its attachments only when the
        check first looks at them.

        The cursor advances only with the page that carries the new delta link; the pages
        before it yield the old cursor, so a check cut off mid-way starts that round again.
        """
        self.pending_count = None
        stored = cursor.delta_link if self._delta_link_fits(cursor.delta_link, folder) else None
        url, params = self._delta_start(folder) if stored is None else (stored, None)
        restarted = False
        while url:
            try:
                with self._errors(folder=folder):
                    page = self._graph.request("GET", url, params=params, headers=self._prefer()).json()
            except SyncStateGone:
                if restarted:
                    raise MailboxError(
                        ErrorCode.FOLDER_UNAVAILABLE,
                        note(
                            Text.GRAPH_DELTA_REFUSED,
                            folder=folder.display,
                        ),
                    ) from None
                restarted = True
                url, params = self._delta_start(folder)
                continue
            summaries = [
                self._summary(item)
                for item in page.get("value") or []
                if "@removed" not in item and item.get("id")
            ]
            delta_link = page.get("@odata.deltaLink")
            if delta_link:
                yield summaries, FolderCursor(delta_link=delta_link)
                return
            url, params = page.get("@odata.nextLink"), None
            if not url:
                raise MailboxError(
                    ErrorCode.FOLDER_UNAVAILABLE,
                    note(Text.GRAPH_DELTA_BROKEN, folder=folder.display),
                )
            yield summaries, cursor

    def messages_by_ref(
        self,
        folder: RemoteFolder,
        refs: list[str],
        needs_structure: Callable[[str | None], bool] | None = None,
    ) -> FoundByRef:
        """One request per message: these are the few a check could not decide before. A server
        error (5xx) for one of them leaves it for the next check, unless Graph fails message after
        message (:data:`MAX_UNREADABLE_IN_ROW`): then it is an outage, and the check's error."""
        found = FoundByRef()
        for ref in refs:
            try:
                with self._reading_message():
                    item = self._graph.request(
                        "GET",
                        f"{self._users_url}/messages/{_segment(ref)}",
                        params={"$select": MESSAGE_FIELDS + ",parentFolderId"},
                    ).json()
            except (ItemGone, MessageRefused):
                continue  # deleted, or refused: not the folder's any more
            except MailboxError as error:
                if error.code != ErrorCode.MESSAGE_MISSING:
                    raise
                found.unreadable[ref] = error.note  # Graph's error, this once
                continue
            if item.get("parentFolderId") not in (None, folder.ref):
                continue  # moved to another folder by someone
            found.messages.append(self._summary(item))
        return found

    def _summary(self, item: dict) -> MessageSummary:
        return summary_from_item(
            item,
            partial(self._attachments, item["id"]),
            partial(self._authentication_results, item["id"]),
        )

    def _delta_start(self, folder: RemoteFolder) -> tuple[str, dict[str, str]]:
        url = f"{self._users_url}/mailFolders/{_segment(folder.ref)}/messages/delta"
        # Only arrivals: a message read or flagged since the last check is not new to us.
        return url, {"$select": MESSAGE_FIELDS, "changeType": "created"}

    def _prefer(self) -> dict[str, str]:
        return {"Prefer": f"odata.maxpagesize={self._page_size}"}

    def _delta_link_fits(self, link: str | None, folder: RemoteFolder) -> bool:
        """Whether a stored delta link is this mailbox's link for this folder.

        A link carries the folder it was made for; following one kept for another folder
        (a renamed folder, a changed configuration) would report that folder's messages here.
        """
        if not link or not self._graph.same_origin(link):
            return False
        path = unquote(urlsplit(link).path)
        return folder.ref in path and "/messages/delta" in path.lower()

    def _attachments(self, message_ref: str) -> Attachments:
        """The attachments of one message as parts, listed without their content."""
        url = f"{self._users_url}/messages/{_segment(message_ref)}/attachments"
        with self._reading_message():
            items = list(self._graph.collection(url, {"$select": ATTACHMENT_FIELDS}))
        parts: list[AttachmentPart] = []
        for item in items:
            kind = attachment_kind(item)
            if kind == "item":
                parts += self._forwarded.parts(message_ref, item)
            elif kind == "file":
                parts.append(file_part(item))
            # A reference attachment is a link to a file in the cloud, not mail content.
        return Attachments(parts, bool(items))

    def _authentication_results(self, message_ref: str) -> tuple[str, ...]:
        """The message's Authentication-Results fields, from its ``internetMessageHeaders``."""
        url = f"{self._users_url}/messages/{_segment(message_ref)}"
        with self._reading_message():
            item = self._graph.request("GET", url, params={"$select": "internetMessageHeaders"}).json()
        return fields_from_graph(item.get("internetMessageHeaders") if isinstance(item, dict) else None)

    def fetch_part(self, folder: RemoteFolder, message: MessageSummary, part: AttachmentPart) -> bytes:
        forwarded = self._forwarded.part_bytes(message.ref, part)
        if forwarded is not None:
            return forwarded
        return self._attachment_value(message.ref, part.ref)

    def fetch_parts(
        self, folder: RemoteFolder, wanted: list[tuple[MessageSummary, AttachmentPart]]
    ) -> list[bytes | MailboxError]:
        # One request per attachment either way: Graph has no call that returns several.
        results: list[bytes | MailboxError] = []
        for message, part in wanted:
            try:
                results.append(self.fetch_part(folder, message, part))
            except MailboxError as error:
                if error.code != ErrorCode.MESSAGE_MISSING:
                    raise
                results.append(error)
        return results

    def forget(self, message: MessageSummary) -> None:
        """The check has decided ``message``: its forwarded messages' MIME goes."""
        self._forwarded.forget(message.ref)

    def _attachment_value(self, message_ref: str, attachment_id: str) -> bytes:
        with self._reading_message(gone=Text.GRAPH_MESSAGE_GONE_DURING_CHECK):
            return self._graph.request("GET", self._value_url(message_ref, attachment_id)).content

    def _attachment_chunks(self, message_ref: str, attachment_id: str) -> Generator[bytes, None, None]:
        """An attachment's ``$value`` as it downloads (the MIME of a forwarded message)."""
        url = self._value_url(message_ref, attachment_id)
        with self._reading_message(gone=Text.GRAPH_MESSAGE_GONE_DURING_CHECK):
            response = self._graph.request("GET", url, stream=True)
        with response:
            try:
                yield from response.iter_content(DOWNLOAD_CHUNK)
            except requests.RequestException as error:
                raise transport_error(error, url) from error

    def _value_url(self, message_ref: str, attachment_id: str) -> str:
        return (
            f"{self._users_url}/messages/{_segment(message_ref)}/attachments/{_segment(attachment_id)}/$value"
        )

    def move(
        self, folder: RemoteFolder, messages: list[MessageSummary], destination: RemoteFolder
    ) -> MoveOutcome:
        """Each message moved with its own request; the new ids (Graph gives new ones) reported."""
        outcome = MoveOutcome()
        for message in messages:
            url = f"{self._users_url}/messages/{_segment(message.ref)}/move"
            try:
                with self._errors(message=True):
                    response = self._graph.request("POST", url, json={"destinationId": destination.ref})
            except ItemGone:
                outcome.failed[message.ref] = note(Text.GRAPH_MESSAGE_GONE_BEFORE_MOVE)
                continue
            except MessageRefused as refused:
                outcome.failed[message.ref] = refused.note
                continue
            outcome.moved[message.ref] = (response.json() or {}).get("id") or ""
        return outcome

    def _errors(
        self, *, folder: RemoteFolder | None = None, message: bool = False
    ) -> AbstractContextManager[None]:
        return classified(self.mailbox, folder=folder, message=message)

    @contextmanager
    def _reading_message(self, *, gone: Text | None = None) -> Iterator[None]:
        """A request that reads one message: what concerns only that message is its error.

        A message gone meanwhile is told with ``gone`` when given; a server error (5xx) is the
        message's too, unless it is the last of :data:`MAX_UNREADABLE_IN_ROW` in a row.
        """
        try:
            with self._errors(message=True):
                yield
        except ItemGone as error:
            if gone is None:
                raise
            raise MailboxError(ErrorCode.MESSAGE_MISSING, note(gone), detail=error.detail) from error
        except MailboxError as error:
            if error.code != ErrorCode.GRAPH_UNAVAILABLE:
                raise
            self._unreadable_in_row += 1
            if self._unreadable_in_row >= MAX_UNREADABLE_IN_ROW:
                raise
            raise MailboxError(ErrorCode.MESSAGE_MISSING, error.note, detail=error.detail) from error
        self._unreadable_in_row = 0


def _segment(value: str) -> str:
    """An id as one URL path segment."""
    return quote(value, safe="")
