"""One URL serves a page, or for an htmx request the fragment that page includes."""

from __future__ import annotations

from flask import make_response, render_template, request


def is_htmx() -> bool:
    # A history restore (back button after hx-push-url with a cold cache) wants the whole page.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page_or_fragment(page: str, fragment: str, **context):
    """Render ``fragment`` for htmx, ``page`` (which includes it) otherwise; caches must tell them apart."""
    response = make_response(render_template(fragment if is_htmx() else page, **context))
    response.vary.add("HX-Request")
    return response
