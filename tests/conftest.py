"""Fixtures: the app on SQLite and PostgreSQL, a logged-in client, and the real services."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask import g
from hypothesis import settings
from sqlalchemy import text

from ekpanel import create_app
from ekpanel.extensions import db
from tests import hypothesis_settings  # noqa: F401  (loads the Hypothesis profile)
from tests.factories import PASSWORD
from tests.support import postgres

pytest_plugins = ["tests.support.service_fixtures", "tests.support.browser", "tests.support.ms_fixtures"]

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"

# Property tests: the same examples on every CI run (CI=true), fresh ones elsewhere; no example
# database left in the tree, and no deadline (time is measured by bench/ scripts, not asserted).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", database=None, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def _fresh_g_per_request(app) -> None:
    """Clear ``g`` as each request starts.

    The fixtures hold one app context open for the whole test so the test body can use the
    database, and Flask then reuses it, with its ``g``, for every request of the test client. In
    production each request has its own: the logged-in user, the language and per-request caches
    must not leak from one request into the next here either.
    """

    def clear_g():
        for name in list(vars(g)):
            delattr(g, name)

    app.before_request_funcs.setdefault(None, []).insert(0, clear_g)


def _test_config(tmp_path: Path, database_url: str, **extra) -> dict:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    config = {
        "TESTING": True,
        "INSTANCE_DIR": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "STORAGE_DIR": str(instance / "documents"),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Never the machine's own Redis: tests that need one take the `redis_url` fixture.
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    config.update(extra)
    return config


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ekpanel.sqlite3'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(_test_config(tmp_path, database_url))
    _fresh_g_per_request(app)
    with app.app_context():
        db.create_all()
        _empty_tables()
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path):
    """For tests whose subject is not the database (pages in the browser, the mail protocol)."""
    app = create_app(_test_config(tmp_path, f"sqlite:///{tmp_path / 'ekpanel.sqlite3'}"))
    _fresh_g_per_request(app)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def _empty_tables() -> None:
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def client(app):
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
    return AuthActions(client)


@pytest.fixture
def corpus_dir() -> Path:
    path = SHARED_DIR / "corpus"
    if not path.is_dir():
        pytest.skip("the shared corpus is not beside this checkout")
    return path


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)
