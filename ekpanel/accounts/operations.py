"""Account operations: plain functions over models; the caller commits."""

from __future__ import annotations

from sqlalchemy import func, select

from ekpanel.accounts.models import User
from ekpanel.extensions import db


class LoginTaken(ValueError):
    pass


def find_user(login: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.login) == login.strip().lower()))


def create_user(login: str, password: str, *, is_admin: bool = False, **fields) -> User:
    login = login.strip()
    if find_user(login) is not None:
        raise LoginTaken(login)
    user = User(login=login, is_admin=is_admin, **fields)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def active_admin_exists() -> bool:
    """Whether anyone can sign in with administrator rights (``scripts/run`` says so when not)."""
    admins = select(User.id).where(User.is_admin.is_(True), User.active.is_(True)).limit(1)
    return db.session.scalar(admins) is not None


def authenticate(login: str, password: str) -> User | None:
    """The active user with that login and password; None for anything else (same answer, no hints)."""
    user = find_user(login)
    if user is None or not user.active or not user.check_password(password):
        return None
    return user
