"""Panel administratora: create, edit and deactivate operators, their companies and rights; end a
user's sessions; read Dziennik zmian (the audit log)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ekpanel.access import admin_required, visible_companies
from ekpanel.accounts.models import User
from ekpanel.accounts.operations import (
    LoginTaken,
    UserValues,
    create_user,
    end_all_sessions,
    find_user,
    update_user,
)
from ekpanel.accounts.sessions import end_session, start_session
from ekpanel.admin.forms import AuditSearchForm, UserForm
from ekpanel.audit import queries as audit_queries
from ekpanel.audit.display import audit_rows
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
    all_users = db.session.scalars(
        select(User).options(selectinload(User.companies)).order_by(User.is_admin.desc(), User.login)
    ).all()
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
                    companies=_chosen_companies(form),
                    email=(form.email.data or "").strip() or None,
                )
            except LoginTaken:
                form.login.errors.append(_("Taki login już istnieje."))
            else:
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
            update_user(user, _user_values(form))
            if user.id == current_user.id and form.password.data:
                start_session(user)  # their own new password: this device stays logged in
            db.session.commit()
            flash(_("Zapisano użytkownika %(login)s.", login=user.login), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.post("/users/<int:user_id>/sessions/end")
def end_user_sessions(user_id: int):
    """Wyloguj ze wszystkich urządzeń, for any user (a lost laptop, a password seen by someone)."""
    user = db.session.get(User, user_id) or abort(404)
    end_all_sessions(user)
    if user.id == current_user.id:
        end_session()
        db.session.commit()
        flash(_("Wylogowano ze wszystkich urządzeń."), "success")
        return redirect(url_for("accounts.login"))
    db.session.commit()
    flash(_("Wylogowano użytkownika %(login)s ze wszystkich urządzeń.", login=user.login), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.get("/audit")
def audit_log():
    """Dziennik zmian: newest first, searchable; an older page through ``before``."""
    form = AuditSearchForm(formdata=request.args)
    form.validate()
    entries = audit_queries.search(
        form.filters(), current_app.config["TIMEZONE"], before_id=request.args.get("before", type=int)
    )
    older_url = None
    if len(entries) > audit_queries.PAGE_SIZE:
        entries = entries[: audit_queries.PAGE_SIZE]
        args = {k: v for k, v in request.args.items() if k != "before" and v}
        older_url = url_for("admin.audit_log", before=entries[-1].id, **args)
    return render_template(
        "admin/audit.html",
        form=form,
        rows=audit_rows(entries),
        older_url=older_url,
    )


def _user_values(form: UserForm) -> UserValues:
    return UserValues(
        login=form.login.data,
        is_admin=form.is_admin.data,
        can_refresh=form.can_refresh.data,
        active=form.active.data,
        language=form.language.data,
        companies=_chosen_companies(form),
        password=form.password.data or "",
        email=form.email.data or "",
    )


def _chosen_companies(form: UserForm) -> list[Company]:
    ids = form.companies.data or []
    return list(db.session.scalars(select(Company).where(Company.id.in_(ids)))) if ids else []
