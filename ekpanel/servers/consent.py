"""Admin consent for an Outlook 365 server: off to Microsoft's consent page, and back.

Microsoft sends the administrator back to ``/settings/email/consent/callback``: that address is
registered in each client's app registration and must never change.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ekpanel import audit
from ekpanel.access import admin_required, server_or_404
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from ekpanel.servers.operations import record_consent

bp = Blueprint("consent", __name__, url_prefix="/settings/email")

CONSENT_STATES = "server_consent_states"  # session key: state → server id, each used once
MAX_PENDING_CONSENTS = 5


@bp.before_request
@admin_required
def guard():
    """Only administrators give consent for a server."""


@bp.post("/servers/<int:server_id>/consent")
def start(server_id: int):
    """Send the browser to Microsoft's admin-consent page for this server's app and tenant."""
    server = server_or_404(server_id)
    if not server.is_graph or not server.client_id or not server.tenant:
        abort(404)
    state = secrets.token_urlsafe(32)
    pending = dict(session.get(CONSENT_STATES, {}))
    pending[state] = server.id
    # Only the latest few stay valid, so the session cookie does not grow without end.
    session[CONSENT_STATES] = dict(list(pending.items())[-MAX_PENDING_CONSENTS:])
    query = urlencode(
        {
            "client_id": server.client_id,
            "redirect_uri": url_for("consent.callback", _external=True),
            "state": state,
        }
    )
    login_url = current_app.config["MS_LOGIN_URL"]
    return redirect(f"{login_url}/{quote(server.tenant, safe='')}/adminconsent?{query}")


@bp.get("/consent/callback")
def callback():
    """Where Microsoft sends the administrator back: record the consent, or say why there is none."""
    state = request.args.get("state", "")
    pending = dict(session.get(CONSENT_STATES, {}))
    server_id = pending.pop(state, None) if state else None
    session[CONSENT_STATES] = pending
    server = db.session.get(MailServer, server_id) if server_id is not None else None
    error = request.args.get("error")

    if server is None:
        # Microsoft's failure redirect may come without a state; its message is still worth showing.
        message = (
            _("Microsoft odmówił zgody: %(error)s", error=_microsoft_error())
            if error
            else _("Nieprawidłowy lub już wykorzystany parametr state. Zgody nie zapisano; spróbuj ponownie.")
        )
        return render_template("servers/consent_result.html", message=message), 400

    if error or request.args.get("admin_consent", "").lower() != "true":
        audit.record(audit.Action.CONSENT_REFUSED, target=server, details={"error": _microsoft_error()})
        db.session.commit()
        flash(_("Microsoft nie udzielił zgody: %(error)s", error=_microsoft_error()), "error")
    else:
        record_consent(server, current_user.id)
        db.session.commit()
        flash(_("Zapisano zgodę administratora dla serwera %(name)s.", name=server.label), "success")
    return redirect(url_for("servers.edit", server_id=server.id))


def _microsoft_error() -> str:
    error = request.args.get("error") or _("brak odpowiedzi")
    description = request.args.get("error_description")
    return f"{error}: {description}" if description else error
