"""Logging in and out, and the user's own page: password, language, "Wyloguj ze wszystkich urządzeń"."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_required

from ekpanel.accounts.forms import LanguageForm, LoginForm, PasswordChangeForm
from ekpanel.accounts.operations import authenticate, change_own_password, end_all_sessions
from ekpanel.accounts.sessions import end_session, start_session
from ekpanel.extensions import db, limiter
from ekpanel.redirects import redirect_local

bp = Blueprint("accounts", __name__)

# Failed attempts only (a success costs nothing), counted in Redis and shared by every web process.
# Per login name, so guessing one account's password from many addresses is slow; per address, so one
# client trying many names is too. One office behind one NAT address shares the per-address count.
LOGIN_LIMIT_PER_NAME = "5 per minute; 20 per hour"
LOGIN_LIMIT_PER_ADDRESS = "20 per minute; 100 per hour"
PASSWORD_CHANGE_LIMIT = "5 per minute; 20 per hour"


def _attempt_failed(_response) -> bool:
    return g.get("attempt_failed", False)


def _login_name_key() -> str:
    return "login-name:" + (request.form.get("login") or "").strip().lower()


def _login_address_key() -> str:
    return f"login-address:{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT_PER_NAME, key_func=_login_name_key, methods=["POST"], deduct_when=_attempt_failed)
@limiter.limit(
    LOGIN_LIMIT_PER_ADDRESS, key_func=_login_address_key, methods=["POST"], deduct_when=_attempt_failed
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("documents.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.login.data, form.password.data)
        if user is None:
            g.attempt_failed = True
            form.password.errors.append(_("Nieprawidłowy login lub hasło, albo konto jest nieaktywne."))
            db.session.commit()  # the failed attempt's audit entry
        else:
            start_session(user)
            db.session.commit()
            return redirect_local(request.args.get("next"), url_for("documents.index"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    end_session()
    db.session.commit()
    return redirect(url_for("accounts.login"))


@bp.get("/account")
@login_required
def account():
    return render_template("accounts/account.html", form=PasswordChangeForm())


@bp.post("/account/password")
@login_required
@limiter.limit(
    PASSWORD_CHANGE_LIMIT, key_func=lambda: f"password:{current_user.id}", deduct_when=_attempt_failed
)
def change_password():
    """A new password, with the current one; the user's other devices are logged out, this one stays."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current_password.data):
            g.attempt_failed = True
            form.current_password.errors.append(_("Obecne hasło jest nieprawidłowe."))
        else:
            user = current_user._get_current_object()
            change_own_password(user, form.new_password.data)
            start_session(user)  # this device: a new session under the new session version
            db.session.commit()
            flash(_("Zmieniono hasło. Pozostałe urządzenia zostały wylogowane."), "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/account.html", form=form)


@bp.post("/account/sessions/end")
@login_required
def end_sessions():
    """Wyloguj ze wszystkich urządzeń: this one included."""
    end_all_sessions(current_user._get_current_object())
    end_session()
    db.session.commit()
    flash(_("Wylogowano ze wszystkich urządzeń."), "success")
    return redirect(url_for("accounts.login"))


@bp.post("/account/language")
@login_required
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        current_user.language = form.language.data
        db.session.commit()
        flash(_("Zmieniono język."), "success")
    return redirect_local(request.form.get("next"), url_for("documents.index"))


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(error):
    """Refused before the password is even looked at; the page says when trying is possible again."""
    retry_at = _retry_at()
    time_text = _minute_after(retry_at).strftime("%H:%M")
    if request.endpoint == "accounts.change_password":
        message = _(
            "Zbyt wiele prób z nieprawidłowym obecnym hasłem. Spróbuj ponownie o %(time)s.", time=time_text
        )
        page = render_template("accounts/account.html", form=PasswordChangeForm(), throttled=message)
    elif request.endpoint == "accounts.login":
        message = _("Zbyt wiele nieudanych prób logowania. Spróbuj ponownie o %(time)s.", time=time_text)
        page = render_template("accounts/login.html", form=LoginForm(), throttled=message)
    else:
        page = render_template("errors/error.html", status=429)
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_at.timestamp() - time.time())))
    return response


def _retry_at() -> datetime:
    """When every limit this request broke allows again, in the office's time zone."""
    # The window's own reset time: ``reset_at`` is rounded up to the next whole second.
    resets = [limit.window.reset_time for limit in limiter.current_limits if limit.breached]
    stamp = max(resets, default=time.time() + 60)
    return datetime.fromtimestamp(stamp, ZoneInfo(current_app.config["TIMEZONE"]))


def _minute_after(moment: datetime) -> datetime:
    """Rounded up to the minute: at 14:32 trying works, where 14:31 might still be refused."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)
