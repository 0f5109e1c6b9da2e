"""Passwords and client secrets, encrypted at rest with Fernet.

The keys come from ``EKPANEL_SECRETS_KEY``, or from the file ``secrets_key`` generated once in the
instance folder. Either holds Fernet keys, comma-separated, newest first: a new key is added in front,
rows written under an older one still decrypt (MultiFernet), ``flask --app wsgi rotate-secrets``
re-encrypts them under the new one, and then the old key can go.
"""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from ekpanel.config import instance_file_secret


class SecretUnreadable(Exception):
    """The stored secret was written under a key this installation no longer has."""


def _fernets() -> list[Fernet]:
    """The configured keys, newest first."""
    configured = current_app.config.get("SECRETS_KEY") or ""
    if not configured.replace(",", "").strip():
        configured = instance_file_secret(
            Path(current_app.config["INSTANCE_DIR"]),
            "secrets_key",
            lambda: Fernet.generate_key().decode(),
        )
    return list(_keys(tuple(key.strip() for key in configured.split(",") if key.strip())))


@functools.lru_cache(maxsize=4)
def _keys(keys: tuple[str, ...]) -> tuple[Fernet, ...]:
    """Built once per set of keys and process: a check decrypts one secret, and building the keys
    cost more than that."""
    return tuple(Fernet(key.encode()) for key in keys)


def _fernet() -> MultiFernet:
    return MultiFernet(_fernets())


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str | None) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("the stored secret cannot be decrypted with the configured keys") from error


def rotate_secret(token: str) -> str | None:
    """``token`` re-encrypted under the newest key, or None when it is under that key already.

    Raises SecretUnreadable when no configured key opens it.
    """
    keys = _fernets()
    try:
        keys[0].decrypt(token.encode())
        return None
    except InvalidToken:
        pass
    try:
        return MultiFernet(keys).rotate(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("the stored secret cannot be decrypted with the configured keys") from error
