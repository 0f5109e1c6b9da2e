"""Command-line commands: ``flask --app wsgi create-user``, and the others the mail areas add."""

from __future__ import annotations

import sys

import click
from flask import Flask

from ekpanel.accounts.operations import LoginTaken, create_user
from ekpanel.extensions import db


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


def register(app: Flask) -> None:
    from ekpanel.checks.cli import fetch_command

    app.cli.add_command(create_user_command)
    app.cli.add_command(fetch_command)
