"""Test data, built through the same operations the panel uses."""

from __future__ import annotations

import itertools

from ekpanel.accounts.operations import create_user
from ekpanel.companies.operations import save_company
from ekpanel.extensions import db
from ekpanel.servers.operations import ServerValues, save_server

_counter = itertools.count(1)

PASSWORD = "haslo-testowe-1"


def make_user(login: str | None = None, *, admin: bool = False, companies=(), **fields):
    user = create_user(login or f"operator{next(_counter)}", PASSWORD, is_admin=admin, **fields)
    user.companies = list(companies)
    db.session.commit()
    return user


def make_company(name: str | None = None, **fields):
    company = save_company(
        None, name=name or f"Firma {next(_counter)} sp. z o.o.", nip=fields.pop("nip", None)
    )
    for key, value in fields.items():
        setattr(company, key, value)
    db.session.commit()
    return company


def make_imap_server(company=None, *, secret: str = "tajne-haslo", **values):
    """An IMAP server of ``company`` (a new company by default), saved as the server dialog saves it."""
    fields = {
        "protocol": "imap",
        "host": "imap.biuro.pl",
        "port": 993,
        "encryption": "ssl",
        "username": f"faktury{next(_counter)}@biuro.pl",
        "secret": secret,
        "whitelist": ["faktury@dostawca.pl"],
        "folders": ["INBOX"],
    }
    server = save_server(None, company or make_company(), ServerValues(**(fields | values)))
    db.session.commit()
    return server
