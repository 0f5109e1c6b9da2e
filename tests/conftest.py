"""Fixtures: the app on SQLite and PostgreSQL, the clients (logged in or not), and the real services.

Nothing imports this module: what tests share is a fixture here, a factory in tests/factories.py,
or a helper in tests/support/.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from ekpanel import create_app
from ekpanel.accounts import models as account_models
from ekpanel.accounts import operations as account_operations
from ekpanel.extensions import db
from ekpanel.mail import connect
from tests import hypothesis_settings  # noqa: F401  (loads the Hypothesis profiles)
from tests.factories import PASSWORD, make_company, make_user
from tests.support import postgres
from tests.support.app_config import app_config, empty_tables, fresh_g_per_request
from tests.support.move_hook import calling_before_move

pytest_plugins = [
    "tests.support.service_fixtures",
    "tests.support.browser",
    "tests.support.ms_fixtures",
    "tests.support.alerts",
]

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


# scrypt as the panel makes it (n=2**15) costs about 0.1 s a hash, and most tests make a user and log in:
# minutes of the suite. Tests hash at n=2**10, the same code on the same algorithm; a test whose subject
# is the cost itself (the login's timing) is marked ``real_password_cost``.
_CHEAP_SCRYPT = "scrypt:1024:8:1"


@pytest.fixture(autouse=True)
def cheap_password_hashes(request, monkeypatch):
    if request.node.get_closest_marker("real_password_cost"):
        return
    cheap = functools.partial(generate_password_hash, method=_CHEAP_SCRYPT)
    monkeypatch.setattr(account_models, "generate_password_hash", cheap)
    monkeypatch.setattr(account_operations, "generate_password_hash", cheap)
    stand_in = cheap(secrets.token_urlsafe(16))
    monkeypatch.setattr(account_operations, "_stand_in_hash", lambda: stand_in)


@pytest.fixture(scope="session")
def postgres_database():
    """One PostgreSQL database for the whole run; tables are emptied between tests."""
    admin_url = postgres.postgres_url()
    private = None
    if admin_url is None:
        try:
            private = postgres.PrivatePostgres().start()
        except (OSError, RuntimeError) as error:
            if os.environ.get("CI"):
                pytest.fail(f"CI must prove the database code on PostgreSQL, and none could be had: {error}")
            pytest.skip(f"no PostgreSQL reachable and none could be started: {error}")
        admin_url = private.url
    url, drop = postgres.fresh_database(admin_url)
    try:
        yield url
    finally:
        drop()
        if private is not None:
            private.stop()


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory) -> Path:
    """An empty SQLite database with every table, made once per test process.

    ``db.create_all`` on SQLite syncs the disk after each of its ~60 statements, half a second a test;
    a test copies this file instead, and ``create_all`` then finds every table there.
    """
    folder = tmp_path_factory.mktemp("schema")
    path = folder / "ekpanel.sqlite3"
    app = create_app(app_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_schema, tmp_path) -> str:
    """A test's own SQLite database, every table there and empty."""
    path = tmp_path / "ekpanel.sqlite3"
    shutil.copyfile(sqlite_schema, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(app_config(tmp_path, database_url))
    fresh_g_per_request(app)
    with app.app_context():
        db.create_all()
        empty_tables()
        yield app
        db.session.remove()
        empty_tables()
        db.engine.dispose()


@pytest.fixture
def sqlite_app(sqlite_url, tmp_path):
    """For tests whose subject is not the database (pages in the browser, the mail protocol)."""
    app = create_app(app_config(tmp_path, sqlite_url))
    fresh_g_per_request(app)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A client of ``app``; a module whose tests need another app overrides this fixture."""
    return app.test_client()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, login: str, password: str = PASSWORD):
        return self._client.post("/login", data={"login": login, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    """Log ``client`` in and out."""
    return AuthActions(client)


@pytest.fixture
def admin_client(client, auth):
    """``client``, logged in as an administrator, ``szef``."""
    make_user("szef", admin=True)
    auth.login("szef")
    return client


@pytest.fixture
def company(client):
    """A client company, Alfa sp. z o.o., in the database of ``client``'s app."""
    return make_company("Alfa sp. z o.o.")


@pytest.fixture
def operator(client, auth, company):
    """An operator, ``anna``, of ``company`` (without the refresh right), logged in on ``client``."""
    user = make_user("anna", companies=[company])
    auth.login("anna")
    return user


@pytest.fixture
def htmx() -> dict[str, str]:
    """The headers htmx sends with its requests."""
    return {"HX-Request": "true"}


@pytest.fixture
def before_move(monkeypatch):
    """``before_move(hook)``: from then on, every check of the test calls ``hook(folder, messages)``
    once a batch's documents are committed and before its messages are moved (raise there to
    simulate a crash); ``before_move(None)`` takes the hook away again."""
    open_mailbox = connect.open_mailbox

    def install(hook) -> None:
        opening = open_mailbox if hook is None else calling_before_move(open_mailbox, hook)
        monkeypatch.setattr(connect, "open_mailbox", opening)

    return install


@pytest.fixture
def corpus_dir() -> Path:
    path = SHARED_DIR / "corpus"
    if not path.is_dir():
        pytest.skip("the shared corpus is not beside this checkout")
    return path
