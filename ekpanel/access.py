"""Who may do what. Enforced here, on the server; templates only hide what would be refused."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from ekpanel.companies.models import Company
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer


def admin_required(view):
    """Administrator pages answer 403 to everybody else."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def refresh_right_required(view):
    """The right "Przekazane dokumenty - e-mail (odświeżenie)"; administrators hold it."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.may_refresh:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def visible_companies(user, *, include_inactive: bool = False) -> list[Company]:
    """The companies ``user`` works on, by name; administrators see all of them."""
    query = select(Company).order_by(Company.name)
    if not include_inactive:
        query = query.where(Company.active.is_(True))
    if not user.is_admin:
        query = query.where(Company.id.in_([c.id for c in user.companies]))
    return list(db.session.scalars(query))


def company_or_404(company_id: int, *, include_inactive: bool = False) -> Company:
    """The company, if the current user may see it; 404 otherwise, so its existence is not revealed."""
    company = db.session.get(Company, company_id)
    if company is None or not current_user.may_see_company(company_id):
        abort(404)
    if not company.active and not (include_inactive and current_user.is_admin):
        abort(404)
    return company


def server_or_404(server_id: int) -> MailServer:
    """A mail server to configure: its company must be one the user may see, inactive ones included."""
    server = db.session.get(MailServer, server_id)
    if server is None:
        abort(404)
    company_or_404(server.company_id, include_inactive=True)
    return server
