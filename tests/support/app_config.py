"""The settings every test app starts from."""

from __future__ import annotations

from pathlib import Path


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
