"""Flask extensions, created unbound; ``create_app`` binds them."""

import sqlite3

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine, MetaData, event

# Stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


# How long a SQLite writer waits for another's commit before "database is locked": a worker runs
# several checks at once, and each commits in a few milliseconds.
SQLITE_BUSY_MS = 30_000


@event.listens_for(Engine, "connect")
def _sqlite_settings(dbapi_connection, _connection_record) -> None:
    """SQLite's lower() folds ASCII only, so on the embedded database a search for "łódź" (an
    ILIKE, which SQLite does as lower() LIKE lower()) missed "ŁÓDŹ". Python's lower() folds all.

    Write-ahead logging lets the pages and the checks read while a check commits, and writers wait
    their turn instead of failing. ``synchronous`` stays FULL: a check moves messages only once
    their documents are committed, so a commit must be on disk, not only in the log in memory.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")  # kept in the file; an in-memory database stays so
        cursor.close()


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "connect")
def _postgres_plans_for_the_values(dbapi_connection, _connection_record) -> None:
    """psycopg prepares a statement once it has run five times, and PostgreSQL may then keep one
    plan for any values. The documents search cannot live with that: "fv" is in nine documents of
    ten, "rzadki50000" in one, and each needs its own plan (a generic one made a search of "fv" five
    times slower). Every statement is planned for its own values, as the first five are anyway."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        dbapi_connection.prepare_threshold = None
