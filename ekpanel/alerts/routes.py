"""Alerts in the panel: each person's choices (Moje konto), and for administrators the list of sent
alerts, whether alerts are on, and "Wyślij wiadomość testową"."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ekpanel import audit
from ekpanel.access import admin_required
from ekpanel.alerts import settings as alert_config
from ekpanel.alerts.events import queue_test_message
from ekpanel.alerts.forms import PreferencesForm, TestMessageForm
from ekpanel.alerts.jobs import enqueue_deliveries
from ekpanel.alerts.models import PENDING, SENDING, AlertDelivery
from ekpanel.alerts.recipients import choose_topics, wanted_topics
from ekpanel.alerts.texts import render_failure
from ekpanel.alerts.topics import TOPIC_LABELS, EventKind, Topic, available_topics, kind_label
from ekpanel.extensions import db
from ekpanel.htmx import render_page_or_fragment
from ekpanel.timeutil import utcnow

bp = Blueprint("alerts", __name__)

PAGE_SIZE = 100
# A test message still queued after this long has no worker to send it: the page says so and stops asking.
TEST_WAIT = timedelta(seconds=60)


# --- Moje konto -----------------------------------------------------------------------------------


@bp.route("/account/alerts", methods=["GET", "POST"])
@login_required
def preferences():
    """The address alerts go to and which ones; a card of Moje konto, or a page of its own."""
    user = current_user._get_current_object()
    form = PreferencesForm()
    form.topics.choices = [(str(topic), TOPIC_LABELS[topic]) for topic in available_topics(user.is_admin)]
    if not form.is_submitted():
        form.email.data = user.email
        form.topics.data = [str(topic) for topic in wanted_topics(user)]
    if form.validate_on_submit():
        before = {"email": user.email or "", "topics": sorted(wanted_topics(user))}
        user.email = (form.email.data or "").strip() or None
        choose_topics(user, {Topic(value) for value in form.topics.data or []})
        db.session.flush()
        after = {"email": user.email or "", "topics": sorted(wanted_topics(user))}
        if before != after:
            audit.record(audit.Action.ALERTS_CHANGED, target=user, details=audit.changes(before, after))
        db.session.commit()
        flash(_("Zapisano ustawienia powiadomień."), "success")
        return redirect(url_for("accounts.account"))
    return render_page_or_fragment(
        "alerts/preferences.html",
        "alerts/_preferences.html",
        form=form,
        alerts_on=alert_config.alerts_on(current_app.config),
    )


# --- Panel administratora -------------------------------------------------------------------------


@bp.get("/admin/alerts")
@admin_required
def sent():
    """Every alert sent or waiting: to whom, when, which event, and whether it was delivered."""
    before_id = request.args.get("before", type=int)
    query = select(AlertDelivery).options(joinedload(AlertDelivery.event), joinedload(AlertDelivery.user))
    if before_id is not None:
        query = query.where(AlertDelivery.id < before_id)
    deliveries = list(db.session.scalars(query.order_by(AlertDelivery.id.desc()).limit(PAGE_SIZE + 1)))
    older_url = None
    if len(deliveries) > PAGE_SIZE:
        deliveries = deliveries[:PAGE_SIZE]
        older_url = url_for("alerts.sent", before=deliveries[-1].id)
    return render_page_or_fragment(
        "alerts/sent.html",
        "alerts/_deliveries.html",
        deliveries=deliveries,
        older_url=older_url,
        test_form=TestMessageForm(address=current_user.email),
        **_status(),
    )


@bp.post("/admin/alerts/test")
@admin_required
def send_test():
    """Queue a test message (a worker sends it, never this request); the answer polls its result."""
    form = TestMessageForm()
    settings = alert_config.alert_settings(current_app.config)
    delivery = None
    if settings is not None and form.validate_on_submit():
        delivery = queue_test_message(settings, current_user._get_current_object(), form.address.data)
        enqueue_deliveries([delivery.id])
    return render_page_or_fragment(
        "alerts/test_page.html", "alerts/_test_result.html", test_form=form, delivery=delivery, **_status()
    )


@bp.get("/admin/alerts/test/<int:delivery_id>")
@admin_required
def test_result(delivery_id: int):
    delivery = db.session.get(AlertDelivery, delivery_id)
    if delivery is None or delivery.event.kind != EventKind.TEST:
        abort(404)
    return render_page_or_fragment(
        "alerts/test_page.html",
        "alerts/_test_result.html",
        test_form=TestMessageForm(address=delivery.address),
        delivery=delivery,
        **_status(),
    )


def _status() -> dict:
    config = current_app.config
    settings = alert_config.alert_settings(config)
    return {
        "settings": settings,
        "problems": alert_config.problems(config),
        "waiting_states": (PENDING, SENDING),
        "stale_before": utcnow() - TEST_WAIT,
    }


@bp.app_template_filter("smtp_failure")
def smtp_failure(stored) -> str:
    return render_failure(stored)


@bp.app_template_filter("alert_kind")
def alert_kind(kind: str) -> str:
    return kind_label(kind)
