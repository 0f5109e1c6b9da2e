"""Where a redirect may send the browser: a page of this panel, never another site.

Every redirect whose target comes from the request (``next=``, a form's ``next``) goes through here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect
from werkzeug.wrappers import Response


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so ``/\\t/evil.example``
    and ``/\\\\evil.example`` both mean ``//evil.example``: another host. A target with any control
    character, space or backslash is refused whole rather than cleaned; what remains must be a path
    with neither scheme nor host.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(char == "\\" or char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def redirect_local(target: str | None, fallback: str) -> Response:
    """A redirect to ``target`` if it is a page of this panel, to ``fallback`` otherwise."""
    return redirect(local_path(target) or fallback)
