"""Every table, importable from one place (Alembic and the shell use this)."""

from ekpanel.accounts.models import EndedSession, User, user_companies
from ekpanel.audit.models import AuditEntry
from ekpanel.checks.models import Check, Decision
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.servers.models import FolderState, MailServer

__all__ = [
    "AuditEntry",
    "Check",
    "Company",
    "Decision",
    "Document",
    "EndedSession",
    "FolderState",
    "MailServer",
    "User",
    "user_companies",
]
