"""Command-line commands: ``flask --app wsgi create-user``, ``rotate-secrets``, and the mail ``fetch``."""

from __future__ import annotations

import sys

import click
from flask import Flask

from ekpanel.accounts.operations import LoginTaken, create_user
from ekpanel.extensions import db
from ekpanel.servers.operations import reencrypt_secrets


@click.command("create-user")
@click.argument("login")
@click.option("--admin", is_flag=True, help="Administrator (all rights, every company).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(login: str, admin: bool, password_stdin: bool) -> None:
    """Create a user LOGIN (an operator, or an administrator with --admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Hasło / password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException(
            "Hasło musi mieć co najmniej 8 znaków / the password needs 8 characters or more."
        )
    try:
        user = create_user(login, password, is_admin=admin)
    except LoginTaken:
        raise click.ClickException(
            f"Użytkownik {login!r} już istnieje / a user with login {login!r} exists already."
        ) from None
    db.session.commit()
    role = "administrator" if user.is_admin else "operator"
    click.echo(f"Utworzono użytkownika {user.login} ({role}).")


@click.command("rotate-secrets")
def rotate_secrets_command() -> None:
    """Re-encrypt the stored mail passwords and client secrets under the newest key.

    Run it after adding a new key in front of EKPANEL_SECRETS_KEY; exits with 1 when a secret
    could be opened by none of the keys (it is left as it is).
    """
    try:
        rotation = reencrypt_secrets()
    except ValueError as error:  # a key that is no Fernet key
        raise click.ClickException(f"EKPANEL_SECRETS_KEY: {error}") from None
    db.session.commit()
    for server in rotation.unreadable:
        click.echo(
            f"serwer {server.id} ({server.label}, {server.company.name}): żaden klucz nie otwiera zapisanego"
            " hasła, pozostawione bez zmian / no configured key opens its secret, left as it is",
            err=True,
        )
    click.echo(
        f"Zaszyfrowane ponownie: {rotation.reencrypted}, już pod najnowszym kluczem:"
        f" {rotation.already_current}, nieczytelne: {len(rotation.unreadable)}"
        f" / re-encrypted: {rotation.reencrypted}, already current: {rotation.already_current},"
        f" unreadable: {len(rotation.unreadable)}."
    )
    if rotation.unreadable:
        raise SystemExit(1)


def register(app: Flask) -> None:
    from ekpanel.checks.cli import fetch_command
    from ekpanel.documents.cli import documents_group

    app.cli.add_command(create_user_command)
    app.cli.add_command(fetch_command)
    app.cli.add_command(rotate_secrets_command)
    app.cli.add_command(documents_group)
