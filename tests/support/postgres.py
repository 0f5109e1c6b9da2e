"""Finding a PostgreSQL for tests and giving each test run its own database.

Why: production runs on PostgreSQL, and SQLite hides its differences (types, constraints,
concurrency), so the suite runs the models against a real server whenever one is reachable.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_VAR = "EKPANEL_TEST_POSTGRES_URL"
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_url() -> str | None:
    """An admin URL: ``$EKPANEL_TEST_POSTGRES_URL``, else a local trust-auth server, else None."""
    if url := os.environ.get(ENV_VAR):
        return url
    try:
        with psycopg.connect(LOCAL_URL, connect_timeout=2):
            return LOCAL_URL
    except psycopg.Error:
        return None


def _libpq(url: URL) -> str:
    """The URL as psycopg/libpq accepts it (no ``+driver`` in the scheme)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """Create ``ekpanel_test_<random>``; return its ``postgresql+psycopg://`` URL and a function dropping it.

    A unique database per run keeps parallel runs and leftovers of crashed runs apart.
    """
    admin = make_url(admin_url)
    name = f"ekpanel_test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            force = sql.SQL(" WITH (FORCE)" if conn.info.server_version >= 130000 else "")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force))

    url = admin.set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port, for machines where none runs.

    Started from Debian's binaries as the ``postgres`` user (the server refuses to run as root);
    stopped by its own pid with a fast shutdown, its data directory removed.
    """

    def __init__(self) -> None:
        import glob

        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not candidates:
            raise FileNotFoundError(
                "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)"
            )
        self.bindir = os.path.dirname(candidates[-1])
        self.process = None
        self.datadir = ""
        self.port = 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        import pwd
        import shutil
        import subprocess
        import tempfile
        import time

        from tests.support.ports import free_port

        run_as = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            run_as = {"user": account.pw_uid, "group": account.pw_gid}
        self.datadir = tempfile.mkdtemp(prefix="ekpg-")
        if run_as:
            shutil.chown(self.datadir, run_as["user"], run_as["group"])
        subprocess.run(
            [f"{self.bindir}/initdb", "-D", self.datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
            check=True,
            capture_output=True,
            **run_as,
        )
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                f"{self.bindir}/postgres",
                "-D",
                self.datadir,
                "-p",
                str(self.port),
                "-k",
                self.datadir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **run_as,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url, connect_timeout=1):
                    return self
            except psycopg.Error:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the private PostgreSQL did not start")

    def stop(self) -> None:
        import shutil
        import signal

        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, no waiting for clients
            try:
                self.process.wait(timeout=15)
            except Exception:
                self.process.kill()
                self.process.wait()
        if self.datadir:
            shutil.rmtree(self.datadir, ignore_errors=True)
