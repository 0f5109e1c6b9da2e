"""Logging in and out, and the user's own language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ekpanel.accounts.forms import LanguageForm, LoginForm
from ekpanel.accounts.operations import authenticate
from ekpanel.extensions import db

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an absolute URL in ?next= would be an open redirect.
    if target and not urlsplit(target).netloc and target.startswith("/"):
        return target
    return url_for("documents.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("documents.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.login.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Nieprawidłowy login lub hasło, albo konto jest nieaktywne."))
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.post("/account/language")
@login_required
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        current_user.language = form.language.data
        db.session.commit()
        flash(_("Zmieniono język."), "success")
    return redirect(_safe_next(request.form.get("next")))
