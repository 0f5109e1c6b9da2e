"""Changing documents: plain functions over models; the caller commits."""

from __future__ import annotations

from ekpanel.documents.models import STATUS_NEW, STATUS_REGISTERED, Document
from ekpanel.timeutil import utcnow


def set_status(documents: list[Document], status: str, user) -> list[Document]:
    """Mark ``documents`` *Nowy* or *Zarejestrowany*, recording who and when.

    Returns the documents whose status really changed: undoing the change means setting the
    other status on exactly these, so documents that already had ``status`` are left as they were.
    """
    if status not in (STATUS_NEW, STATUS_REGISTERED):
        raise ValueError(f"unknown document status: {status!r}")
    changed = [d for d in documents if d.status != status]
    now = utcnow()
    for document in changed:
        document.status = status
        document.status_changed_at = now
        document.status_changed_by_id = user.id
    return changed
