"""The settings page "Pobieranie dokumentów przez e-mail": companies on the left, their servers beside."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ekpanel.access import admin_required, company_or_404
from ekpanel.companies.forms import CompanyForm
from ekpanel.companies.models import Company
from ekpanel.companies.operations import NameTaken, save_company
from ekpanel.extensions import db
from ekpanel.htmx import render_page_or_fragment
from ekpanel.servers.rows import company_list_context, settings_page_context

bp = Blueprint("companies", __name__, url_prefix="/settings/email")


@bp.before_request
@admin_required
def guard():
    """Only administrators configure companies and their servers."""


@bp.get("/")
def index():
    return render_template("companies/settings.html", **settings_page_context(None))


@bp.get("/companies/<int:company_id>")
def show(company_id: int):
    company = company_or_404(company_id, include_inactive=True)
    return render_page_or_fragment(
        "companies/settings.html", "companies/_company_panel.html", **settings_page_context(company)
    )


@bp.route("/companies/new", methods=["GET", "POST"])
def new():
    form = CompanyForm()
    if form.validate_on_submit():
        try:
            company = save_company(None, name=form.name.data, nip=form.nip.data, active=form.active.data)
        except NameTaken:
            form.name.errors.append(_("Firma o tej nazwie już istnieje."))
        else:
            db.session.commit()
            flash(_("Dodano firmę %(name)s.", name=company.name), "success")
            return redirect(url_for("companies.show", company_id=company.id))
    return _form_page(None, form)


@bp.route("/companies/<int:company_id>/edit", methods=["GET", "POST"])
def edit(company_id: int):
    company = company_or_404(company_id, include_inactive=True)
    form = CompanyForm(obj=company)
    if form.validate_on_submit():
        try:
            save_company(company, name=form.name.data, nip=form.nip.data, active=form.active.data)
        except NameTaken:
            form.name.errors.append(_("Firma o tej nazwie już istnieje."))
        else:
            db.session.commit()
            flash(_("Zapisano firmę %(name)s.", name=company.name), "success")
            return redirect(url_for("companies.show", company_id=company.id))
    return _form_page(company, form)


def _form_page(company: Company | None, form: CompanyForm):
    context = company_list_context() | {"company": company, "form": form}
    return render_template("companies/company_form.html", **context)
