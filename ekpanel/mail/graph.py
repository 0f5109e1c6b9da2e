"""The Microsoft 365 mailbox (Microsoft Graph, app-only): the Mailbox interface over HTTPS.

What it costs (SPEC, "checks cost what the new mail costs"):

- a folder is read through its delta link, so a check with nothing new is one request per
  folder; the first check pages through the folder with ``$select`` of the few fields needed;
- a message's attachments are listed (never their content) only when the check first looks at
  them, which it does only for senders on the whitelist: mail from anyone else costs nothing
  beyond its line in the delta page (see :class:`GraphMessageSummary`);
- only candidate PDF parts are downloaded, through ``/attachments/{id}/$value``; a forwarded
  message (an item attachment) is read once as MIME and its PDF parts taken from that.

Throttling (429, 503, 504) is waited out as Graph asks, within a bound; an expired token is renewed
once; every other failure leaves as a classified :class:`MailboxError`, by Graph's error code.
Ids change when a message moves; :meth:`GraphMailbox.move` reports the new ones.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests

from ekpanel.mail.graph_auth import AppCredentials, GraphSession, acquire_token, transport_error
from ekpanel.mail.mailbox import (
    AttachmentPart,
    FolderCursor,
    MailboxError,
    MessageSummary,
    MoveOutcome,
    RemoteFolder,
)
from ekpanel.mail.pdf import decode_filename
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.structure import StructureError, mime_part_bytes, parts_from_mime
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.vocabulary import ErrorCode

# The same code as the IMAP adapter's: the check handles it per folder (ErrorCode.MESSAGE_MISSING, per
# message, is the mailbox interface's).

INBOX_FLAG = "\\Inbox"
JUNK_FLAG = "\\Junk"
DELIMITER = "/"
PAGE_SIZE = 100  # messages per delta page (Prefer: odata.maxpagesize)
FOLDER_PAGE_SIZE = 100
MESSAGE_FIELDS = "id,internetMessageId,from,subject,receivedDateTime,sentDateTime,hasAttachments"
ATTACHMENT_FIELDS = "id,name,contentType,size,isInline"  # never contentBytes
FOLDER_FIELDS = "id,displayName,parentFolderId,childFolderCount,isHidden"

# Graph's codes for a delta link it no longer honours: start the folder again.
_SYNC_STATE_CODES = frozenset(
    {"syncstatenotfound", "syncstateinvalid", "errorinvalidsyncstatedata", "resyncrequired"}
)
_ACCESS_DENIED_CODES = frozenset({"erroraccessdenied", "authorization_requestdenied", "accessdenied"})
_NO_MAILBOX_CODES = frozenset(
    {
        "errorinvaliduser",
        "mailboxnotenabledforrestapi",
        "mailboxnothostedinexchangeonline",
        "resourcenotfound",
        "request_resourcenotfound",
    }
)
_ITEM_NOT_FOUND = "erroritemnotfound"
_FOLDER_EXISTS = "errorfolderexists"
_RETRIED_STATUSES = frozenset({429, 503, 504})
_SECTION = re.compile(r"\d+(\.\d+)*")


@dataclass(frozen=True)
class RetryPolicy:
    """How long Graph's throttling is waited out before the check gives up ("throttled")."""

    max_retries: int = 5  # per request
    max_wait: float = 120.0  # seconds of waiting per request, all retries together
    backoff: float = 1.0  # first wait when Graph gives no Retry-After; doubles each time


class GraphError(Exception):
    """An error answer from Graph: ``code`` is its ``error.code`` (what we branch on)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def key(self) -> str:
        return self.code.lower()


@dataclass
class _Structure:
    parts: list[AttachmentPart]
    has_attachments: bool


def _lazy(name: str) -> property:
    def get(self: GraphMessageSummary) -> Any:
        if name in self._assigned:
            return self._assigned[name]
        return getattr(self.structure(), name)

    def set(self: GraphMessageSummary, value: Any) -> None:
        self._assigned[name] = value

    return property(get, set)


class GraphMessageSummary(MessageSummary):
    """A message summary whose attachment list is read from Graph on first use.

    The check (``decide``) looks at ``parse_error`` and the sender before the attachments, so a
    message from a sender who is not on the whitelist never costs an attachment request.
    ``parts`` and ``has_attachments`` load together on first access to either; everything
    else is plain data. ``parse_error`` stays None: a structure that cannot be read shows up
    when it is loaded, as ``MailboxError("message_missing")``, which the check records as that
    message's error. Graph's own ``hasAttachments`` is kept aside (``graph_has_attachments``)
    and not used for the decision: it ignores inline attachments.
    """

    parts = _lazy("parts")
    has_attachments = _lazy("has_attachments")

    def __init__(self, load: Callable[[], _Structure], graph_has_attachments: bool, **fields: Any) -> None:
        self._assigned: dict[str, Any] = {}
        self._load = load
        self._structure: _Structure | None = None
        self.graph_has_attachments = graph_has_attachments
        super().__init__(**fields)
        self._assigned.clear()  # the dataclass __init__ set the defaults through the properties

    @property
    def loaded(self) -> bool:
        return self._structure is not None

    def structure(self) -> _Structure:
        if self._structure is None:
            self._structure = self._load()
        return self._structure

    def __repr__(self) -> str:  # never a request just to print a message
        state = f"{len(self.parts)} parts" if self.loaded else "parts not loaded"
        return f"<GraphMessageSummary {self.ref[:16]}… from {self.sender!r} {self.subject!r} ({state})>"


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
        self._settings = settings
        self._credentials = AppCredentials(
            server_id=server_id,
            client_id=client_id,
            tenant=tenant,
            secret=client_secret,
            login_url=settings.ms_login_url,
            ca_bundle=settings.ca_bundle,
            timeout=settings.imap_timeout,
        )
        self._graph_url = settings.graph_url.rstrip("/")
        self._users_url = f"{self._graph_url}/users/{quote(self.mailbox, safe='@')}"
        self._page_size = page_size
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self.pending_count: int | None = None  # Graph does not say how many are new before paging
        self._session: GraphSession | None = None
        self._token: str | None = None
        self._folders: list[RemoteFolder] | None = None
        self._top_level: dict[str, RemoteFolder] = {}
        self._item_mime: dict[tuple[str, str], bytes] = {}  # (message id, attachment id) -> MIME

    # -- session -----------------------------------------------------------------------------

    def __enter__(self) -> GraphMailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        if not self.mailbox:
            raise MailboxError(ErrorCode.MAILBOX_MISSING, note(Text.GRAPH_MAILBOX_MISSING))
        self._session = GraphSession(ca_bundle=self._settings.ca_bundle, timeout=self._settings.imap_timeout)
        try:
            self._token = acquire_token(self._credentials)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None
        self._item_mime.clear()

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
                ("", item) for item in self._collection(f"{self._users_url}/mailFolders", params)
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
                    pending += [(path, child) for child in self._collection(url, params)]
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
                response = self._request(
                    "POST", f"{self._users_url}/mailFolders", json={"displayName": name, "isHidden": False}
                )
                item = response.json()
            except GraphError as error:
                if error.key != _FOLDER_EXISTS:
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
        for item in self._collection(f"{self._users_url}/mailFolders", params):
            if (item.get("displayName") or "").casefold() == name.casefold():
                return item
        raise GraphError(404, "ErrorItemNotFound", f"folder {name!r} exists but cannot be found")

    def _well_known_id(self, name: str) -> str | None:
        try:
            response = self._request("GET", f"{self._users_url}/mailFolders/{name}", params={"$select": "id"})
        except GraphError as error:
            if error.status == 404 and error.key == _ITEM_NOT_FOUND:
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
                    page = self._request("GET", url, params=params, headers=self._prefer()).json()
            except _SyncStateGone:
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
        if not link or not self._same_origin(link):
            return False
        path = unquote(urlsplit(link).path)
        return folder.ref in path and "/messages/delta" in path.lower()

    def _summary(self, item: dict) -> GraphMessageSummary:
        message_id = (item.get("internetMessageId") or "").strip().strip("<>").strip() or None
        sender = ((item.get("from") or {}).get("emailAddress") or {}).get("address") or None
        subject = item.get("subject") or ""
        ref = item["id"]
        return GraphMessageSummary(
            lambda: self._structure(ref),
            bool(item.get("hasAttachments")),
            ref=ref,
            message_id=message_id,
            sender=sender.strip() if sender else None,
            subject=subject,
            received_at=_datetime(item.get("receivedDateTime")),
            header_hash=header_hash(message_id, sender, item.get("sentDateTime"), subject),
        )

    def _structure(self, message_ref: str) -> _Structure:
        """The attachments of one message as parts, listed without their content."""
        url = f"{self._users_url}/messages/{_segment(message_ref)}/attachments"
        with self._errors(message=True):
            items = list(self._collection(url, {"$select": ATTACHMENT_FIELDS}))
        parts: list[AttachmentPart] = []
        for item in items:
            kind = (item.get("@odata.type") or "").lower()
            if kind.endswith("itemattachment"):
                parts += self._item_parts(message_ref, item)
            elif kind.endswith("fileattachment"):
                parts.append(
                    AttachmentPart(
                        ref=item["id"],
                        filename=decode_filename(item.get("name")),
                        content_type=_content_type(item.get("contentType")),
                        size=item.get("size"),
                        disposition="inline" if item.get("isInline") else "attachment",
                    )
                )
            # A reference attachment is a link to a file in the cloud, not mail content.
        return _Structure(parts, bool(items))

    def _item_parts(self, message_ref: str, item: dict) -> list[AttachmentPart]:
        """The parts of a forwarded message (an item attachment), read from its MIME."""
        raw = self._item_bytes(message_ref, item["id"])
        try:
            inner = parts_from_mime(raw)
        except StructureError as error:
            raise MailboxError(
                ErrorCode.MESSAGE_MISSING,
                note(Text.GRAPH_FORWARDED_UNREADABLE, name=item.get("name") or ""),
                detail=str(error),
            ) from error
        return [
            AttachmentPart(
                ref=f"{item['id']}/{part.ref}",
                filename=part.filename,
                content_type=part.content_type,
                size=part.size,
                disposition=part.disposition,
                in_forwarded=True,
            )
            for part in inner
        ]

    def _item_bytes(self, message_ref: str, attachment_id: str) -> bytes:
        key = (message_ref, attachment_id)
        if key not in self._item_mime:
            self._item_mime[key] = self._attachment_value(message_ref, attachment_id)
        return self._item_mime[key]

    def fetch_part(self, folder: RemoteFolder, message: MessageSummary, part: AttachmentPart) -> bytes:
        attachment_id, _slash, section = part.ref.rpartition("/")
        if part.in_forwarded and attachment_id and _SECTION.fullmatch(section):
            # A part of a forwarded message: from its MIME, read once per message.
            try:
                return mime_part_bytes(self._item_bytes(message.ref, attachment_id), section)
            except (KeyError, StructureError) as error:
                raise MailboxError(
                    ErrorCode.MESSAGE_MISSING, note(Text.GRAPH_FORWARDED_PART_MISSING), detail=str(error)
                ) from error
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

    def _attachment_value(self, message_ref: str, attachment_id: str) -> bytes:
        url = (
            f"{self._users_url}/messages/{_segment(message_ref)}/attachments/{_segment(attachment_id)}/$value"
        )
        try:
            with self._errors(message=True):
                return self._request("GET", url).content
        except _ItemGone as gone:
            gone_now = note(Text.GRAPH_MESSAGE_GONE_DURING_CHECK)
            raise MailboxError(ErrorCode.MESSAGE_MISSING, gone_now) from gone

    def move(
        self, folder: RemoteFolder, messages: list[MessageSummary], destination: RemoteFolder
    ) -> MoveOutcome:
        """Each message moved with its own request; the new ids (Graph gives new ones) reported."""
        outcome = MoveOutcome()
        for message in messages:
            url = f"{self._users_url}/messages/{_segment(message.ref)}/move"
            try:
                with self._errors(message=True):
                    response = self._request("POST", url, json={"destinationId": destination.ref})
            except _ItemGone:
                outcome.failed[message.ref] = note(Text.GRAPH_MESSAGE_GONE_BEFORE_MOVE)
                continue
            except _MessageRefused as refused:
                outcome.failed[message.ref] = refused.note
                continue
            outcome.moved[message.ref] = (response.json() or {}).get("id") or ""
        return outcome

    # -- HTTP --------------------------------------------------------------------------------

    def _collection(self, url: str, params: dict[str, str] | None) -> Iterator[dict]:
        """Every item of a collection, following ``@odata.nextLink`` exactly as given."""
        next_url: str | None = url
        while next_url:
            page = self._request("GET", next_url, params=params).json()
            yield from page.get("value") or []
            next_url, params = page.get("@odata.nextLink"), None

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One Graph call: throttling waited out, an expired token renewed once, errors raised."""
        if self._session is None:
            raise RuntimeError("the mailbox is not connected")
        if not self._same_origin(url):
            # A paging link pointing elsewhere must not receive our token.
            raise MailboxError(ErrorCode.GRAPH_ERROR, note(Text.GRAPH_FOREIGN_LINK), detail=url)
        retries = 0
        waited = 0.0
        renewed = False
        while True:
            request_headers = {"Authorization": f"Bearer {self._token}", **(headers or {})}
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=request_headers
                )
            except requests.RequestException as error:
                raise transport_error(error, url) from error
            if response.status_code == 401 and not renewed:
                renewed = True
                self._token = acquire_token(self._credentials, refresh=True)
                continue
            if response.status_code in _RETRIED_STATUSES:
                delay = _retry_after(response)
                if delay is None:
                    delay = self._retry.backoff * 2**retries
                if retries >= self._retry.max_retries or waited + delay > self._retry.max_wait:
                    raise _throttled(response)
                self._sleep(delay)
                waited += delay
                retries += 1
                continue
            if response.status_code >= 400:
                raise _graph_error(response)
            return response

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self._graph_url), urlsplit(url)
        return (ours.scheme, ours.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    @contextmanager
    def _errors(self, *, folder: RemoteFolder | None = None, message: bool = False) -> Iterator[None]:
        """Graph's error answers as the mailbox's failures, by ``error.code``.

        What concerns one folder (``folder``) or one message (``message``) is not the whole
        mailbox's: a folder that cannot be read is ``folder_unavailable``; a message that is
        gone (``_ItemGone``) or refused (``_MessageRefused``) is ``message_missing``; the check
        goes on after both. A delta link Graph no longer honours is ``_SyncStateGone``.
        """
        try:
            yield
        except GraphError as error:
            raise self._classify(error, folder, message) from error

    def _classify(self, error: GraphError, folder: RemoteFolder | None, message: bool) -> Exception:
        key = error.key
        detail = f"HTTP {error.status} {error.code}: {error.message}"
        if key in _ACCESS_DENIED_CODES:
            return MailboxError(
                ErrorCode.CONSENT_MISSING,
                note(
                    Text.GRAPH_CONSENT_MISSING,
                    mailbox=self.mailbox,
                ),
                detail=detail,
            )
        if key in _NO_MAILBOX_CODES:
            return MailboxError(
                ErrorCode.MAILBOX_NOT_FOUND,
                note(
                    Text.GRAPH_MAILBOX_NOT_FOUND,
                    mailbox=self.mailbox,
                ),
                detail=detail,
            )
        if error.status == 401:
            return MailboxError(
                ErrorCode.AUTH_FAILED,
                note(Text.GRAPH_TOKEN_REFUSED, code=error.code),
                detail=detail,
            )
        if key in _SYNC_STATE_CODES or error.status == 410:
            return _SyncStateGone(detail)
        if 400 <= error.status < 500 and error.status != 408:
            if message:
                if key == _ITEM_NOT_FOUND:
                    return _ItemGone(detail)
                return _MessageRefused(note(Text.GRAPH_MESSAGE_REFUSED, code=error.code), detail)
            if folder is not None:
                return MailboxError(
                    ErrorCode.FOLDER_UNAVAILABLE,
                    note(
                        Text.GRAPH_FOLDER_UNAVAILABLE,
                        folder=folder.display,
                        code=error.code,
                    ),
                    detail=detail,
                )
            return MailboxError(
                ErrorCode.GRAPH_ERROR,
                note(Text.GRAPH_REQUEST_REFUSED, code=error.code),
                detail=detail,
            )
        return MailboxError(
            ErrorCode.GRAPH_UNAVAILABLE,
            note(
                Text.GRAPH_UNAVAILABLE,
                code=error.code,
                status=error.status,
            ),
            transient=error.status >= 500,
            detail=detail,
        )


class _ItemGone(MailboxError):
    """The message (or attachment) is no longer there: moved or deleted meanwhile."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.MESSAGE_MISSING, note(Text.GRAPH_MESSAGE_GONE), detail=detail)


class _SyncStateGone(MailboxError):
    def __init__(self, detail: str) -> None:
        super().__init__("sync_state_gone", note(Text.GRAPH_DELTA_EXPIRED), detail=detail)


class _MessageRefused(MailboxError):
    def __init__(self, message: Note, detail: str) -> None:
        # the check records it per message
        super().__init__(ErrorCode.MESSAGE_MISSING, message, detail=detail)


def _graph_error(response: requests.Response) -> GraphError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return GraphError(response.status_code, str(error.get("code") or ""), str(error.get("message") or ""))
    return GraphError(response.status_code, f"HTTP{response.status_code}", response.text[:200])


def _throttled(response: requests.Response) -> MailboxError:
    error = _graph_error(response)
    return MailboxError(
        ErrorCode.THROTTLED,
        note(
            Text.GRAPH_THROTTLED,
            code=error.code,
        ),
        transient=True,
        detail=f"HTTP {error.status} {error.code}: {error.message}",
    )


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def header_hash(message_id: str | None, sender: str | None, sent: str | None, subject: str) -> str:
    """A stable fingerprint of a message for when it has no Message-ID."""
    pieces = [message_id or "", (sender or "").lower(), sent or "", " ".join(subject.split())]
    return hashlib.sha256("\x00".join(pieces).encode("utf-8", "surrogatepass")).hexdigest()


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _content_type(value: str | None) -> str:
    text = (value or "").split(";", 1)[0].strip().lower()
    return text if "/" in text else "application/octet-stream"


def _segment(value: str) -> str:
    """An id as one URL path segment."""
    return quote(value, safe="")
