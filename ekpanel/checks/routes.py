"""Check history: per server, every check and every message it examined, with the reason.

Administrators see every server; operators with the refresh right see their companies' servers.
Someone who may not see the company gets 404 (its existence stays hidden); an operator of the
company without the right gets 403.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ekpanel import audit
from ekpanel.access import company_or_404
from ekpanel.audit.actions import Action
from ekpanel.checks import held, queries, sender_exceptions
from ekpanel.checks.forms import DecisionSearchForm
from ekpanel.checks.models import Check, Decision, HeldMessage
from ekpanel.checks.status import enabled_servers
from ekpanel.extensions import db
from ekpanel.htmx import render_page_or_fragment
from ekpanel.redirects import local_path
from ekpanel.servers.models import MailServer

bp = Blueprint("checks", __name__)


def _history_company_or_404(company_id: int):
    company = company_or_404(company_id, include_inactive=True)
    if not current_user.may_refresh:
        abort(403)
    return company


def _history_server_or_404(server_id: int) -> MailServer:
    server = db.session.get(MailServer, server_id)
    # Operators do not see a disabled server on the company page; its id must not open it either.
    if server is None or (not server.active and not current_user.is_admin):
        abort(404)
    _history_company_or_404(server.company_id)
    return server


@bp.get("/companies/<int:company_id>/checks")
def company_history(company_id: int):
    """The company's servers, each with its last check and a link to its history."""
    company = _history_company_or_404(company_id)
    servers = company.servers if current_user.is_admin else enabled_servers(company.id)
    summaries = queries.last_check_summaries([server.id for server in servers])
    rows = [(server, summaries[server.id]) for server in servers]
    return render_template("checks/company.html", company=company, rows=rows)


@bp.get("/servers/<int:server_id>/checks")
def server_history(server_id: int):
    """A server's checks, newest first, and a search of its decisions by sender or subject."""
    server = _history_server_or_404(server_id)
    form = DecisionSearchForm(formdata=request.args)
    form.validate()
    text = form.text()
    found = queries.server_decisions(server.id, text) if text else None
    before_id = request.args.get("before", type=int)
    checks = queries.server_checks(server.id, before_id=before_id)
    older_url = None
    if len(checks) > queries.CHECKS_PAGE:
        checks = checks[: queries.CHECKS_PAGE]
        older_url = url_for("checks.server_history", server_id=server.id, before=checks[-1].id)
    found_more = found is not None and len(found) > queries.DECISIONS_PAGE
    sender_skips = queries.sender_skips(server.id)
    return render_page_or_fragment(
        "checks/server.html",
        "checks/_server_search.html",
        server=server,
        company=server.company,
        form=form,
        checks=checks,
        older_url=older_url,
        found=found[: queries.DECISIONS_PAGE] if found is not None else None,
        found_more=found_more,
        summary=queries.last_check_summary(server.id),
        held_messages=held.needing_person(server.id),
        sender_skips=sender_skips,
        allowances=_allowances(server.id, sender_skips + (found or [])),
    )


def _allowances(server_id: int, decisions: list[Decision]) -> dict:
    """Message key -> the SenderException of each shown decision "Wymagaj" skipped."""
    keys = {d.message_key for d in decisions if sender_exceptions.may_allow(d)}
    return sender_exceptions.for_keys(server_id, keys)


@bp.post("/servers/<int:server_id>/decisions/<int:decision_id>/allow")
def allow_anyway(server_id: int, decision_id: int):
    """*Pobierz mimo to*: an administrator lets in, once, one message that "Wymagaj" kept out; the
    next check takes it and its documents record who allowed it."""
    server = _history_server_or_404(server_id)
    if not current_user.is_admin:
        abort(403)
    decision = db.session.get(Decision, decision_id)
    if decision is None or decision.server_id != server.id or not sender_exceptions.may_allow(decision):
        abort(404)
    exception = sender_exceptions.allow(decision, current_user.id)
    if exception is None:
        flash(_("Tę wiadomość już dopuszczono."), "warning")
    else:
        audit.record(
            Action.MESSAGE_ALLOWED_ANYWAY,
            target=server,
            details={
                "folder": decision.folder,
                "sender": decision.sender,
                "subject": decision.subject,
                "verification": decision.reason,
            },
        )
        db.session.commit()
        flash(
            _(
                "Wiadomość „%(subject)s” zostanie pobrana przy następnym sprawdzeniu skrzynki.",
                subject=decision.subject or "",
            ),
            "success",
        )
    back = local_path(request.form.get("next")) or url_for("checks.show", check_id=decision.check_id)
    return redirect(f"{back.split('#')[0]}#decision-{decision.id}")


@bp.post("/servers/<int:server_id>/held/<int:held_id>/retry")
def retry_held(server_id: int, held_id: int):
    """An administrator sends a message "do wyjaśnienia" for one more try by the next check."""
    server = _history_server_or_404(server_id)
    if not current_user.is_admin:
        abort(403)
    message = db.session.get(HeldMessage, held_id)
    if message is None or message.server_id != server.id:
        abort(404)
    held.request_retry(message)
    audit.record(
        Action.MESSAGE_RETRY_REQUESTED,
        target=server,
        details={"folder": message.folder_display, "sender": message.sender, "subject": message.subject},
    )
    db.session.commit()
    flash(_("Wiadomość zostanie sprawdzona ponownie przy następnym sprawdzeniu skrzynki."), "success")
    return redirect(url_for("checks.server_history", server_id=server.id) + "#held-messages")


@bp.get("/checks/<int:check_id>")
def show(check_id: int):
    """One check: its counts and every message it examined, searchable by sender or subject."""
    check = db.session.get(Check, check_id)
    if check is None:
        abort(404)
    server = _history_server_or_404(check.server_id)
    form = DecisionSearchForm(formdata=request.args)
    form.validate()
    text = form.text()
    after_id = request.args.get("after", type=int)
    decisions = queries.check_decisions(check.id, text, after_id=after_id)
    next_url = None
    if len(decisions) > queries.DECISIONS_PAGE:
        decisions = decisions[: queries.DECISIONS_PAGE]
        args = {"q": text} if text else {}
        next_url = url_for("checks.show", check_id=check.id, after=decisions[-1].id, **args)
    return render_page_or_fragment(
        "checks/check.html",
        "checks/_decisions.html",
        check=check,
        server=server,
        company=server.company,
        form=form,
        decisions=decisions,
        next_url=next_url,
        allowances=_allowances(server.id, decisions),
    )
