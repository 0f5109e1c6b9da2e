"""Company operations; the caller commits."""

from __future__ import annotations

from sqlalchemy import func, select

from ekpanel import audit
from ekpanel.audit import Action
from ekpanel.companies.models import Company
from ekpanel.companies.nip import normalise_nip
from ekpanel.extensions import db


class NameTaken(ValueError):
    pass


def save_company(company: Company | None, *, name: str, nip: str | None, active: bool = True) -> Company:
    """Create (``company`` None) or update a company; names are unique regardless of case."""
    name = " ".join(name.split())
    clash = db.session.scalar(select(Company).where(func.lower(Company.name) == name.lower()))
    if clash is not None and clash is not company:
        raise NameTaken(name)
    before = _company_snapshot(company) if company is not None else None
    if company is None:
        company = Company()
        db.session.add(company)
    company.name = name
    company.nip = normalise_nip(nip) if nip and nip.strip() else None
    company.active = active
    db.session.flush()
    if before is None:
        audit.record(Action.COMPANY_CREATED, target=company, details=_company_snapshot(company))
    elif diff := audit.changes(before, _company_snapshot(company)):
        audit.record(Action.COMPANY_CHANGED, target=company, details=diff)
    return company


def _company_snapshot(company: Company) -> dict:
    return {"name": company.name, "nip": company.nip, "active": bool(company.active)}
