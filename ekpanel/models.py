"""Every table, importable from one place (Alembic and the shell use this)."""

from ekpanel.accounts.models import User, user_companies
from ekpanel.checks.models import Check, Decision
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.servers.models import FolderState, MailServer

__all__ = ["Check", "Company", "Decision", "Document", "FolderState", "MailServer", "User", "user_companies"]
