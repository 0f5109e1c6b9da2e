"""``flask fetch``: checks in the foreground, one summary line per server, non-zero when one failed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ekpanel.checks.models import Check
from ekpanel.extensions import db
from tests.factories import make_dovecot_server
from tests.support import messages as m
from tests.support.mail_users import new_box


@pytest.fixture(autouse=True)
def _redis(sqlite_app, redis_url):
    sqlite_app.config["REDIS_URL"] = redis_url  # the command takes the workers' per-server lock


def fetch(app, *args: str):
    return app.test_cli_runner().invoke(args=["fetch", *args])


def test_fetch_server_takes_its_documents_and_says_so(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))

    result = fetch(sqlite_app, "--server", str(server.id))

    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert f"serwer {server.id}" in line
    assert "pobrane wiadomości 1" in line and "pominięte 1" in line and "błędy 0" in line
    assert [c.trigger for c in db.session.scalars(select(Check))] == ["cli"]


def test_fetch_all_exits_non_zero_when_a_server_failed_and_still_checks_the_others(sqlite_app, dovecot):
    good_box, bad_box = new_box(dovecot), new_box(dovecot)
    good = make_dovecot_server(good_box)
    bad = make_dovecot_server(bad_box, good.company, password="zle-haslo")
    good_box.user.append("INBOX", m.with_pdf())

    result = fetch(sqlite_app, "--all")

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert f"serwer {bad.id}" in lines[1] and "auth_failed" in lines[1]
    assert "pobrane wiadomości 1" in lines[0]


def test_fetch_company_checks_only_that_companys_active_servers(sqlite_app, dovecot):
    mine, other, inactive = new_box(dovecot), new_box(dovecot), new_box(dovecot)
    server = make_dovecot_server(mine)
    make_dovecot_server(other)
    make_dovecot_server(inactive, server.company, active=False)

    result = fetch(sqlite_app, "--company", str(server.company_id))

    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.output.splitlines()] == [f"serwer {server.id}"]


def test_fetch_needs_exactly_one_choice(sqlite_app):
    assert fetch(sqlite_app).exit_code == 2
    assert fetch(sqlite_app, "--all", "--server", "1").exit_code == 2


def test_fetch_skips_a_server_a_worker_is_checking_now(sqlite_app, dovecot, redis_conn):
    from ekpanel.checks.lock import CLI_HOLDER_PREFIX, ServerLock

    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())
    other = ServerLock(redis_conn, server.id, f"{CLI_HOLDER_PREFIX}another-terminal", 60)
    assert other.acquire() is None

    result = fetch(sqlite_app, "--server", str(server.id))

    assert result.exit_code == 0, result.output
    assert "sprawdzanie już trwa" in result.output
    assert db.session.scalars(select(Check)).all() == []
    assert len(box.user.list("INBOX")) == 1
    other.release()


def test_fetch_releases_the_lock_for_the_next_check(sqlite_app, dovecot, redis_conn):
    from ekpanel.checks.keys import server_lock_key

    server = make_dovecot_server(new_box(dovecot))

    assert fetch(sqlite_app, "--server", str(server.id)).exit_code == 0
    assert redis_conn.get(server_lock_key(server.id)) is None


def test_fetch_without_redis_still_checks_and_says_it_had_no_lock(sqlite_app, dovecot):
    sqlite_app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())

    result = fetch(sqlite_app, "--server", str(server.id))

    assert result.exit_code == 0, result.output
    assert "bez blokady" in result.output and "pobrane wiadomości 1" in result.output
