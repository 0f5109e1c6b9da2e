"""One call to Microsoft Graph, made the way Graph asks calls to be made.

- Only to Graph's own origin: a paging or delta link that points elsewhere never gets our token.
- A token Graph rejects (401: revoked, or the clocks disagree) is renewed once and the call made again.
- Throttling (429, 503, 504) is waited out as ``Retry-After`` asks, or with doubling waits when it
  does not say, within a :class:`RetryPolicy`; past that the call fails as ``throttled`` and the
  check is tried again later.
- Any other error answer is raised as a :class:`GraphError`, for the caller to classify by what
  the call was about (``graph_errors.classified``); a network or TLS failure as a MailboxError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from ekpanel.mail.graph_auth import AppCredentials, GraphSession, acquire_token, transport_error
from ekpanel.mail.graph_errors import GraphError, throttled
from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode

_RETRIED_STATUSES = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How long Graph's throttling is waited out before the check gives up ("throttled")."""

    max_retries: int = 5  # per request
    max_wait: float = 120.0  # seconds of waiting per request, all retries together
    backoff: float = 1.0  # first wait when Graph gives no Retry-After; doubles each time


class GraphClient:
    """Calls to one Graph origin with one application's token; open it before the first call."""

    def __init__(
        self,
        credentials: AppCredentials,
        graph_url: str,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = credentials
        self.graph_url = graph_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._session: GraphSession | None = None
        self._token: str | None = None

    def open(self) -> None:
        """The HTTPS session and a token (from msal's cache when it holds a valid one)."""
        self._session = GraphSession(ca_bundle=self._credentials.ca_bundle, timeout=self._credentials.timeout)
        try:
            self._token = acquire_token(self._credentials)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None

    def same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.graph_url), urlsplit(url)
        return (ours.scheme, ours.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    def collection(self, url: str, params: dict[str, str] | None) -> Iterator[dict]:
        """Every item of a collection, following ``@odata.nextLink`` exactly as given."""
        next_url: str | None = url
        while next_url:
            page = self.request("GET", next_url, params=params).json()
            yield from page.get("value") or []
            next_url, params = page.get("@odata.nextLink"), None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One Graph call: throttling waited out, an expired token renewed once, errors raised.

        With ``stream`` the body is left to the caller to read (and the response to close).
        """
        if self._session is None:
            raise RuntimeError("the mailbox is not connected")
        if not self.same_origin(url):
            raise MailboxError(ErrorCode.GRAPH_ERROR, note(Text.GRAPH_FOREIGN_LINK), detail=url)
        retries = 0
        waited = 0.0
        renewed = False
        while True:
            request_headers = {"Authorization": f"Bearer {self._token}", **(headers or {})}
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=request_headers, stream=stream
                )
            except requests.RequestException as error:
                raise transport_error(error, url) from error
            if response.status_code < 400:
                return response
            if response.status_code == 401 and not renewed:
                renewed = True
                self._token = acquire_token(self._credentials, refresh=True)
                continue
            if response.status_code in _RETRIED_STATUSES:
                delay = _retry_after(response)
                if delay is None:
                    delay = self._retry.backoff * 2**retries
                if retries >= self._retry.max_retries or waited + delay > self._retry.max_wait:
                    raise throttled(response)
                self._sleep(delay)
                waited += delay
                retries += 1
                continue
            raise GraphError.from_response(response)


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
