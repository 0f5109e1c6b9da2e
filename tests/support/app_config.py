"""The settings every test app starts from, a fresh ``g`` for each of its requests, and its tables
emptied."""

from __future__ import annotations

from pathlib import Path

from flask import g
from sqlalchemy import text

from ekpanel.extensions import db


def app_config(tmp_path: Path, database_url: str, **extra) -> dict:
    """Settings for an app whose instance, documents and database live under ``tmp_path``;
    ``extra`` changes or adds settings (the rate limit on, say)."""
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


def fresh_g_per_request(app) -> None:
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


def empty_tables() -> None:
    """Every table of the app's database emptied (one PostgreSQL database serves a test process's
    tests one after another)."""
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()
