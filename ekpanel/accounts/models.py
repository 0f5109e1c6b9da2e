"""People who use the panel: administrators and operators."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

# Which companies an operator works on. Administrators see every company regardless.
user_companies = Table(
    "user_companies",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True),
)

LANGUAGES = ("pl", "en")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The right "Przekazane dokumenty - e-mail (odświeżenie)": check the mailboxes on demand.
    can_refresh: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(5), default="pl")
    email: Mapped[str | None] = mapped_column(String(320))  # where alerts go (ekpanel.alerts)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Part of every session's user id (get_id): raising it ends every session of this user at once.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    companies = relationship("Company", secondary=user_companies, order_by="Company.name", lazy="selectin")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What the session holds: the id and the session version (Flask-Login's "alternative token")."""
        return f"{self.id}:{self.session_version}"

    def end_all_sessions(self) -> None:
        """Every session of this user, on every device, stops working at its next request."""
        self.session_version = (self.session_version or 0) + 1

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users and drops their sessions
        return self.active

    @property
    def may_refresh(self) -> bool:
        return self.is_admin or self.can_refresh

    def may_see_company(self, company_id: int) -> bool:
        return self.is_admin or any(c.id == company_id for c in self.companies)

    def __repr__(self) -> str:
        return f"<User {self.login}>"


class EndedSession(db.Model):
    """A session ended by "Wyloguj". A copy of its cookie would otherwise stay valid until it expires:
    the cookie is signed, not stored. Kept as long as such a copy could live (ekpanel.accounts.sessions)."""

    __tablename__ = "ended_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
