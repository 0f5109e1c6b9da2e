"""Fixtures for the alerts: a real SMTP server, the app with alerts on, and sending what is due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from ekpanel.alerts import detect
from ekpanel.alerts.delivery import deliver, due_deliveries
from ekpanel.alerts.models import AlertDelivery
from ekpanel.alerts.settings import alert_settings
from ekpanel.extensions import db
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode, Outcome
from tests.factories import make_check, make_company, make_imap_server, make_user
from tests.support.smtp_server import SmtpServer

BASE_URL = "https://panel.biuro.example"
MAIL_FROM = "ekpanel <panel@biuro.example>"


def alert_config(smtp: SmtpServer, **extra) -> dict:
    config = {
        "SMTP_URL": smtp.url(),
        "MAIL_FROM": MAIL_FROM,
        "BASE_URL": BASE_URL,
        "CA_BUNDLE": str(smtp.ca_path),
        "SMTP_TIMEOUT": 5,
        "TIMEZONE": "Europe/Warsaw",
        "DIGEST_TIME": "07:00",
    }
    config.update(extra)
    return config


def alert_env(smtp: SmtpServer) -> dict[str, str]:
    """The same settings for worker.py and schedule.py."""
    return {
        "EKPANEL_SMTP_URL": smtp.url(),
        "EKPANEL_MAIL_FROM": MAIL_FROM,
        "EKPANEL_BASE_URL": BASE_URL,
        "EKPANEL_CA_BUNDLE": str(smtp.ca_path),
    }


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """STARTTLS on the test's own CA, a login required; every accepted message in ``received``."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def alerts_app(app, smtp_server):
    """``app`` (SQLite and PostgreSQL) with alerts on, sending to ``smtp_server``."""
    app.config.update(alert_config(smtp_server))
    return app


def send_due(now: datetime | None = None) -> list[str | None]:
    """Send every delivery due at ``now``, in this process, as the jobs would; their states."""
    return [deliver(delivery_id, now) for delivery_id in due_deliveries(now)]


ADMIN = "admin@biuro.example"


def one_failure_alert(app) -> AlertDelivery:
    """A failing mailbox announced to one administrator: one delivery, not sent yet."""
    make_user("admin", admin=True, email=ADMIN)
    server = make_imap_server(make_company("Firma X"), host="imap.firma-x.pl", username="faktury@firma-x.pl")
    make_check(
        server, outcome=Outcome.FAILED, error_code=ErrorCode.AUTH_FAILED, error=note(Text.IMAP_AUTH_FAILED)
    )
    (delivery_id,) = detect.evaluate_server(alert_settings(app.config), server.id)
    return db.session.get(AlertDelivery, delivery_id)
