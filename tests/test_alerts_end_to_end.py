"""The whole way, as the README runs it: worker.py checks a real Dovecot mailbox, and a real SMTP server
receives exactly one alert when its password breaks and one "works again" when it is fixed."""

from __future__ import annotations

import sys

from ekpanel.checks.models import TRIGGER_REFRESH
from ekpanel.checks.queue import enqueue_check
from ekpanel.extensions import db
from ekpanel.servers.secrets import encrypt_secret
from tests.factories import make_dovecot_server, make_user
from tests.support.alerts import alert_config, alert_env
from tests.support.check_jobs import process_env, start_process, stop_process

ADMIN = "admin@biuro.example"


def make_server(mail_user, **fields):
    """A server on the test Dovecot user's INBOX that admits any sender."""
    return make_dovecot_server(mail_user, whitelist=["*@*"], folders=["INBOX"], **fields)


def check_now(app, server_id: int, redis_conn) -> None:
    """Odśwież, then one worker.py --burst: the check, its alert evaluation and the sending, in that order."""
    enqueue_check(server_id, TRIGGER_REFRESH, connection=redis_conn)
    env = process_env(app, app.config["REDIS_URL"], **app.config["TEST_ALERT_ENV"])
    worker = start_process([sys.executable, "worker.py", "--burst"], env)
    try:
        assert worker.proc.wait(120) == 0, worker.output()
    finally:
        stop_process(worker)


def test_a_broken_password_makes_one_alert_and_fixing_it_one_works_again(
    app, redis_url, redis_conn, mail_user, smtp_server
):
    app.config.update(alert_config(smtp_server), REDIS_URL=redis_url, TEST_ALERT_ENV=alert_env(smtp_server))
    make_user("admin", admin=True, email=ADMIN)
    server = make_server(mail_user)
    server_id = server.id
    check_now(app, server_id, redis_conn)
    assert smtp_server.received == []  # it works: nothing to tell

    server.secret_encrypted = encrypt_secret("zmienione-haslo")
    db.session.commit()
    check_now(app, server_id, redis_conn)
    check_now(app, server_id, redis_conn)  # still broken: no second alert

    assert [m.recipients for m in smtp_server.received] == [[ADMIN]]
    broken = smtp_server.received[0]
    assert broken.message["Subject"].startswith(
        f"[ekpanel] {server.company.name}: skrzynka {server.label} nie działa od "
    )
    assert "Błąd: Serwer odrzucił nazwę użytkownika lub hasło." in broken.text()

    db.session.expire_all()
    server.secret_encrypted = encrypt_secret(mail_user.password)
    db.session.commit()
    check_now(app, server_id, redis_conn)
    check_now(app, server_id, redis_conn)

    assert [m.message["Subject"] for m in smtp_server.received[1:]] == [
        f"[ekpanel] {server.company.name}: skrzynka {server.label} znów działa"
    ]
