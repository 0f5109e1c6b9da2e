"""Sessions end when they should: logout (a copied cookie too), a password change, deactivation,
"Wyloguj ze wszystkich urządzeń", and after EKPANEL_SESSION_HOURS without a request."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from ekpanel.accounts.models import EndedSession
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "zupelnie-nowe-haslo-7"


def logged_in(client) -> bool:
    """Whether the client's session still opens a page (a dead one is sent to the login page)."""
    response = client.get("/account")
    return response.status_code == 200


def log_in(client, login: str, password: str = PASSWORD):
    response = client.post("/login", data={"login": login, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def copy_of(client, app):
    """A second client holding a copy of ``client``'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_cookie_copied_before_logout_is_refused_after_it(app, client):
    make_user("anna")
    log_in(client, "anna")
    thief = copy_of(client, app)
    assert logged_in(thief)

    client.post("/logout")

    assert not logged_in(client)
    assert not logged_in(thief)
    response = thief.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_on_one_device_leaves_the_other_logged_in(app, client):
    make_user("anna")
    other_device = app.test_client()
    log_in(client, "anna")
    log_in(other_device, "anna")

    client.post("/logout")

    assert not logged_in(client)
    assert logged_in(other_device)


def test_an_administrators_password_change_ends_the_operators_sessions(app, client):
    anna = make_user("anna")
    make_user("szef", admin=True)
    log_in(client, "anna")
    thief = copy_of(client, app)
    admin = app.test_client()
    log_in(admin, "szef")

    response = admin.post(
        f"/admin/users/{anna.id}",
        data={"login": "anna", "password": NEW_PASSWORD, "active": "y", "language": "pl"},
    )
    assert response.status_code == 302

    assert not logged_in(client) and not logged_in(thief)
    assert logged_in(admin)
    log_in(client, "anna", NEW_PASSWORD)
    assert logged_in(client)


def test_an_edit_without_a_new_password_keeps_the_operators_session(app, client):
    anna = make_user("anna")
    make_user("szef", admin=True)
    log_in(client, "anna")
    admin = app.test_client()
    log_in(admin, "szef")

    admin.post(f"/admin/users/{anna.id}", data={"login": "anna", "active": "y", "can_refresh": "y"})

    assert logged_in(client)


def test_a_reactivated_user_does_not_get_the_old_sessions_back(app, client):
    anna = make_user("anna")
    make_user("szef", admin=True)
    log_in(client, "anna")
    admin = app.test_client()
    log_in(admin, "szef")

    admin.post(f"/admin/users/{anna.id}", data={"login": "anna", "language": "pl"})  # not active
    assert not logged_in(client)
    admin.post(f"/admin/users/{anna.id}", data={"login": "anna", "active": "y", "language": "pl"})

    assert not logged_in(client)


def test_own_password_change_needs_the_current_password(app, client):
    make_user("anna")
    log_in(client, "anna")

    response = client.post(
        "/account/password",
        data={"current_password": "nie-to", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "Obecne hasło jest nieprawidłowe." in response.get_data(as_text=True)
    client.post("/logout")
    log_in(client, "anna", PASSWORD)  # unchanged


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("krotkie", "krotkie", "Hasło musi mieć od 8 do 200 znaków."),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "Hasła nie są takie same."),
    ],
)
def test_own_password_change_explains_what_is_wrong(sqlite_app, new, confirm, message):
    client = sqlite_app.test_client()
    make_user("anna")
    log_in(client, "anna")
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm_password": confirm},
    )
    assert message in response.get_data(as_text=True)


def test_own_password_change_keeps_this_device_and_ends_the_others(app, client):
    make_user("anna")
    other_device = app.test_client()
    log_in(client, "anna")
    log_in(other_device, "anna")
    thief = copy_of(client, app)

    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert "Zmieniono hasło" in client.get("/account").get_data(as_text=True)
    assert logged_in(client)
    assert not logged_in(other_device)
    assert not logged_in(thief)  # the cookie from before the change
    client.post("/logout")
    log_in(client, "anna", NEW_PASSWORD)


def test_log_out_everywhere_from_the_users_own_page(app, client):
    make_user("anna")
    other_device = app.test_client()
    log_in(client, "anna")
    log_in(other_device, "anna")

    response = client.post("/account/sessions/end")

    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert not logged_in(client) and not logged_in(other_device)
    login_page = client.get("/login").get_data(as_text=True)
    assert "Wylogowano ze wszystkich urządzeń." in login_page


def test_an_administrator_logs_a_user_out_everywhere(app, client):
    anna = make_user("anna")
    make_user("szef", admin=True)
    log_in(client, "anna")
    admin = app.test_client()
    log_in(admin, "szef")

    response = admin.post(f"/admin/users/{anna.id}/sessions/end")

    assert response.status_code == 302
    assert "Wylogowano użytkownika anna ze wszystkich urządzeń." in admin.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert not logged_in(client)
    assert logged_in(admin)
    log_in(client, "anna")  # the password still works


def test_an_administrators_own_new_password_keeps_their_session(app, client):
    szef = make_user("szef", admin=True)
    log_in(client, "szef")
    thief = copy_of(client, app)

    client.post(
        f"/admin/users/{szef.id}",
        data={"login": "szef", "password": NEW_PASSWORD, "is_admin": "y", "active": "y", "language": "pl"},
    )

    assert logged_in(client)
    assert not logged_in(thief)


def test_the_session_ends_after_the_configured_time_without_requests(sqlite_app):
    sqlite_app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=1)
    client = sqlite_app.test_client()
    make_user("anna")
    log_in(client, "anna")
    cookie = client.get_cookie("session")
    assert cookie.expires is not None  # a permanent cookie, renewed on each request

    # Flask refuses a signature older than the lifetime; itsdangerous counts whole seconds.
    time.sleep(2.1)
    assert not logged_in(client)


def test_session_lifetime_comes_from_the_environment():
    from ekpanel.config import load_config

    assert load_config({"EKPANEL_INSTANCE_DIR": "/tmp/ekpanel-test-config"})[
        "PERMANENT_SESSION_LIFETIME"
    ] == timedelta(hours=12)
    assert load_config({"EKPANEL_INSTANCE_DIR": "/tmp/ekpanel-test-config", "EKPANEL_SESSION_HOURS": "2"})[
        "PERMANENT_SESSION_LIFETIME"
    ] == timedelta(hours=2)


def test_ended_sessions_are_forgotten_once_no_copy_could_still_be_valid(app, client):
    lifetime = app.permanent_session_lifetime
    db.session.add(EndedSession(session_id="long-ago", ended_at=utcnow() - lifetime - timedelta(minutes=1)))
    db.session.add(EndedSession(session_id="recent", ended_at=utcnow() - lifetime + timedelta(minutes=1)))
    db.session.commit()
    make_user("anna")
    log_in(client, "anna")

    client.post("/logout")

    kept = set(db.session.scalars(db.select(EndedSession.session_id)))
    assert "long-ago" not in kept and "recent" in kept and len(kept) == 2
