"""The outbox: a dead or refusing SMTP server delays alerts and loses none, nothing arrives twice (two
workers, a worker killed mid-send), and the test message answers with a classified, human message."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from ekpanel.alerts.delivery import deliver, due_deliveries, settle_abandoned
from ekpanel.alerts.jobs import enqueue_deliveries
from ekpanel.alerts.models import AlertDelivery
from ekpanel.checks.queue import enqueue_alert_evaluation
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow
from tests.factories import make_user
from tests.support.alerts import ADMIN, alert_config, alert_env, one_failure_alert, send_due
from tests.support.check_jobs import kill_worker, process_env, start_process, stop_process
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpServer

# The worker's lease is its own SMTP timeout's (30 s by default): 30 × 8 + 60 s.
AFTER_ANY_LEASE = timedelta(hours=1)


def reload(delivery: AlertDelivery) -> AlertDelivery:
    db.session.expire_all()
    return db.session.get(AlertDelivery, delivery.id)


def test_a_dead_smtp_server_delays_the_alert_with_backoff_and_loses_none(alerts_app, smtp_server):
    delivery = one_failure_alert(alerts_app)
    dead_port = free_port()
    alerts_app.config["SMTP_URL"] = smtp_server.url().replace(str(smtp_server.port), str(dead_port))
    start = utcnow()

    assert deliver(delivery.id, start) == "pending"
    first = reload(delivery)
    assert (first.attempts, first.last_error["code"]) == (1, "connection_refused")
    first_retry = first.next_attempt_at
    assert first_retry - start == timedelta(seconds=60)
    assert due_deliveries(start + timedelta(seconds=30)) == []  # not before its time
    assert send_due(first_retry) == ["pending"]
    second = reload(delivery)
    assert second.attempts == 2 and second.next_attempt_at - first_retry == timedelta(seconds=300)

    alerts_app.config["SMTP_URL"] = smtp_server.url()  # the server is back
    assert send_due(second.next_attempt_at) == ["sent"]
    assert send_due(second.next_attempt_at + timedelta(hours=5)) == []

    assert [m.recipients for m in smtp_server.received] == [[ADMIN]]
    assert reload(delivery).attempts == 3


def test_a_temporary_refusal_is_tried_again_and_a_refused_recipient_is_not(alerts_app, smtp_server):
    delivery = one_failure_alert(alerts_app)
    smtp_server.busy = True
    assert deliver(delivery.id) == "pending"
    assert reload(delivery).last_error["params"]["answer"] == "451 4.3.0 Try again later"

    smtp_server.busy = False
    smtp_server.refuse_recipients.add(ADMIN)
    assert send_due(utcnow() + timedelta(hours=1)) == ["failed"]
    assert send_due(utcnow() + timedelta(days=2)) == []
    assert smtp_server.received == []


def test_two_workers_sending_the_same_delivery_at_once_send_it_once(alerts_app, smtp_server):
    delivery_id = one_failure_alert(alerts_app).id
    barrier = threading.Barrier(2)
    states = []

    def worker():
        with alerts_app.app_context():
            try:
                barrier.wait()
                states.append(deliver(delivery_id))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(states, key=str) == [None, "sent"]
    assert len(smtp_server.received) == 1


# --- a worker killed while it sends --------------------------------------------------------------


@pytest.fixture
def worker_app(alerts_app, redis_url, redis_conn):
    alerts_app.config["REDIS_URL"] = redis_url
    return alerts_app


def kill_the_worker_at(stage: str, app, smtp: SmtpServer, redis_conn) -> AlertDelivery:
    """A real worker sends the delivery; the SMTP server stops it at ``stage``, and it is SIGKILLed."""
    delivery = one_failure_alert(app)
    hold = smtp.hold(stage)
    enqueue_deliveries([delivery.id], connection=redis_conn)
    env = process_env(app, app.config["REDIS_URL"], **alert_env(smtp))
    worker = start_process([sys.executable, "worker.py", "--burst"], env)
    try:
        assert hold.reached.wait(60), worker.output()
        kill_worker(worker)
    finally:
        smtp.release()
        stop_process(worker)
    return reload(delivery)


def test_killed_after_the_final_dot_the_alert_is_not_sent_again(worker_app, smtp_server, redis_conn):
    delivery = kill_the_worker_at("data", worker_app, smtp_server, redis_conn)
    assert delivery.state == "handed_over"

    after_lease = utcnow() + AFTER_ANY_LEASE
    assert settle_abandoned(after_lease) == 1
    assert send_due(after_lease) == []

    assert reload(delivery).state == "uncertain"
    assert len(smtp_server.received) == 1


def test_killed_before_the_final_dot_the_alert_is_sent_once_after_the_lease(
    worker_app, smtp_server, redis_conn
):
    delivery = kill_the_worker_at("rcpt", worker_app, smtp_server, redis_conn)
    assert delivery.state == "sending" and smtp_server.received == []

    assert send_due(utcnow()) == []  # its lease still holds: maybe a live worker is sending it
    after_lease = utcnow() + AFTER_ANY_LEASE
    assert send_due(after_lease) == ["sent"]

    assert [m.recipients for m in smtp_server.received] == [[ADMIN]]


# --- Wyślij wiadomość testową --------------------------------------------------------------------


def test_message_for(client, auth, app) -> str:
    """Press "Wyślij wiadomość testową", let a worker send it, read the answer the page polls."""
    make_user("admin", admin=True, email=ADMIN)
    auth.login("admin")
    answer = client.post("/admin/alerts/test", data={"address": ADMIN}, headers={"HX-Request": "true"})
    assert "Wysyłanie wiadomości testowej" in answer.get_data(as_text=True)
    (delivery_id,) = db.session.scalars(select(AlertDelivery.id))
    deliver(delivery_id)
    return client.get(f"/admin/alerts/test/{delivery_id}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )


test_message_for.__test__ = False  # a helper, not a test


def test_the_test_message_arrives_and_the_page_says_so(app, client, auth, smtp_server):
    app.config.update(alert_config(smtp_server))
    page = test_message_for(client, auth, app)

    assert f"Serwer przyjął wiadomość testową do {ADMIN}" in page
    assert "hx-trigger" not in page  # the polling stops
    assert smtp_server.received[0].message["Subject"] == "[ekpanel] Wiadomość testowa"
    assert "wysłana na prośbę użytkownika admin" in smtp_server.received[0].text()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "password",
            "Serwer odrzucił nazwę użytkownika lub hasło (535 5.7.8 Authentication credentials invalid).",
        ),
        ("dead", "nie przyjmuje połączeń na porcie"),
        (
            "untrusted",
            "Certyfikat serwera 127.0.0.1 nie jest zaufany: unable to get local issuer certificate.",
        ),
        ("wrong name", "Certyfikat serwera nie jest wystawiony dla 127.0.0.1: IP address mismatch"),
        ("no starttls", "Serwer 127.0.0.1 nie oferuje STARTTLS, więc nic nie zostało wysłane."),
    ],
)
def test_the_test_message_explains_what_is_wrong(app, client, auth, fault, expected):
    host = "smtp.other.example" if fault == "wrong name" else "127.0.0.1"
    with SmtpServer(certificate_host=host, starttls=fault != "no starttls") as smtp:
        config = alert_config(smtp)
        if fault == "password":
            config["SMTP_URL"] = smtp.url(password="zle-haslo")
        elif fault == "dead":
            config["SMTP_URL"] = smtp.url().replace(str(smtp.port), str(free_port()))
        elif fault == "untrusted":
            config["CA_BUNDLE"] = ""
        app.config.update(config)

        page = test_message_for(client, auth, app)

    assert "Nie udało się wysłać wiadomości testowej" in page
    assert expected in page
    assert smtp.received == []


def test_a_message_goes_out_over_tls_from_the_first_byte_too(app):
    with SmtpServer(implicit_tls=True) as smtp:
        app.config.update(alert_config(smtp))
        delivery = one_failure_alert(app)
        assert app.config["SMTP_URL"].startswith("smtps://")

        assert deliver(delivery.id) == "sent"

    assert [m.recipients for m in smtp.received] == [[ADMIN]]


def test_redis_away_never_fails_the_check_that_asks_for_an_evaluation(alerts_app, caplog):
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)

    enqueue_alert_evaluation(1, unreachable)  # no exception: the check goes on

    assert "not evaluated now" in caplog.text
