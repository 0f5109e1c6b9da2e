"""Stored document warnings are codes with parameters, rendered in the reader's language."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from ekpanel.documents.warnings import (
    BADGES,
    FAILURES,
    LINES,
    DocumentWarning,
    WarningCode,
    badge_text,
    failure_text,
    format_account,
    line_text,
)

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SAMPLE_PARAMS = {
    "nips": ["5260250274", "7740001454"],
    "company_nip": "1234563218",
    "seller_nip": "5260250274",
    "number": "FV/1/2026",
    "filename": "faktura.pdf",
    "received": "2026-01-16T09:00:00",
    "ksef_number": "5260250274-20260115-3A1F00C2B7D9-2B",
    "new": ["PL35114020040000320275600012"],
    "old": ["PL61109010140000071219812874"],
    "document_id": 7,
}


def sample(code: WarningCode) -> DocumentWarning:
    names = set(PLACEHOLDER.findall(LINES[code]))
    return DocumentWarning(code, {name: SAMPLE_PARAMS[name] for name in names})


@pytest.mark.parametrize("code", list(WarningCode))
def test_every_warning_reads_in_english_with_its_parameters(sqlite_app, code):
    stored = DocumentWarning.from_json(sample(code).to_json())
    with sqlite_app.test_request_context():
        with force_locale("pl"):
            polish = (badge_text(stored), line_text(stored))
        with force_locale("en"):
            english = (badge_text(stored), line_text(stored))
    assert polish[0] == BADGES[code]
    assert english[1] != polish[1]
    for name in PLACEHOLDER.findall(LINES[code]):
        assert name in SAMPLE_PARAMS
    if "new" in stored.params:
        assert "PL35 1140 2004 0000 3202 7560 0012" in english[1]
    if "received" in stored.params:
        assert "2026-01-16 10:00" in english[1]  # 09:00 UTC is 10:00 in Warsaw


@pytest.mark.parametrize("code", list(FAILURES))
def test_every_reason_a_pdf_was_unreadable_reads_in_english(sqlite_app, code):
    with sqlite_app.test_request_context(), force_locale("en"):
        assert failure_text(code) != FAILURES[code]


def test_a_warning_code_this_version_does_not_know_is_left_out():
    assert DocumentWarning.from_json({"code": "from_the_future", "params": {}}) is None


def test_accounts_read_in_groups_of_four():
    assert format_account("PL61109010140000071219812874") == "PL61 1090 1014 0000 0712 1981 2874"
