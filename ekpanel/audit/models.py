"""The audit log ("Dziennik zmian"): who did what to access and to the mail intake, when, from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from ekpanel.extensions import db
from ekpanel.timeutil import utcnow


class AuditEntry(db.Model):
    """One action. Labels are copied in, so an entry reads the same after its target changed or went."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_login: Mapped[str | None] = mapped_column(String(80))  # None: the command line, or nobody yet
    address: Mapped[str | None] = mapped_column(String(45))  # the client's IP address
    action: Mapped[str] = mapped_column(String(40), index=True)  # ekpanel.audit.actions.Action
    target_type: Mapped[str | None] = mapped_column(String(20))
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_label: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON; never a password or a secret

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.target_label!r}>"


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(_mapper, _connection, entry: AuditEntry) -> None:
    """The application only adds entries; retention removes old ones with a bulk delete (prune)."""
    raise PermissionError(f"audit entries are append-only: {entry!r}")
