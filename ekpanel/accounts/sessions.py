"""Sessions that can be ended before they expire: by "Wyloguj", and everywhere at once.

The session is Flask's signed cookie, not a stored row, so a copy of it stays valid until it expires
unless the server can tell it apart. Two things do:

- Its user id carries the user's session version (``User.get_id``). A password change, deactivation or
  "Wyloguj ze wszystkich urządzeń" raise the version, and every older cookie of that user stops
  loading its user, on every device.
- Each login gets a random session id. "Wyloguj" records that id as ended, so a copy of the cookie
  taken before the logout is refused too, while the user's other devices stay logged in (raising the
  version at every logout would log them out as well).

A session also ends after ``PERMANENT_SESSION_LIFETIME`` (EKPANEL_SESSION_HOURS) without a request: the
cookie is re-signed on every request, and Flask refuses a signature older than that. So an ended id
needs keeping only that long.
"""

from __future__ import annotations

import secrets

from flask import current_app, session
from flask_login import login_user, logout_user
from sqlalchemy import delete

from ekpanel.accounts.models import EndedSession, User
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

SESSION_ID = "session_id"


def start_session(user: User) -> None:
    """Log ``user`` in on this device, in a new session (nothing from before the login carries over)."""
    session.clear()
    login_user(user)
    session.permanent = True  # re-signed on every request: the lifetime counts from the last one
    session[SESSION_ID] = secrets.token_urlsafe(32)


def end_session() -> None:
    """Wyloguj: this session ends, and so does any copy of its cookie. The caller commits."""
    session_id = session.get(SESSION_ID)
    if session_id:
        db.session.merge(EndedSession(session_id=session_id, ended_at=utcnow()))
        cutoff = utcnow() - current_app.permanent_session_lifetime
        db.session.execute(delete(EndedSession).where(EndedSession.ended_at < cutoff))
    logout_user()
    session.clear()


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user, if this session is still theirs; None logs it out.

    An inactive user loads, and Flask-Login then treats the session as anonymous.
    """
    user_key, _, version = user_id.partition(":")
    if not (user_key.isdigit() and version.isdigit()):
        return None  # a cookie from before session versions: log in again
    user = db.session.get(User, int(user_key))
    if user is None or user.session_version != int(version):
        return None
    session_id = session.get(SESSION_ID)
    if not session_id or db.session.get(EndedSession, session_id) is not None:
        return None
    return user
