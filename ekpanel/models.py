"""Every table, importable from one place (Alembic and the shell use this)."""

from ekpanel.accounts.models import EndedSession, User, user_companies
from ekpanel.alerts.models import AlertChoice, AlertDelivery, AlertEvent, AlertKey
from ekpanel.audit.models import AuditEntry
from ekpanel.checks.models import Check, Decision, FolderState, HeldMessage
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.servers.models import MailServer

__all__ = [
    "AlertChoice",
    "AlertDelivery",
    "AlertEvent",
    "AlertKey",
    "AuditEntry",
    "Check",
    "Company",
    "Decision",
    "Document",
    "EndedSession",
    "FolderState",
    "HeldMessage",
    "MailServer",
    "User",
    "user_companies",
]
