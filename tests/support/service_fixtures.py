"""pytest fixtures for the real services the integration tests run against.

Listed in ``pytest_plugins`` by tests/conftest.py (or ``-p tests.support.service_fixtures``).
Servers are session-scoped because starting them costs 0.1-0.5 s each; tests that crash or
freeze a Dovecot use ``private_dovecot`` so the shared one stays healthy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.support.dovecot import DovecotServer
from tests.support.mail_users import MailUser, new_box
from tests.support.postgres import ENV_VAR, postgres_url
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for the whole session."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0`` of the session's redis-server."""
    return redis_server.url


@pytest.fixture
def redis_conn(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on an emptied database 0, so no test sees another's keys or jobs."""
    conn = redis.Redis.from_url(redis_server.url)
    conn.flushdb()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """Shared Dovecot, ``fs`` namespace (``Junk``). Do not kill or pause it: use ``private_dovecot``."""
    with DovecotServer("fs") as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_courier() -> Iterator[DovecotServer]:
    """Shared Dovecot, Courier-style namespace (``INBOX.Junk``, separator ``.``)."""
    with DovecotServer("courier") as server:
        yield server


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot (``fs``) of this test alone, for fault injection: kill, restart, pause."""
    with DovecotServer("fs") as server:
        yield server


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> MailUser:
    """A fresh user on the shared ``dovecot``, so tests never see each other's mail."""
    return new_box(dovecot).user


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Admin URL of a reachable PostgreSQL; skipped without one, but a failure on CI (``$CI`` set)."""
    url = postgres_url()
    if url is None:
        reason = (
            f"no PostgreSQL reachable: set {ENV_VAR} or run one on 127.0.0.1:5432 (user postgres, trust auth)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must prove PostgreSQL", pytrace=False)
        pytest.skip(reason)
    return url
