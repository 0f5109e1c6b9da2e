"""Fault injection: make the next requests to a path fail (throttling, outages, refusals).

A fault fires before authentication and routing, so any path can be made to fail, including the login side;
it is given the error shape of the side it hits (Graph JSON or OAuth).
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


class Faults:
    def __init__(self) -> None:
        self._pending: list[Fault] = []

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

    def clear(self) -> None:
        self._pending.clear()

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


def fault_error(fault: Fault, is_graph: bool) -> GraphError | LoginError:
    """The error a fault answers with, in the shape of the side it hit."""
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = _retry_after_text(fault.retry_after)
    if is_graph:
        code, message = _GRAPH_DEFAULTS.get(fault.status, ("UnknownError", "Emulated failure."))
        return GraphError(fault.status, fault.code or code, fault.message or message, headers)
    error = fault.code or _LOGIN_DEFAULTS.get(fault.status, "server_error")
    return LoginError(fault.status, error, None, fault.message or "Emulated failure.", headers)


def _retry_after_text(seconds: int | float) -> str:
    return str(int(seconds) if float(seconds).is_integer() else seconds)
