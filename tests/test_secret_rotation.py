"""``flask --app wsgi rotate-secrets``: every stored secret moves to the newest key, and none is lost."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from ekpanel.servers.secrets import decrypt_secret, encrypt_secret
from tests.factories import make_graph_server, make_imap_server

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
LOST_KEY = Fernet.generate_key().decode()


def rotate(app):
    return app.test_cli_runner().invoke(args=["rotate-secrets"])


def stored_tokens() -> dict[int, str]:
    """What the database holds now, read afresh (the command commits in its own session)."""
    db.session.remove()
    return {server.id: server.secret_encrypted for server in db.session.scalars(db.select(MailServer))}


@pytest.fixture
def servers_under_old_key(app):
    """An IMAP password and an Outlook client secret written under OLD_KEY; NEW_KEY then added in front."""
    app.config["SECRETS_KEY"] = OLD_KEY
    imap = make_imap_server(secret="haslo-imap")
    graph = make_graph_server(secret="sekret-klienta")
    app.config["SECRETS_KEY"] = f"{NEW_KEY},{OLD_KEY}"
    return {imap.id: "haslo-imap", graph.id: "sekret-klienta"}


def test_every_secret_moves_to_the_newest_key(app, servers_under_old_key):
    result = rotate(app)

    assert result.exit_code == 0, result.output
    assert "re-encrypted: 2, already current: 0, unreadable: 0" in result.output
    newest_only = Fernet(NEW_KEY.encode())
    for server_id, token in stored_tokens().items():
        assert newest_only.decrypt(token.encode()).decode() == servers_under_old_key[server_id]


def test_the_old_key_can_go_after_rotation(app, servers_under_old_key):
    rotate(app)
    app.config["SECRETS_KEY"] = NEW_KEY

    for server_id, token in stored_tokens().items():
        assert decrypt_secret(token) == servers_under_old_key[server_id]


def test_a_second_run_changes_nothing(app, servers_under_old_key):
    rotate(app)
    after_first = stored_tokens()

    result = rotate(app)

    assert result.exit_code == 0, result.output
    assert "re-encrypted: 0, already current: 2, unreadable: 0" in result.output
    assert stored_tokens() == after_first


def test_an_unreadable_secret_is_reported_and_kept(app, servers_under_old_key):
    app.config["SECRETS_KEY"] = LOST_KEY
    lost = make_imap_server(secret="haslo-pod-zgubionym-kluczem")
    lost_token = lost.secret_encrypted
    app.config["SECRETS_KEY"] = f"{NEW_KEY},{OLD_KEY}"

    result = rotate(app)

    assert result.exit_code == 1
    assert f"serwer {lost.id} (" in result.output
    assert "re-encrypted: 2, already current: 0, unreadable: 1" in result.output
    assert "Traceback" not in result.output
    tokens = stored_tokens()
    assert tokens[lost.id] == lost_token  # untouched: with LOST_KEY back it still opens
    app.config["SECRETS_KEY"] = LOST_KEY
    assert decrypt_secret(tokens[lost.id]) == "haslo-pod-zgubionym-kluczem"
    app.config["SECRETS_KEY"] = NEW_KEY
    assert all(decrypt_secret(tokens[server_id]) for server_id in servers_under_old_key)  # committed


def test_the_generated_key_file_rotates_the_same_way(app):
    app.config["SECRETS_KEY"] = ""
    server_id = make_imap_server(secret="haslo-imap").id
    key_file = app.config["INSTANCE_DIR"] + "/secrets_key"
    with open(key_file) as fh:
        generated = fh.read().strip()
    with open(key_file, "w") as fh:
        fh.write(f"{NEW_KEY},{generated}\n")

    result = rotate(app)

    assert "re-encrypted: 1, already current: 0, unreadable: 0" in result.output
    token = stored_tokens()[server_id]
    assert Fernet(NEW_KEY.encode()).decrypt(token.encode()) == b"haslo-imap"


def test_a_server_without_a_secret_is_not_counted(app):
    app.config["SECRETS_KEY"] = NEW_KEY
    make_imap_server(secret="")
    make_imap_server(secret="haslo-imap")

    result = rotate(app)

    assert "re-encrypted: 0, already current: 1, unreadable: 0" in result.output


def test_a_malformed_key_is_refused_clearly(app, servers_under_old_key):
    before = stored_tokens()
    app.config["SECRETS_KEY"] = f"to-nie-jest-klucz,{OLD_KEY}"

    result = rotate(app)

    assert result.exit_code != 0
    assert "EKPANEL_SECRETS_KEY" in result.output and "Traceback" not in result.output
    assert stored_tokens() == before


def test_a_secret_saved_in_the_panel_is_under_the_newest_key(app):
    app.config["SECRETS_KEY"] = f"{NEW_KEY},{OLD_KEY}"
    token = encrypt_secret("nowe-haslo")
    assert Fernet(NEW_KEY.encode()).decrypt(token.encode()) == b"nowe-haslo"
