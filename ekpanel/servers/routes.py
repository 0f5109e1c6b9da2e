"""Mail servers of a company, on the settings page "Pobieranie dokumentów przez e-mail".

The dialog is a fragment of the company panel: htmx swaps it in, and every URL also serves the whole
page with the dialog open, so a reload lands where the administrator was.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ekpanel.access import admin_required, company_or_404, server_or_404
from ekpanel.checks.mailboxes import mailbox_access
from ekpanel.companies.models import Company
from ekpanel.extensions import db
from ekpanel.htmx import htmx_response, is_htmx, render_page_or_fragment
from ekpanel.mail.authres import propose_authserv_id as proposed_authserv_id
from ekpanel.mail.connect import list_folders, recent_authentication_results
from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.sender import topmost_authserv_ids
from ekpanel.mail.settings import MailSettings
from ekpanel.servers.forms import ServerForm
from ekpanel.servers.models import PROTOCOL_GRAPH, PROTOCOL_IMAP, MailServer
from ekpanel.servers.operations import (
    ServerValues,
    delete_server,
    find_collisions,
    folders_with,
    save_server,
    set_server_active,
)
from ekpanel.servers.rows import office_today, server_rows, settings_page_context
from ekpanel.templating import render_note

bp = Blueprint("servers", __name__, url_prefix="/settings/email")

# The folder list is the administrator's credentials test: it must answer while they wait.
FOLDER_LIST_TIMEOUT = 15.0


@bp.before_request
@admin_required
def guard():
    """Only administrators configure servers."""


# --- helpers --------------------------------------------------------------------------------


def _form_action(company: Company, server: MailServer | None) -> str:
    if server is None:
        return url_for("servers.new", company_id=company.id)
    return url_for("servers.edit", server_id=server.id)


def _dialog_context(company: Company, server: MailServer | None, form: ServerForm) -> dict:
    granted_by = server.consent_granted_by if server is not None else None
    return {
        "company": company,
        "server": server,
        "server_form": form,
        "form_action": _form_action(company, server),
        "consent_granted_by": granted_by.login if granted_by is not None else None,
    }


def _settings_page_or(fragment: str, **context):
    """``fragment`` for htmx; otherwise the settings page with the company's panel, showing it."""
    if not is_htmx():
        context = settings_page_context(context["company"]) | context
    return render_page_or_fragment("companies/settings.html", fragment, **context)


def _render_dialog(company: Company, server: MailServer | None, form: ServerForm):
    return _settings_page_or("servers/_dialog.html", **_dialog_context(company, server, form))


def _render_panel(company: Company, push_url: str, dialog: dict | None = None):
    """The whole company panel (rows and, when given, a dialog) replacing the one on the page, and the
    company list out of band, since its warnings may have changed."""
    context = settings_page_context(company) | (dialog or {})
    body = render_template("servers/_panel_update.html", **context)
    return htmx_response(body, retarget="#company-panel", reswap="outerHTML", push_url=push_url)


def _values(form: ServerForm) -> ServerValues:
    return ServerValues(
        protocol=form.protocol.data,
        whitelist=form.whitelist_entries,
        folders=form.folder_names,
        active=form.active.data,
        secret=form.secret,
        host=form.host.data,
        port=form.effective_port,
        encryption=form.encryption.data,
        username=form.username.data,
        name=form.name.data,
        client_id=form.client_id.data,
        tenant=form.tenant.data,
        mailbox_address=form.mailbox_address.data,
        secret_expires_on=form.secret_expires_on.data,
        sender_policy=form.sender_policy.data,
        authserv_id=form.authserv_id.data,
    )


def _flash_collisions(server: MailServer) -> bool:
    """Warn about other companies' servers that would take the same messages; True if any."""
    collisions = find_collisions(server)
    for collision in collisions:
        pairs = ", ".join(f"{mine} / {theirs}" for mine, theirs in collision.entries)
        flash(
            _(
                "Uwaga: firma %(company)s ma serwer %(server)s na tej samej skrzynce (foldery: "
                "%(folders)s), a jej biała lista dopuszcza tych samych nadawców (%(entries)s). "
                "Wiadomość pobierze ta firma, której serwer zostanie sprawdzony pierwszy.",
                company=collision.company.name,
                server=collision.server.label,
                folders=", ".join(collision.folders),
                entries=pairs,
            ),
            "warning",
        )
    return bool(collisions)


# --- the dialog -----------------------------------------------------------------------------


@bp.route("/companies/<int:company_id>/servers/new", methods=["GET", "POST"])
def new(company_id: int):
    company = company_or_404(company_id, include_inactive=True)
    form = ServerForm()
    if form.validate_on_submit():
        return _saved(company, save_server(None, company, _values(form)), created=True)
    return _render_dialog(company, None, form)


@bp.route("/servers/<int:server_id>/edit", methods=["GET", "POST"])
def edit(server_id: int):
    server = server_or_404(server_id)
    form = ServerForm(obj=server, stored_protocol=server.protocol)
    if form.validate_on_submit():
        return _saved(server.company, save_server(server, server.company, _values(form)), created=False)
    return _render_dialog(server.company, server, form)


def _saved(company: Company, server: MailServer, *, created: bool):
    _flash_collisions(server)
    db.session.commit()
    if created:
        flash(_("Dodano serwer %(name)s.", name=server.label), "success")
    else:
        flash(_("Zapisano serwer %(name)s.", name=server.label), "success")
    edit_url = url_for("servers.edit", server_id=server.id)
    if not is_htmx():
        return redirect(edit_url)
    # What was saved, not the request's form: that would send the typed secret back.
    form = ServerForm(formdata=None, obj=server, stored_protocol=server.protocol)
    return _render_panel(company, edit_url, _dialog_context(company, server, form))


@bp.get("/companies/<int:company_id>/servers/fields")
def protocol_fields(company_id: int):
    """The chosen protocol's fields, swapped into the open dialog; the common fields stay as typed."""
    company = company_or_404(company_id, include_inactive=True)
    protocol = request.args.get("protocol")
    if protocol not in (PROTOCOL_IMAP, PROTOCOL_GRAPH):
        abort(400)
    server = None
    server_id = request.args.get("server", type=int)
    if server_id:
        server = server_or_404(server_id)
        if server.company_id != company.id:
            abort(404)
    same = server is not None and server.protocol == protocol
    stored = server.protocol if server else None
    form = ServerForm(formdata=None, obj=server if same else None, stored_protocol=stored)
    form.protocol.data = protocol
    return render_template("servers/_protocol_fields.html", server_form=form, server=server, company=company)


# --- enable / disable / delete ----------------------------------------------------------------


@bp.post("/servers/<int:server_id>/active")
def toggle_active(server_id: int):
    server = server_or_404(server_id)
    set_server_active(server, not server.active)
    # Enabling can bring back a collision that was harmless while this server was off.
    warned = server.active and _flash_collisions(server)
    db.session.commit()
    panel_url = url_for("companies.show", company_id=server.company_id)
    if not is_htmx():
        return redirect(panel_url)
    if warned:  # the warning is shown above the rows: the whole panel, not just this row
        return _render_panel(server.company, panel_url)
    (row,) = server_rows([server], server.company, office_today())
    return render_template("servers/_server_row.html", row=row, company=server.company)


@bp.route("/servers/<int:server_id>/delete", methods=["GET", "POST"])
def delete(server_id: int):
    server = server_or_404(server_id)
    company = server.company
    if request.method == "POST":
        label = server.label
        delete_server(server)
        db.session.commit()
        flash(_("Usunięto serwer %(name)s. Pobrane z niego dokumenty pozostały.", name=label), "success")
        panel_url = url_for("companies.show", company_id=company.id)
        if not is_htmx():
            return redirect(panel_url)
        return _render_panel(company, panel_url)
    return _settings_page_or(
        "servers/_confirm_delete.html", company=company, server=server, confirm_delete=True
    )


# --- the folders that exist on the server -------------------------------------------------------


def _folder_list_settings() -> MailSettings:
    """The mail settings, with the folder list's shorter time limit."""
    settings = MailSettings.from_config(current_app.config)
    return replace(settings, imap_timeout=min(settings.imap_timeout, FOLDER_LIST_TIMEOUT))


@bp.get("/servers/<int:server_id>/remote-folders")
def remote_folders(server_id: int):
    server = server_or_404(server_id)
    folders, error = [], None
    try:
        folders = list_folders(mailbox_access(server), _folder_list_settings())
    except MailboxError as failure:
        error = render_note(failure.note)
        current_app.logger.info("folder list of server %s: %s %s", server.id, failure.code, failure.detail)
    except Exception:
        current_app.logger.exception("folder list of server %s failed unexpectedly", server.id)
        error = _(
            "Nie udało się pobrać listy folderów z powodu nieoczekiwanego błędu. "
            "Szczegóły zapisano w dzienniku."
        )
    form = ServerForm(obj=server, stored_protocol=server.protocol)
    return _settings_page_or(
        "servers/_remote_folders.html",
        **_dialog_context(server.company, server, form),
        remote_folders=folders,
        remote_error=error,
        remote_loaded=True,
    )


@bp.get("/servers/<int:server_id>/authserv-id")
def propose_authserv_id(server_id: int):
    """The authserv-id field filled in with the one on top of most of the inbox's newest messages,
    with what was seen; nothing is saved: the administrator confirms it with Zapisz."""
    server = server_or_404(server_id)
    if server.is_graph:
        abort(404)  # Exchange Online's field has no authserv-id to configure
    form = ServerForm(obj=server, stored_protocol=server.protocol)
    proposal: dict = {"error": None, "total": 0, "with_fields": 0, "count": 0, "proposed": None, "seen": ""}
    try:
        messages = recent_authentication_results(mailbox_access(server), _folder_list_settings())
    except MailboxError as failure:
        proposal["error"] = render_note(failure.note)
        current_app.logger.info("authserv-id of server %s: %s %s", server.id, failure.code, failure.detail)
    else:
        seen = topmost_authserv_ids(messages)
        proposed = proposed_authserv_id(messages)
        proposal.update(
            total=len(messages),
            with_fields=sum(1 for fields in messages if fields),
            proposed=proposed,
            count=seen.get(proposed, 0) if proposed else 0,
            seen=", ".join(f"{name} ({count})" for name, count in seen.most_common(5)),
        )
        if proposed:
            form.authserv_id.data = proposed
    return _settings_page_or(
        "servers/_authserv_field.html",
        **_dialog_context(server.company, server, form),
        authserv_proposal=proposal,
    )


@bp.post("/servers/<int:server_id>/folders-field")
def add_folder(server_id: int):
    """The Foldery IMAP field as typed, with one more folder; nothing is saved yet."""
    server = server_or_404(server_id)
    form = ServerForm(stored_protocol=server.protocol)
    form.folders.data = folders_with(request.form.get("folders"), request.form.get("add", ""))
    return render_template("servers/_folders_field.html", server_form=form)
