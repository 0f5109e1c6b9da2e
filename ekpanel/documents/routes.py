"""Przekazane dokumenty - e-mail: the documents taken for each company the user works on."""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from redis.exceptions import RedisError

from ekpanel.access import company_or_404, refresh_right_required, visible_companies
from ekpanel.checks import status
from ekpanel.checks.models import TRIGGER_REFRESH
from ekpanel.checks.queue import enqueue_check
from ekpanel.documents import export, queries, warnings
from ekpanel.documents.forms import FilterForm, StatusForm
from ekpanel.documents.models import STATUS_NEW, STATUS_REGISTERED, Document
from ekpanel.documents.operations import set_status
from ekpanel.documents.storage import pdf_path
from ekpanel.extensions import db, limiter
from ekpanel.htmx import htmx_response, is_htmx, render_page_or_fragment
from ekpanel.mail.authres import SenderCheck
from ekpanel.mail.sender import verdict_note
from ekpanel.mail.texts import Note
from ekpanel.redirects import local_path, redirect_local
from ekpanel.timeutil import utcnow

bp = Blueprint("documents", __name__)
log = logging.getLogger(__name__)

REFRESH_LIMIT = "1 per minute"
LIST_ARGS = (
    "q",
    "date_from",
    "date_to",
    "status",
    "warnings",
    "verdict",
)  # kept by a list URL besides its cursor

# What the PDF says, in the reader's language (ekpanel.documents.warnings).
bp.add_app_template_filter(warnings.stored_warnings, "document_warnings")
bp.add_app_template_filter(warnings.badge_text, "warning_badge")
bp.add_app_template_filter(warnings.line_text, "warning_line")
bp.add_app_template_filter(warnings.failure_text, "reading_failure")
bp.add_app_template_filter(warnings.format_account, "account")


@bp.get("/")
def index():
    companies = visible_companies(current_user)
    if len(companies) == 1:
        return redirect(url_for("documents.company_documents", company_id=companies[0].id))
    return render_template("documents/index.html", company=None, **_company_list(companies))


@bp.get("/companies/<int:company_id>/documents")
def company_documents(company_id: int):
    company = company_or_404(company_id)
    context = _list_context(company, request.args)
    if not is_htmx():
        context.update(_company_list())
        if current_user.may_refresh:
            context.update(_running_checks_panel(company))
    elif request.args.get("highlight"):
        # The reload after a refresh brought new documents: the new-document counts change too.
        context.update(_company_list(), companies_oob=True)
    return render_page_or_fragment("documents/index.html", "documents/_documents.html", **context)


@bp.post("/companies/<int:company_id>/documents/status")
def change_status(company_id: int):
    """Mark the selected documents (or one) *Nowy* / *Zarejestrowany*; the answer offers to undo it."""
    company = company_or_404(company_id)
    form = StatusForm()
    if not form.validate_on_submit():
        notice = {
            "text": _("Nie udało się zmienić statusu. Odśwież stronę i spróbuj ponownie."),
            "undo": None,
        }
    elif not form.ids.data:
        notice = {"text": _("Nie zaznaczono żadnego dokumentu."), "undo": None}
    else:
        documents = queries.company_documents_by_id(company.id, form.ids.data)
        changed = set_status(documents, form.status.data, current_user)
        db.session.commit()
        notice = _status_notice(changed, form.status.data)
    context = _list_context(company, request.args, notice=notice)
    if is_htmx():
        return render_template("documents/_documents.html", companies_oob=True, **_company_list(), **context)
    flash(notice["text"], "success" if notice["undo"] else "warning")
    return redirect_local(request.args.get("next"), context["list_url"])


def _status_notice(changed: list[Document], status: str) -> dict:
    # "Label: number" reads right in Polish for every number, without plural forms.
    if status == STATUS_REGISTERED:
        text = _("Oznaczono jako zarejestrowane: %(num)d.", num=len(changed))
    else:
        text = _("Oznaczono jako nowe: %(num)d.", num=len(changed))
    undo = None
    if changed:
        undo = {
            "ids": [d.id for d in changed],
            "status": STATUS_NEW if status == STATUS_REGISTERED else STATUS_REGISTERED,
        }
    return {"text": text, "undo": undo}


@bp.app_template_filter("sender_check")
def sender_check(evidence: dict | None) -> SenderCheck | None:
    """A document's stored sender evidence read back; None when there is none or it cannot be read
    (written by a newer version, say): the page then shows the verdict alone."""
    if not evidence:
        return None
    try:
        return SenderCheck.from_json(evidence)
    except (KeyError, TypeError, ValueError):
        return None


@bp.app_template_filter("sender_reason")
def sender_reason(evidence: dict | None) -> Note | None:
    """What a document's sender verdict rests on, as a note for the ``note`` filter."""
    check = sender_check(evidence)
    return verdict_note(check) if check is not None else None


@bp.get("/documents/<int:document_id>")
def show(document_id: int):
    document = _document_or_404(document_id)
    changed_by = document.status_changed_by
    allowed_by = document.allowed_by
    return render_template(
        "documents/show.html",
        document=document,
        company=document.company,
        server_label=document.server_label or (document.server.label if document.server else ""),
        status_changed_by=changed_by.login if changed_by else None,
        sender=sender_check(document.sender_evidence),
        allowed_by=allowed_by.login if allowed_by else None,
        same_file=queries.same_file_elsewhere(document.company_id, [document]).get(document.id, []),
        back_url=_safe_back_url(request.args.get("back"), document.company_id),
    )


@bp.get("/documents/<int:document_id>/pdf")
def pdf(document_id: int):
    """The PDF inline (the browser's viewer); ``?download=1`` saves it under its original name."""
    document = _document_or_404(document_id)
    path = pdf_path(document.sha256)
    if not path.is_file():
        log.error("PDF of document %s is missing from storage: %s", document.id, path)
        abort(404)
    download = request.args.get("download") == "1"
    response = send_file(path, mimetype="application/pdf", conditional=True, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(
        document.filename, "attachment" if download else "inline"
    )
    response.cache_control.private = True
    return response


@bp.get("/companies/<int:company_id>/documents/export.<any(csv, xlsx):kind>")
def export_list(company_id: int, kind: str):
    """Eksportuj: the list as filtered (every page of it) as CSV for Polish Excel, or as XLSX."""
    company = company_or_404(company_id)
    form = FilterForm(formdata=request.args)
    form.validate()
    timezone = current_app.config["TIMEZONE"]
    documents = queries.all_documents(company.id, form.filters(), timezone=timezone)
    values = export.rows(
        documents, lambda d: url_for("documents.pdf", document_id=d.id, _external=True), timezone
    )
    name = f"dokumenty {company.name} {utcnow():%Y-%m-%d}.{kind}"
    if kind == "csv":
        chunks = (chunk.encode() for chunk in export.csv_chunks(export.headers(), values))
        response = current_app.response_class(stream_with_context(chunks), mimetype=export.CSV_MIMETYPE)
    else:
        data = export.xlsx_bytes(export.headers(), values, company.name)
        response = current_app.response_class(data, mimetype=export.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(name, "attachment")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


# --- Odśwież -----------------------------------------------------------------------------------


def _refresh_key() -> str:
    """One refresh per company per minute per user."""
    return f"refresh:{current_user.id}:{request.view_args['company_id']}"


@bp.post("/companies/<int:company_id>/refresh")
@refresh_right_required
@limiter.limit(REFRESH_LIMIT, key_func=_refresh_key, deduct_when=lambda response: response.status_code < 400)
def refresh(company_id: int):
    """Check each enabled server of the company now; answer with the progress panel that polls.

    Refused (403, 404) requests do not use up the limit: only answers below 400 count.
    """
    company = company_or_404(company_id)
    since = utcnow()
    servers = status.enabled_servers(company.id)
    if not servers:
        return _refresh_answer(
            company, since, _("Ta firma nie ma żadnego włączonego serwera poczty."), "warning"
        )
    error = _enqueue_checks(servers)
    if error:
        return _refresh_answer(company, since, error, "error")
    return _refresh_answer(company, since, None, "success")


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error):
    """A second refresh within the minute: the message in the progress panel, still showing the checks.

    It stays a 429; the refresh form tells htmx to swap it (htmx leaves 4xx answers unswapped otherwise).
    """
    if request.endpoint != "documents.refresh":
        return render_template("errors/error.html", status=429), 429
    company = company_or_404(request.view_args["company_id"])
    message = _("Odświeżenie tej firmy można zlecić raz na minutę. Spróbuj ponownie za chwilę.")
    return _refresh_answer(company, utcnow(), message, "warning", status=429)


def _refresh_answer(company, since: datetime, message: str | None, category: str, *, status: int = 200):
    """For htmx the progress panel (with the message, if any); without JavaScript, back to the list."""
    if is_htmx():
        return _progress_response(company, since, message=message, status=status)
    flash(message or _("Zlecono sprawdzenie skrzynek pocztowych."), category)
    return redirect(url_for("documents.company_documents", company_id=company.id))


@bp.get("/companies/<int:company_id>/refresh/progress")
@refresh_right_required
def refresh_progress(company_id: int):
    """The progress panel; once every server is done it stops the polling (286) and tells the list."""
    company = company_or_404(company_id)
    since = queries.decode_stamp(request.args.get("since")) or utcnow()
    return _progress_response(company, since)


def _enqueue_checks(servers) -> str | None:
    """Enqueue a refresh check per server; a Polish message if the queue cannot be reached."""
    try:
        for server in servers:
            enqueue_check(server.id, TRIGGER_REFRESH, user_id=current_user.id)
    except RedisError:
        log.exception("cannot enqueue refresh checks")
        return _("Nie można teraz zlecić sprawdzenia: kolejka zadań jest niedostępna.")
    return None


def _progress(company, message: str | None) -> tuple[list, str | None]:
    try:
        return [status.server_progress(server) for server in status.enabled_servers(company.id)], message
    except RedisError:
        log.exception("cannot read refresh progress")
        return [], message or _("Nie można odczytać postępu: kolejka zadań jest niedostępna.")


def _progress_context(company, since: datetime, progress: list, message: str | None, *, announce: bool):
    return {
        "company": company,
        "progress": progress,
        "running": any(p.running for p in progress),
        "since_stamp": queries.encode_stamp(since),
        "message": message,
        "announce": announce or message is not None,
    }


def _progress_response(company, since: datetime, *, message: str | None = None, status: int = 200):
    """The panel. Messages go beside it (out of band), so the polls that follow do not wipe them out."""
    progress, message = _progress(company, message)
    announce = request.method == "POST"  # a click clears the previous click's message
    context = _progress_context(company, since, progress, message, announce=announce)
    body = render_template("documents/_refresh_progress.html", **context)
    if status == 200 and progress and not context["running"]:
        # Stop the polling; the event makes the list reload and highlight what came in.
        since_stamp = queries.encode_stamp(since)
        return htmx_response(body, stop_polling=True, trigger={"documents-refreshed": {"since": since_stamp}})
    return htmx_response(body, status=status)


def _running_checks_panel(company) -> dict:
    """On a page (re)load while the company's checks run, their progress panel, polling."""
    progress, _message = _progress(company, None)
    if not any(p.running for p in progress):
        return {}
    return _progress_context(company, utcnow(), progress, None, announce=False)


# --- helpers -----------------------------------------------------------------------------------


def _document_or_404(document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None:
        abort(404)
    company_or_404(document.company_id)  # 404 too when the user may not see the company
    return document


def _list_args(args) -> dict:
    return {name: args.get(name) for name in LIST_ARGS if args.get(name)}


def _company_list(companies: list | None = None) -> dict:
    """The companies on the left (the user's, unless given) with their new-document counts.

    A list fragment carries them only out of band, when the counts change; filtering and paging
    do without both queries.
    """
    if companies is None:
        companies = visible_companies(current_user)
    ids = [c.id for c in companies]
    return {
        "companies": companies,
        "new_counts": queries.new_counts(ids),
        "failing_companies": status.companies_with_failing_server(ids),
    }


def _list_context(company, args, *, notice: dict | None = None) -> dict:
    form = FilterForm(formdata=args)
    form.validate()
    filters = form.filters()
    page = queries.document_page(
        company.id,
        filters,
        timezone=current_app.config["TIMEZONE"],
        after=queries.Cursor.decode(args.get("after")),
        before=queries.Cursor.decode(args.get("before")),
    )
    list_args = _list_args(args)

    def page_url(**cursor) -> str:
        return url_for("documents.company_documents", company_id=company.id, **list_args, **cursor)

    cursor_args = {k: args.get(k) for k in ("after", "before") if args.get(k)}
    return {
        "company": company,
        "filter_form": form,
        "listing": page,
        "same_file": queries.same_file_elsewhere(company.id, page.documents),
        "server_labels": queries.server_labels(company.id),
        "list_url": page_url(**cursor_args),
        "first_page_url": page_url(),
        "failed_senders_url": url_for(
            "documents.company_documents", company_id=company.id, status=STATUS_NEW, verdict="failed"
        ),
        "newer_url": page_url(before=page.newer.encode()) if page.newer else None,
        "older_url": page_url(after=page.older.encode()) if page.older else None,
        "status_url": url_for("documents.change_status", company_id=company.id, **list_args, **cursor_args),
        "export_urls": {
            kind: url_for("documents.export_list", company_id=company.id, kind=kind, **list_args)
            for kind in ("csv", "xlsx")
        },
        "highlight_since": queries.decode_stamp(args.get("highlight")),
        # Part of the fragment: the list reloads after Odśwież, and the warning then goes or stays.
        "failing_servers": status.failing_servers(company.id),
        "held_messages": status.servers_with_held_messages(company.id),
        "failed_senders": queries.failed_sender_count(company.id),
        "notice": notice,
        "status_form": StatusForm(formdata=None),
    }


def _safe_back_url(value: str | None, company_id: int) -> str:
    """Back to the list the user came from, but only to a list of this panel."""
    prefix = url_for("documents.company_documents", company_id=company_id)
    if local_path(value) and value.startswith(prefix):
        return value
    return prefix


_POLISH_ASCII = str.maketrans({"ł": "l", "Ł": "L"})  # the one Polish letter NFKD does not decompose


def content_disposition(filename: str, disposition: str) -> str:
    """``inline`` / ``attachment`` with the UTF-8 name (RFC 6266/5987) and an ASCII fallback."""
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", filename).strip() or "dokument.pdf"
    ascii_name = unicodedata.normalize("NFKD", name.translate(_POLISH_ASCII))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()+-]", "_", ascii_name).strip() or "dokument.pdf"
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
