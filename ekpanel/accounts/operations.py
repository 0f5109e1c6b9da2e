"""Account operations: plain functions over models; the caller commits."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ekpanel import audit
from ekpanel.accounts.models import User
from ekpanel.audit import Action
from ekpanel.companies.models import Company
from ekpanel.extensions import db

# Why a login failed, in the audit log (ekpanel.audit.display names them).
UNKNOWN_LOGIN = "unknown_login"
INACTIVE = "inactive"
WRONG_PASSWORD = "wrong_password"


class LoginTaken(ValueError):
    pass


@dataclass
class UserValues:
    """What the administrator's user form submits."""

    login: str
    is_admin: bool = False
    can_refresh: bool = False
    active: bool = True
    language: str = "pl"
    companies: list[Company] = field(default_factory=list)
    password: str = ""  # empty: keep the current one
    email: str = ""  # where alerts go (ekpanel.alerts); empty: none


def find_user(login: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.login) == login.strip().lower()))


def create_user(
    login: str, password: str, *, is_admin: bool = False, companies: list[Company] = (), **fields
) -> User:
    login = login.strip()
    if find_user(login) is not None:
        raise LoginTaken(login)
    user = User(login=login, is_admin=is_admin, **fields)
    user.companies = list(companies)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(Action.USER_CREATED, target=user, details=_user_snapshot(user))
    return user


def active_admin_exists() -> bool:
    """Whether anyone can sign in with administrator rights (``scripts/run`` says so when not)."""
    admins = select(User.id).where(User.is_admin.is_(True), User.active.is_(True)).limit(1)
    return db.session.scalar(admins) is not None


def update_user(user: User, values: UserValues) -> None:
    """Apply the form; a new password or a deactivation ends the user's sessions everywhere."""
    before = _user_snapshot(user)
    user.login = values.login.strip()
    user.is_admin = values.is_admin
    user.can_refresh = values.can_refresh
    user.active = values.active
    user.language = values.language
    user.companies = list(values.companies)
    old_email, user.email = user.email or "", values.email.strip() or None
    if values.password:
        user.set_password(values.password)
    if values.password or (before["active"] and not values.active):
        user.end_all_sessions()
    db.session.flush()
    diff = audit.changes(before, _user_snapshot(user))
    if (user.email or "") != old_email:
        diff["email"] = {"old": old_email, "new": user.email or ""}
    if values.password:
        diff["password"] = "changed"  # that it changed, never what to
    if diff:
        audit.record(Action.USER_CHANGED, target=user, details=diff)


def change_own_password(user: User, password: str) -> None:
    """The user's own new password; their sessions on other devices end (the caller renews this one)."""
    user.set_password(password)
    user.end_all_sessions()
    audit.record(Action.PASSWORD_CHANGED, target=user)


def end_all_sessions(user: User) -> None:
    """ "Wyloguj ze wszystkich urządzeń": every session of ``user`` ends at its next request."""
    user.end_all_sessions()
    audit.record(Action.SESSIONS_ENDED, target=user)


def authenticate(login: str, password: str) -> User | None:
    """The active user with that login and password; None for anything else (same answer, no hints).

    A password hash is checked on every path, against a stand-in when there is no active user with
    that login, so the time taken does not tell whether the login exists either. Both outcomes are
    recorded in the audit log.
    """
    user = find_user(login)
    if user is None or not user.active:
        check_password_hash(_stand_in_hash(), password)
        reason = UNKNOWN_LOGIN if user is None else INACTIVE
    elif user.check_password(password):
        audit.record(Action.LOGIN_SUCCEEDED, target=user, actor=user)
        return user
    else:
        reason = WRONG_PASSWORD
    typed = login.strip()[:80]
    target = user or audit.Target("user", None, typed)
    audit.record(Action.LOGIN_FAILED, target=target, details={"login": typed, "reason": reason})
    return None


@functools.cache
def _stand_in_hash() -> str:
    """A hash of a random password, made as users' hashes are (same method and cost)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _user_snapshot(user: User) -> dict:
    """What the audit log compares: the login, role, rights, companies and state; never the hash."""
    return {
        "login": user.login,
        "is_admin": bool(user.is_admin),
        "can_refresh": bool(user.can_refresh),
        "active": bool(user.active),
        "language": user.language,
        "companies": sorted(company.name for company in user.companies),
    }
