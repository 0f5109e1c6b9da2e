"""Stored check messages are codes with parameters, rendered in the reader's language."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from ekpanel.mail.texts import MSGIDS, Note, Text, note
from ekpanel.templating import render_note
from tests.factories import make_check, make_decision, make_imap_server, make_user

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
MIGRATION = Path(__file__).resolve().parents[1] / "migrations/versions/7d1e5a0c9b42_messages_as_notes.py"


@pytest.fixture
def server(app):
    return make_imap_server(host="imap.firma.pl", username="faktury")


def sample(code: Text) -> Note:
    """The note with a recognisable value for each of its parameters."""
    return note(code, **{name: f"<{name}>" for name in PLACEHOLDER.findall(MSGIDS[code])})


@pytest.mark.parametrize("code", list(Text))
def test_every_note_reads_in_english_with_its_parameters(app, code):
    stored = Note.from_json(sample(code).to_json())  # as read back from the database
    with app.test_request_context():
        with force_locale("en"):
            english = render_note(stored)
        with force_locale("pl"):
            polish = render_note(stored)
    assert polish == sample(code).polish()
    assert english != polish
    for name in PLACEHOLDER.findall(MSGIDS[code]):
        assert f"<{name}>" in english


def test_a_note_inside_a_note_is_rendered_too(app):
    moved = note(Text.NOT_MOVED, ref="7", folder="INBOX", reason=note(Text.IMAP_CANNOT_MOVE))
    with app.test_request_context(), force_locale("en"):
        text = render_note(Note.from_json(moved.to_json()))
    assert text.startswith("Message 7 in folder INBOX was not moved: ")
    assert "MOVE" in text and "Serwer" not in text


def test_english_reader_sees_a_stored_warning_error_and_detail_in_english(client, auth, server):
    make_user("john", admin=True)
    check = make_check(
        server,
        outcome="failed",
        error_code="tls_untrusted",
        error=note(Text.IMAP_TLS_FAILED, host="imap.firma.pl", port=993),
        warnings=(note(Text.FOLDER_NOT_FOUND, name="Archiwum"),),
    )
    make_decision(
        check, decision="skipped", reason="PDF too large", detail_note=sample(Text.PDFS_TOO_LARGE).to_json()
    )
    auth.login("john")
    client.post("/account/language", data={"language": "en", "next": "/"})
    html = client.get(f"/checks/{check.id}").get_data(as_text=True)
    assert "Archiwum" in html and "nie istnieje" not in html
    assert "imap.firma.pl:993" in html and "Nie udało się" not in html
    assert "Ponad" not in html


def test_a_text_the_migration_could_not_read_is_shown_as_stored(app):
    with app.test_request_context(), force_locale("en"):
        assert render_note({"text": "Coś, czego nie rozpoznano."}) == "Coś, czego nie rozpoznano."


def _migration():
    spec = importlib.util.spec_from_file_location("messages_as_notes", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("code", list(Text))
def test_the_migration_reads_every_stored_polish_text_back_into_its_note(code):
    original = sample(code)
    assert Note.from_json(_migration().text_to_note(original.polish())) == original


def test_the_migration_reads_an_old_unexpected_error_and_keeps_an_unknown_text():
    migration = _migration()
    assert migration.text_to_note("Nieoczekiwany błąd: ValueError('x')") == {
        "code": "unexpected",
        "params": {"error": "ValueError('x')"},
    }
    assert migration.text_to_note("Stary tekst bez kodu.") == {"text": "Stary tekst bez kodu."}
