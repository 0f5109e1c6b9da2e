"""The English catalog covers every string the code and templates mark, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import force_locale

from ekpanel.mail.imap_errors import translating_errors
from ekpanel.mail.mailbox import MailboxError
from ekpanel.templating import render_note

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")


def _marked_strings() -> set[str | tuple[str, ...]]:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message)  # a plural is a tuple, as the catalog keeps it
    return found


def test_every_marked_string_has_an_english_translation() -> None:
    with (ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    marked = _marked_strings()
    assert len(marked) > 250
    assert sorted(marked - translated.keys()) == []
    for msgid in filter(lambda m: isinstance(m, str), marked):
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(translated[msgid])), msgid


def test_imap_failure_speaks_the_users_language(app) -> None:
    def refused(locale: str) -> str:
        with app.test_request_context(), force_locale(locale):
            try:
                with translating_errors("poczta.example.pl", 993, timeout=30, starttls=False):
                    raise ConnectionRefusedError(111, "Connection refused")
            except MailboxError as error:
                assert error.code == "connection_refused" and error.transient
                return render_note(error.note)
        raise AssertionError("no MailboxError")

    assert refused("pl") == (
        "Serwer poczta.example.pl nie przyjmuje połączeń na porcie 993. Sprawdź port i rodzaj szyfrowania."
    )
    assert refused("en") == (
        "Server poczta.example.pl does not accept connections on port 993. "
        "Check the port and the encryption type."
    )
