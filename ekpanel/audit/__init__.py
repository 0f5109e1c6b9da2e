"""The audit log's API, for every area of the panel::

    audit.record(Action.SERVER_DISABLED, target=server)
    audit.record(Action.USER_CHANGED, target=user, details=audit.changes(before, after))

``record`` only adds the entry to the database session: the view's one commit stores it together with
the change it describes, and a rollback drops both. Who and from which address come from the request
(nobody and no address on the command line); an action not yet known is a new member of
``Action`` with its label, then a one-line call where it happens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import delete

from ekpanel.accounts.models import User
from ekpanel.audit.actions import Action
from ekpanel.audit.models import AuditEntry
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from ekpanel.timeutil import utcnow

__all__ = ["Action", "AuditEntry", "Target", "changes", "prune", "record"]


@dataclass(frozen=True)
class Target:
    """What an entry is about, when it is no model (a login typed at the login page)."""

    type: str
    id: int | None
    label: str


def record(action: Action, target=None, details: dict | None = None, *, actor=None) -> AuditEntry:
    """Add an entry: ``target`` a User, Company, MailServer, Document or Target; ``details`` plain JSON
    values (never a password or a secret: record that one changed, not what to). ``actor`` defaults to
    the logged-in user."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    described = _describe(target)
    address = request.remote_addr if has_request_context() else None
    entry = AuditEntry(
        action=str(action),
        user_id=actor.id if actor is not None else None,
        actor_login=actor.login if actor is not None else None,
        address=address[:45] if address else None,
        target_type=described.type if described else None,
        target_id=described.id if described else None,
        target_label=described.label[:255] if described else None,
        details=json.dumps(details or {}, ensure_ascii=False, default=str),  # in the order given
    )
    db.session.add(entry)
    return entry


def changes(before: dict, after: dict) -> dict:
    """What differs between two snapshots: a list as what was added and removed, a value as old and new."""
    diff = {}
    for key in [*after, *(key for key in before if key not in after)]:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, list | tuple) or isinstance(new, list | tuple):
            old, new = list(old or []), list(new or [])
            added = [item for item in new if item not in old]
            removed = [item for item in old if item not in new]
            if added or removed:  # the same entries in another order change nothing
                diff[key] = {"added": added, "removed": removed}
        else:
            diff[key] = {"old": old, "new": new}
    return diff


def prune(days: int, now: datetime | None = None) -> int:
    """Delete the entries older than ``days``; the number deleted. The caller commits."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = db.session.execute(delete(AuditEntry).where(AuditEntry.created_at < cutoff))
    return result.rowcount or 0


def _describe(target) -> Target | None:
    if target is None or isinstance(target, Target):
        return target
    if isinstance(target, User):
        return Target("user", target.id, target.login)
    if isinstance(target, Company):
        return Target("company", target.id, target.name)
    if isinstance(target, MailServer):
        # The company too: "faktury@biuro.pl (imap.biuro.pl)" may serve several.
        return Target("server", target.id, f"{target.label} · {target.company.name}")
    if isinstance(target, Document):
        return Target("document", target.id, f"{target.filename} · {target.company.name}")
    raise TypeError(f"no audit description for {target!r}")
