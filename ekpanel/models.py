"""Every table, importable from one place (Alembic and the shell use this)."""

from ekpanel.accounts.models import User, user_companies
from ekpanel.checks.models import Check, Decision, FolderState
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.servers.models import MailServer

__all__ = ["Check", "Company", "Decision", "Document", "FolderState", "MailServer", "User", "user_companies"]
