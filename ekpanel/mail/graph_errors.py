"""How Microsoft Graph's error answers reach people: each one classified into a MailboxError.

Graph says what went wrong in ``error.code`` (``ErrorAccessDenied``, ``ErrorItemNotFound``...);
we branch on that code and the HTTP status, never on the English ``error.message``. What concerns
the whole mailbox (consent, a mailbox that does not exist, a token refused, an outage) fails the
check; what concerns one folder or one message is classified so that the check records it and goes
on (see :func:`classify`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from ekpanel.mail.mailbox import MailboxError, RemoteFolder
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.vocabulary import ErrorCode

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
ITEM_NOT_FOUND = "erroritemnotfound"
FOLDER_EXISTS = "errorfolderexists"


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

    @property
    def detail(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.message}"

    @classmethod
    def from_response(cls, response: requests.Response) -> GraphError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return cls(response.status_code, str(error.get("code") or ""), str(error.get("message") or ""))
        return cls(response.status_code, f"HTTP{response.status_code}", response.text[:200])


class ItemGone(MailboxError):
    """The message (or attachment) is no longer there: moved or deleted meanwhile."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.MESSAGE_MISSING, note(Text.GRAPH_MESSAGE_GONE), detail=detail)


class MessageRefused(MailboxError):
    """Graph refused a request about one message (a 4xx other than "not found")."""

    def __init__(self, message: Note, detail: str) -> None:
        super().__init__(
            ErrorCode.MESSAGE_MISSING, message, detail=detail
        )  # the check records it per message


class SyncStateGone(MailboxError):
    """A delta link Graph no longer honours: the folder is read again from the start."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.SYNC_STATE_GONE, note(Text.GRAPH_DELTA_EXPIRED), detail=detail)


def throttled(response: requests.Response) -> MailboxError:
    """Graph still throttles after all the waiting the retry policy allows: try again later."""
    error = GraphError.from_response(response)
    return MailboxError(
        ErrorCode.THROTTLED,
        note(Text.GRAPH_THROTTLED, code=error.code),
        transient=True,
        detail=error.detail,
    )


@contextmanager
def classified(mailbox: str, *, folder: RemoteFolder | None = None, message: bool = False) -> Iterator[None]:
    """Graph's error answers raised inside, as the mailbox's failures (see :func:`classify`)."""
    try:
        yield
    except GraphError as error:
        raise classify(error, mailbox, folder=folder, message=message) from error


def classify(
    error: GraphError, mailbox: str, *, folder: RemoteFolder | None = None, message: bool = False
) -> MailboxError:
    """The failure ``error`` means, by ``error.code`` and the status.

    What concerns one folder (``folder``) or one message (``message``) is not the whole
    mailbox's: a folder that cannot be read is ``folder_unavailable``; a message that is gone
    (:class:`ItemGone`) or refused (:class:`MessageRefused`) is ``message_missing``; the check
    goes on after both. A delta link Graph no longer honours is :class:`SyncStateGone`.
    """
    key = error.key
    if key in _ACCESS_DENIED_CODES:
        return MailboxError(
            ErrorCode.CONSENT_MISSING, note(Text.GRAPH_CONSENT_MISSING, mailbox=mailbox), detail=error.detail
        )
    if key in _NO_MAILBOX_CODES:
        return MailboxError(
            ErrorCode.MAILBOX_NOT_FOUND,
            note(Text.GRAPH_MAILBOX_NOT_FOUND, mailbox=mailbox),
            detail=error.detail,
        )
    if error.status == 401:
        return MailboxError(
            ErrorCode.AUTH_FAILED, note(Text.GRAPH_TOKEN_REFUSED, code=error.code), detail=error.detail
        )
    if key in _SYNC_STATE_CODES or error.status == 410:
        return SyncStateGone(error.detail)
    if 400 <= error.status < 500 and error.status != 408:
        if message:
            if key == ITEM_NOT_FOUND:
                return ItemGone(error.detail)
            return MessageRefused(note(Text.GRAPH_MESSAGE_REFUSED, code=error.code), error.detail)
        if folder is not None:
            return MailboxError(
                ErrorCode.FOLDER_UNAVAILABLE,
                note(Text.GRAPH_FOLDER_UNAVAILABLE, folder=folder.display, code=error.code),
                detail=error.detail,
            )
        return MailboxError(
            ErrorCode.GRAPH_ERROR, note(Text.GRAPH_REQUEST_REFUSED, code=error.code), detail=error.detail
        )
    return MailboxError(
        ErrorCode.GRAPH_UNAVAILABLE,
        note(Text.GRAPH_UNAVAILABLE, code=error.code, status=error.status),
        transient=error.status >= 500,
        detail=error.detail,
    )
