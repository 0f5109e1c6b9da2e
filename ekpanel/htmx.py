"""htmx in one place: whether a request came from htmx, page or fragment, and every HX-* response header.

No view writes an ``HX-*`` header itself: it calls ``htmx_response`` or ``steer``.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, make_response, render_template, request

# htmx stops an `hx-trigger="every …"` poll when the answer has this status.
STOP_POLLING = 286


def is_htmx() -> bool:
    # A history restore (back button after hx-push-url with a cold cache) wants the whole page.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page_or_fragment(page: str, fragment: str, **context) -> Response:
    """Render ``fragment`` for htmx, ``page`` (which includes it) otherwise; caches must tell them apart."""
    return htmx_response(render_template(fragment if is_htmx() else page, **context))


def htmx_response(body: str, *, status: int = 200, **steering) -> Response:
    """An answer to htmx with the headers that steer it (see ``steer``)."""
    return steer(make_response(body, status), **steering)


def steer(
    response: Response,
    *,
    retarget: str | None = None,
    reswap: str | None = None,
    push_url: str | None = None,
    trigger: dict | None = None,
    redirect: str | None = None,
    stop_polling: bool = False,
) -> Response:
    """Set the HX-* headers of ``response``.

    ``retarget``/``reswap``: swap into another element, another way, than the request asked for.
    ``push_url``: the address bar (and history entry) after the swap. ``trigger``: events (name →
    detail) fired on the requesting element. ``redirect``: a whole-page navigation instead of a swap.
    ``stop_polling``: the 286 status that ends an ``every …`` poll (only in place of a 200).
    """
    headers = {
        "HX-Retarget": retarget,
        "HX-Reswap": reswap,
        "HX-Push-Url": push_url,
        "HX-Trigger": json.dumps(trigger) if trigger else None,
        "HX-Redirect": redirect,
    }
    for name, value in headers.items():
        if value is not None:
            response.headers[name] = value
    if stop_polling and response.status_code == 200:
        response.status_code = STOP_POLLING
    response.vary.add("HX-Request")
    return response


def _page_location(location: str) -> str:
    """``location`` with its ``next`` (where to come back) pointing at the page, not the fragment.

    A redirect that asks to come back (the login page's ``?next=``) names the request's URL, which for
    htmx is a fragment; the person wants the page they were on.
    """
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    target = urlsplit(location)
    if current.netloc != request.host or not current.path.startswith("/"):
        return location
    page = urlunsplit(("", "", current.path, current.query, ""))
    query = [(name, page if name == "next" else value) for name, value in parse_qsl(target.query, True)]
    return urlunsplit(target._replace(query=urlencode(query)))


def register(app: Flask) -> None:
    app.add_template_global(is_htmx, "is_htmx")

    @app.after_request
    def redirect_the_whole_page(response: Response) -> Response:
        """htmx follows a redirect itself and would swap the page it lands on (mostly the login page,
        after a session ended) into a fragment's place; the browser goes there instead."""
        if is_htmx() and response.status_code in (301, 302, 303, 307, 308):
            location = response.headers.pop("Location")
            response.status_code = 200
            response.set_data(b"")
            steer(response, redirect=_page_location(location))
        return response
