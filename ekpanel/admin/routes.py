"""Panel administratora: create, edit and deactivate operators; their companies and rights."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ekpanel.access import admin_required, visible_companies
from ekpanel.accounts.models import User
from ekpanel.accounts.operations import LoginTaken, create_user, find_user
from ekpanel.admin.forms import UserForm
from ekpanel.companies.models import Company
from ekpanel.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def guard():
    """Every page of the administrators' panel is for administrators only."""


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user)
    form.companies.choices = [(c.id, c.name) for c in visible_companies(current_user)]
    if user is not None and not form.is_submitted():
        form.companies.data = [c.id for c in user.companies]
    return form


@bp.get("/users")
def users():
    all_users = db.session.scalars(select(User).order_by(User.is_admin.desc(), User.login)).all()
    return render_template("admin/users.html", users=all_users)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _user_form()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("Podaj hasło nowego użytkownika."))
        else:
            try:
                user = create_user(
                    form.login.data,
                    form.password.data,
                    is_admin=form.is_admin.data,
                    can_refresh=form.can_refresh.data,
                    active=form.active.data,
                    language=form.language.data,
                )
            except LoginTaken:
                form.login.errors.append(_("Taki login już istnieje."))
            else:
                user.companies = _chosen_companies(form)
                db.session.commit()
                flash(_("Utworzono użytkownika %(login)s.", login=user.login), "success")
                return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = _user_form(user)
    if form.validate_on_submit():
        other = find_user(form.login.data)
        if other is not None and other.id != user.id:
            form.login.errors.append(_("Taki login już istnieje."))
        elif user.id == current_user.id and (not form.active.data or not form.is_admin.data):
            form.active.errors.append(
                _("Nie można odebrać sobie uprawnień administratora ani dezaktywować się.")
            )
        else:
            user.login = form.login.data.strip()
            if form.password.data:
                user.set_password(form.password.data)
            user.is_admin = form.is_admin.data
            user.can_refresh = form.can_refresh.data
            user.active = form.active.data
            user.language = form.language.data
            user.companies = _chosen_companies(form)
            db.session.commit()
            flash(_("Zapisano użytkownika %(login)s.", login=user.login), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


def _chosen_companies(form: UserForm) -> list[Company]:
    ids = form.companies.data or []
    return list(db.session.scalars(select(Company).where(Company.id.in_(ids)))) if ids else []
