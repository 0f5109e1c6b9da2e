"""Settings from the environment. Every name is prefixed ``EKPANEL_``; nothing needs to be set.

The README's configuration table lists the same names; keep the two in step.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def instance_file_secret(instance_dir: Path, filename: str, make) -> str:
    """A value generated once and kept in the instance folder (never in the repository)."""
    path = instance_dir / filename
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
    return path.read_text().strip()


def engine_options(database_url: str, worker_threads: int) -> dict:
    """The pool: on PostgreSQL as many connections kept as a worker runs checks at once, so each
    goes from job to job instead of being opened again (SQLite's are a file opened in microseconds,
    and an in-memory one takes no pool size)."""
    options: dict = {"pool_pre_ping": True}
    if not database_url.startswith("sqlite"):
        options["pool_size"] = max(5, worker_threads)
    return options


def load_config(env: dict[str, str] | None = None) -> dict:
    """The Flask config for this process, read from ``env`` (the process environment by default)."""
    env = os.environ if env is None else env
    instance_dir = Path(env.get("EKPANEL_INSTANCE_DIR") or PROJECT_DIR / "instance").resolve()
    instance_dir.mkdir(parents=True, exist_ok=True)

    def get(name: str, default: str) -> str:
        return env.get(f"EKPANEL_{name}") or default

    def flag(name: str) -> bool:
        return get(name, "").strip().lower() in ("1", "true", "yes", "on")

    redis_url = get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return {
        "INSTANCE_DIR": str(instance_dir),
        "SQLALCHEMY_DATABASE_URI": get("DATABASE_URL", f"sqlite:///{instance_dir / 'ekpanel.sqlite3'}"),
        "REDIS_URL": redis_url,
        "SECRET_KEY": env.get("EKPANEL_SECRET_KEY")
        or instance_file_secret(instance_dir, "secret_key", lambda: secrets.token_urlsafe(48)),
        # Fernet keys for secrets at rest; comma-separated, newest first (MultiFernet).
        "SECRETS_KEY": env.get("EKPANEL_SECRETS_KEY", ""),
        "TIMEZONE": get("TIMEZONE", "Europe/Warsaw"),
        "STORAGE_DIR": get("STORAGE_DIR", str(instance_dir / "documents")),
        "MAX_PDF_MB": int(get("MAX_PDF_MB", "50")),
        "MAX_FORWARDED_MULTIPLE": float(get("MAX_FORWARDED_MULTIPLE", "4")),
        "IMAP_TIMEOUT": float(get("IMAP_TIMEOUT", "30")),
        "CHECK_TIMEOUT": int(get("CHECK_TIMEOUT", "1800")),
        # Jobs one worker process runs at a time (threads of its work-horse); 0: rq's forking worker.
        "WORKER_THREADS": int(get("WORKER_THREADS", "8")),
        "CHECK_TIMES": get("CHECK_TIMES", "05:00,12:00,14:00"),
        "MISFIRE_MINUTES": int(get("MISFIRE_MINUTES", "60")),
        "LOG_DAYS": int(get("LOG_DAYS", "90")),
        "MAX_PDFS_PER_MESSAGE": int(get("MAX_PDFS_PER_MESSAGE", "100")),
        "IMAP_MAX_LINE_MB": float(get("IMAP_MAX_LINE_MB", "16")),
        "MAX_PARTS_PER_MESSAGE": int(get("MAX_PARTS_PER_MESSAGE", "500")),
        "MAX_MIME_DEPTH": int(get("MAX_MIME_DEPTH", "32")),
        # Seconds reading one PDF's text after intake may take (ekpanel.documents.extraction).
        "EXTRACT_SECONDS": float(get("EXTRACT_SECONDS", "30")),
        "MS_LOGIN_URL": get("MS_LOGIN_URL", "https://login.microsoftonline.com").rstrip("/"),
        "GRAPH_URL": get("GRAPH_URL", "https://graph.microsoft.com/v1.0").rstrip("/"),
        "CA_BUNDLE": env.get("EKPANEL_CA_BUNDLE", ""),
        "BABEL_DEFAULT_LOCALE": "pl",
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_DIR / "translations"),
        # Counts shared by every web process through Redis, which the panel needs anyway; if Redis is
        # down, each process counts alone rather than refusing everything.
        "RATELIMIT_STORAGE_URI": get("RATELIMIT_STORAGE_URL", redis_url),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Every limit of a request is looked at, so a 429 can say when all of them allow again.
        "RATELIMIT_FAIL_ON_FIRST_BREACH": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind TLS the cookie must never travel over plain HTTP.
        "SESSION_COOKIE_SECURE": flag("COOKIE_SECURE"),
        # A session ends after this long without a request (the cookie is re-signed on each one).
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=float(get("SESSION_HOURS", "12"))),
        # How many reverse proxies in front of the panel set X-Forwarded-For/-Proto/-Host/-Port.
        "PROXY_HOPS": int(get("PROXY_HOPS", "0")),
        "AUDIT_DAYS": int(get("AUDIT_DAYS", "730")),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        # Alerts by e-mail (ekpanel.alerts): off until all three of the first are set.
        "SMTP_URL": env.get("EKPANEL_SMTP_URL", ""),
        "MAIL_FROM": env.get("EKPANEL_MAIL_FROM", ""),
        "BASE_URL": env.get("EKPANEL_BASE_URL", ""),
        "DIGEST_TIME": get("DIGEST_TIME", "07:00"),
    }
