"""Passwords and client secrets, encrypted at rest with Fernet.

The key comes from ``EKPANEL_SECRETS_KEY`` (comma-separated, newest first, so a new key can be added
while rows written under the old one still decrypt: MultiFernet), or is generated once into the
instance folder.
"""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from ekpanel.config import instance_file_secret


class SecretUnreadable(Exception):
    """The stored secret was written under a key this installation no longer has."""


def _fernet() -> MultiFernet:
    configured = current_app.config.get("SECRETS_KEY") or ""
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if not keys:
        keys = [
            instance_file_secret(
                Path(current_app.config["INSTANCE_DIR"]),
                "secrets_key",
                lambda: Fernet.generate_key().decode(),
            )
        ]
    return _multi_fernet(tuple(keys))


@functools.lru_cache(maxsize=4)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    """Built once per set of keys and process: a check decrypts one secret, and building the keys
    cost more than that."""
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str | None) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("the stored secret cannot be decrypted with the configured keys") from error


def rotate_secret(token: str) -> str:
    """Re-encrypt under the newest key (after adding one to EKPANEL_SECRETS_KEY)."""
    return _fernet().rotate(token.encode()).decode()
