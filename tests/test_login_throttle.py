"""Login throttling, counted in a real Redis, and logins that take the same time whether or not the
login exists."""

from __future__ import annotations

import re
import statistics
import time

import pytest
from sqlalchemy import select

from ekpanel import create_app
from ekpanel.audit import AuditEntry
from ekpanel.extensions import db
from tests.factories import PASSWORD, make_user
from tests.support.app_config import app_config, fresh_g_per_request

WRONG = "to-nie-jest-haslo"


@pytest.fixture
def throttled_app(tmp_path, redis_url, redis_conn):
    """The panel with Flask-Limiter on (the test config turns it off), counting in the test's Redis."""
    app = create_app(
        app_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'throttle.sqlite3'}",
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=redis_url,
            REDIS_URL=redis_url,
        )
    )
    fresh_g_per_request(app)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def attempt(client, login: str, password: str = WRONG, address: str = "192.0.2.10"):
    return client.post(
        "/login", data={"login": login, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_after_five_wrong_passwords_even_the_right_one_waits(throttled_app, redis_conn):
    make_user("anna")
    client = throttled_app.test_client()
    for _ in range(5):
        assert attempt(client, "anna").status_code == 200

    refused = attempt(client, "anna", PASSWORD)

    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert re.search(r"Zbyt wiele nieudanych prób logowania\. Spróbuj ponownie o \d\d:\d\d\.", html)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert 'name="password"' in html  # the login page, to try again later
    assert client.get("/account").status_code == 302  # not logged in
    assert redis_conn.keys("*LIMITER/login-name:anna/*"), "the count lives in Redis, shared by every process"
    failed = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("login.%"))).all()
    assert failed == ["login.failed"] * 5  # the refused attempt checked no password at all


def test_twenty_failures_in_an_hour_lock_the_login_for_the_rest_of_it(throttled_app, redis_conn):
    make_user("anna")
    client = throttled_app.test_client()
    addresses = (f"192.0.2.{n}" for n in range(1, 100))
    for _ in range(4):
        for _ in range(5):
            assert attempt(client, "anna", address=next(addresses)).status_code == 200
        for key in redis_conn.keys("*LIMITER/*/minute"):  # as if a minute had passed
            redis_conn.delete(key)

    refused = attempt(client, "anna", PASSWORD, address=next(addresses))

    assert refused.status_code == 429
    assert 60 < int(refused.headers["Retry-After"]) <= 3600  # the hour's window, not the minute's


def test_successful_logins_do_not_count(throttled_app):
    make_user("anna")
    client = throttled_app.test_client()
    for _ in range(8):
        assert attempt(client, "anna", PASSWORD).status_code == 302
        client.post("/logout")


def test_one_locked_login_leaves_the_others_alone(throttled_app):
    make_user("anna")
    make_user("jan")
    client = throttled_app.test_client()
    for _ in range(5):
        attempt(client, "anna")
    assert attempt(client, "anna", PASSWORD).status_code == 429

    assert attempt(client, "jan", PASSWORD).status_code == 302


def test_an_unknown_login_is_throttled_like_a_real_one(throttled_app):
    client = throttled_app.test_client()
    for _ in range(5):
        assert attempt(client, "nikt").status_code == 200
    assert attempt(client, "nikt").status_code == 429


def test_one_address_trying_many_logins_is_throttled(throttled_app):
    make_user("anna")
    client = throttled_app.test_client()
    for n in range(20):
        assert attempt(client, f"zgadywany{n}", address="198.51.100.7").status_code == 200

    assert attempt(client, "anna", PASSWORD, address="198.51.100.7").status_code == 429
    assert attempt(client, "anna", PASSWORD, address="198.51.100.8").status_code == 302


def test_a_wrong_current_password_on_the_account_page_is_throttled_too(throttled_app):
    make_user("anna")
    client = throttled_app.test_client()
    assert attempt(client, "anna", PASSWORD).status_code == 302
    data = {"current_password": WRONG, "new_password": "nowe-haslo-123", "confirm_password": "nowe-haslo-123"}
    for _ in range(5):
        assert client.post("/account/password", data=data).status_code == 200

    data["current_password"] = PASSWORD
    refused = client.post("/account/password", data=data)

    assert refused.status_code == 429
    assert "Zbyt wiele prób z nieprawidłowym obecnym hasłem." in refused.get_data(as_text=True)


@pytest.mark.real_password_cost
def test_a_login_takes_as_long_whether_the_login_exists_or_not(sqlite_app):
    """Medians over 30 interleaved tries, compared as a ratio: the hash dominates every path.

    Before the stand-in hash an existing login took about 100 times as long as an unknown one; the
    bound is generous so that a loaded machine cannot make it flaky.
    """
    make_user("anna")
    make_user("ewa", active=False)
    client = sqlite_app.test_client()
    kinds = {"existing": "anna", "unknown": "nikt-taki", "inactive": "ewa"}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(30):
        for kind, login in kinds.items():
            start = time.perf_counter()
            response = client.post("/login", data={"login": login, "password": WRONG})
            times[kind].append(time.perf_counter() - start)
            assert response.status_code == 200
    medians = {kind: statistics.median(values) for kind, values in times.items()}

    assert max(medians.values()) / min(medians.values()) < 3, medians
