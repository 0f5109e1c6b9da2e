"""Fault injection: make requests fail (throttling, outages, refusals).

Two kinds. A path fault fires before authentication and routing, so any path can be made to fail, including
the login side; it is given the error shape of the side it hits (Graph JSON or OAuth). A message fault
breaks the attachment routes of one message only (its list, one attachment, an attachment's ``$value``),
after the request was authenticated and the message found, so the other messages answer normally; it is
keyed by the message's ImmutableId and so follows the message across moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import GraphError, LoginError

# What Graph says for a status when the test names no code.
_GRAPH_DEFAULTS = {
    400: ("BadRequest", "Bad request."),
    401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorFolderExists", "A folder with the specified name already exists."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceNotAvailable", "Service Unavailable"),
    504: ("GatewayTimeout", "Gateway timeout."),
}
_LOGIN_DEFAULTS = {
    400: "invalid_request",
    401: "invalid_client",
    429: "temporarily_unavailable",
    503: "temporarily_unavailable",
}


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    code: str | None
    message: str | None
    retry_after: int | float | None
    remaining: int
    method: str | None


@dataclass
class MessageFault:
    status: int
    code: str | None
    message: str | None
    retry_after: int | float | None
    remaining: int | None  # None: every request until cleared


class Faults:
    def __init__(self) -> None:
        self._pending: list[Fault] = []
        self._attachments: dict[str, MessageFault] = {}  # by message key (ImmutableId)

    def fail_next(
        self,
        path_regex: str,
        status: int,
        *,
        code: str | None,
        retry_after: int | float | None,
        times: int,
        message: str | None,
        method: str | None,
    ) -> None:
        self._pending.append(
            Fault(
                pattern=re.compile(path_regex),
                status=status,
                code=code,
                message=message,
                retry_after=retry_after,
                remaining=times,
                method=method.upper() if method else None,
            )
        )

    def fail_attachments(
        self,
        message_key: str,
        status: int,
        *,
        code: str | None,
        message: str | None,
        retry_after: int | float | None,
        times: int | None,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: until cleared)")
        self._attachments[message_key] = MessageFault(status, code, message, retry_after, times)

    def clear(self) -> None:
        self._pending.clear()
        self._attachments.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first pending fault for this request, counted down (and dropped when used up)."""
        for fault in self._pending:
            if (
                fault.remaining > 0
                and (fault.method is None or fault.method == method)
                and fault.pattern.search(path)
            ):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._pending.remove(fault)
                return fault
        return None

    def attachment_error(self, message_key: str) -> GraphError | None:
        """The error the attachment routes of this message answer now, if it was made to fail."""
        fault = self._attachments.get(message_key)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._attachments[message_key]
        return _graph_error(fault.status, fault.code, fault.message, fault.retry_after)


def fault_error(fault: Fault, is_graph: bool) -> GraphError | LoginError:
    """The error a path fault answers with, in the shape of the side it hit."""
    if is_graph:
        return _graph_error(fault.status, fault.code, fault.message, fault.retry_after)
    error = fault.code or _LOGIN_DEFAULTS.get(fault.status, "server_error")
    return LoginError(
        fault.status, error, None, fault.message or "Emulated failure.", _headers(fault.retry_after)
    )


def _graph_error(
    status: int, code: str | None, message: str | None, retry_after: int | float | None
) -> GraphError:
    default_code, default_message = _GRAPH_DEFAULTS.get(status, ("UnknownError", "Emulated failure."))
    return GraphError(status, code or default_code, message or default_message, _headers(retry_after))


def _headers(retry_after: int | float | None) -> dict[str, str]:
    if retry_after is None:
        return {}
    return {"Retry-After": str(int(retry_after) if float(retry_after).is_integer() else retry_after)}
