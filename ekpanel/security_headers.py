"""The headers every response carries: a strict Content-Security-Policy and its companions.

No script or style comes from anywhere but ``static/``: no inline handler, no ``<script>`` in a
page, no ``style=`` attribute, no eval (htmx's ``allowEval`` is off, see ``templates/base.html``).
The one exception is the PDF, which the document page shows in an ``<iframe>``: it may be framed by
this site, and by nothing else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

# Views whose answer this site itself shows in a frame.
FRAMED_BY_THIS_SITE = {"documents.pdf"}


def content_security_policy(*, framed_here: bool = False) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        # The admin-consent button posts here and is redirected to Microsoft's login page, and a
        # redirect after a form counts as the form's destination.
        "form-action": f"'self' {_origin(current_app.config['MS_LOGIN_URL'])}",
        "frame-ancestors": "'self'" if framed_here else "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def add_security_headers(response: Response) -> Response:
    framed_here = request.endpoint in FRAMED_BY_THIS_SITE
    response.headers["Content-Security-Policy"] = content_security_policy(framed_here=framed_here)
    response.headers["X-Frame-Options"] = "SAMEORIGIN" if framed_here else "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def register(app: Flask) -> None:
    app.after_request(add_security_headers)
