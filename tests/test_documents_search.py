"""The search box finds what it found before its indexes (a LIKE over every column), in every case.

Before: ``ILIKE '%text%'`` on the sender, subject, file name and invoice number, ``LIKE`` on the
normalised invoice number and on the NIPs' JSON; Polish capitals folded on both databases. Now: the
FTS table on SQLite (a text under three characters through the trigrams it begins) and trigram
indexes on PostgreSQL (under three characters, the pieces of that length), as
ekpanel.documents.search_index says. Each text below is searched both ways and must find the same
documents, in the same order, page after page in both directions.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from ekpanel.documents import queries, search, search_index
from ekpanel.documents.models import Document
from ekpanel.documents.queries import DocumentFilters, all_documents, document_page
from ekpanel.documents.search import text_search
from ekpanel.extensions import db
from tests.factories import make_company, make_document
from tests.support.search_before import like_before

TIMEZONE = "Europe/Warsaw"
TEXTS = [
    # Polish letters, either case, in the middle of words and across a space
    "łódź", "ŁÓDŹ", "Łó", "ł", "Ż", "ż", "gęślą", "GĘŚLĄ JAŹŃ", "ą", "żółta_f", "łć g",
    # LIKE's own characters, taken literally
    "%", "100%", "0%_", "_", "a_b", "_f", "\\", "\\faktury\\", "k\\s", "%_\\",
    # quotes, and FTS5's own syntax
    '"', 'cudzysłowie"', "'", "o'n", "NEAR", "a*", "x:y", "(1)", "-",
    # invoice numbers as typed, written otherwise, with zeros, in part
    "FV 1/2026", "fv/0001", "0001", "1/2026", "fa 12", "FA-12-2026", "0-1", "/1/",
    # NIPs with dashes, a prefix, in part; digits too few to be looked for in NIPs
    "526-025-02-74", "PL5260250274", "5260", "526", "12", "7740001454",
    # the separator of PostgreSQL's haystack, alone and inside a text
    "\x1f", "x\x1fy",
    # one and two characters, and nothing to find
    "a", "zz", "pdf", "nic-takiego",
    # found only where a capital outside ASCII folds into an ASCII letter (the Kelvin sign), or as itself
    "ke", "K", "İ", "Lİ",
]  # fmt: skip
FIND_NOTHING = {"0-1", "526", "zz", "nic-takiego"}  # "526": three digits are not looked for in NIPs


def found_before(company, text: str) -> list[int]:
    """The ids as the list orders them: dated newest first, then the undated, newest first."""
    query = select(Document.id).where(Document.company_id == company.id)
    if text.strip():  # as the list strips it ("\x1f" is white space to Python)
        query = query.where(like_before(text.strip()))
    dated = query.where(Document.received_at.is_not(None))
    undated = query.where(Document.received_at.is_(None))
    return list(db.session.scalars(dated.order_by(Document.received_at.desc(), Document.id.desc()))) + list(
        db.session.scalars(undated.order_by(Document.id.desc()))
    )


def found_now(company, text: str, size: int) -> tuple[list[int], list[int], int]:
    """Every page forward, then every page back from the last; and the count the pages show."""
    filters = DocumentFilters(text=text)
    pages = [document_page(company.id, filters, timezone=TIMEZONE, size=size)]
    while pages[-1].older is not None:
        pages.append(document_page(company.id, filters, timezone=TIMEZONE, after=pages[-1].older, size=size))
    forward = [document.id for page in pages for document in page.documents]
    backward = [document.id for document in reversed(pages[-1].documents)]
    page = pages[-1]
    while page.newer is not None:
        page = document_page(company.id, filters, timezone=TIMEZONE, before=page.newer, size=size)
        backward += [document.id for document in reversed(page.documents)]
    return forward, list(reversed(backward)), pages[0].total


@pytest.fixture
def tricky(app):
    """Documents whose texts try every corner of LIKE, FTS5 and case folding; one of another company."""
    company, other = make_company("Alfa"), make_company("Beta")
    start = datetime(2026, 11, 1, 12, 0)
    texts = [
        {"sender": "Hurtownia ŁÓDŹ <biuro@lodz.example>", "subject": "Zażółć gęślą jaźń"},
        {"sender": "łódź@małe.example", "subject": "ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "filename": "ŻÓŁTA_faktura.pdf"},
        {"subject": "Rabat 100% na usługę", "filename": "50%_off.pdf"},
        {"subject": "a_b c", "filename": "plik_z_podkreśleniem.pdf"},
        {"subject": "C:\\faktury\\2026\\styczeń", "filename": "back\\slash.pdf"},
        {"subject": "%_\\ wszystko naraz", "filename": "o'neill.pdf"},
        {"subject": 'Cytat "w cudzysłowie"', "sender": "x:y (1) NEAR a*b - c"},
        {"invoice_number": "FV/0001/2026", "invoice_number_normalised": "FV/1/2026"},
        {"invoice_number": "fa 12-2026", "invoice_number_normalised": "FA/12/2026"},
        {"nips": ["5260250274", "1234563218"], "subject": None},
        {"nips": ["7740001454"], "sender": None, "invoice_number": "12/2026",
         "invoice_number_normalised": "12/2026"},
        {"subject": "x\x1fy", "filename": "a.pdf"},
        {"subject": "żółta", "received_at": None},
        {"sender": "ŁÓDŹ bez daty", "received_at": None},
        {"sender": "KİLİM <\u212aelvin@example>"},
    ]  # fmt: skip
    for n, fields in enumerate(texts):
        make_document(company, **{"received_at": start - timedelta(hours=n), **fields})
    # Two with one time: the id breaks the tie.
    make_document(company, sender="Łódź, drugi", received_at=start - timedelta(hours=3))
    make_document(other, sender="Hurtownia ŁÓDŹ", invoice_number="FV/0001/2026", nips=["5260250274"])
    return company


@pytest.mark.parametrize(
    ("few_found", "window"),
    [
        (queries.FEW_FOUND, queries.WINDOW),  # as it runs
        (-1, 1000),  # SQLite: "many", the window is every document
        (-1, 5),  # SQLite: "many", the window holds a page or not
        (-1, 1),  # SQLite: "many", the window too small, the list walked
    ],
    ids=["as-configured", "window", "window-cut", "walk"],
)
def test_every_text_finds_what_it_found_before_the_indexes(tricky, monkeypatch, few_found, window):
    monkeypatch.setattr(queries, "FEW_FOUND", few_found)
    monkeypatch.setattr(queries, "WINDOW", window)
    found_nothing = 0
    for text in TEXTS:
        expected = found_before(tricky, text)
        forward, backward, total = found_now(tricky, text, size=2)
        assert forward == expected, f"{text!r} pages forward"
        assert backward == expected, f"{text!r} pages back"
        assert total == len(expected), f"{text!r} count"
        exported = all_documents(tricky.id, DocumentFilters(text=text), timezone=TIMEZONE)
        assert [document.id for document in exported] == expected, f"{text!r} export"
        found_nothing += not expected
    assert found_nothing == len(FIND_NOTHING)  # the others find something: the comparison says something


@pytest.mark.parametrize(
    ("module", "name", "value"),
    [(search_index, "MAX_SHORT_TERMS", 0), (search, "COMMON_SHARE", 0.0)],
    ids=["too-many-trigrams", "in-nearly-every-document"],
)
def test_a_common_short_text_is_searched_by_like(tricky, monkeypatch, module, name, value):
    monkeypatch.setattr(module, name, value)
    for text in [text for text in TEXTS if search_index.is_short(text.strip())]:
        expected = found_before(tricky, text)
        forward, backward, total = found_now(tricky, text, size=2)
        assert forward == backward == expected and total == len(expected), text


def test_on_sqlite_a_short_text_is_looked_up_through_the_trigrams_it_begins(sqlite_app):
    company = make_company("Alfa")
    # Two characters alone in a column: the padding after it makes its trigram.
    short = make_document(company, subject="FV", invoice_number="A1", invoice_number_normalised="A/1")
    polish = make_document(company, sender="Hurtownia ŁÓDŹ")
    for typed, document in (("fv", short), ("V", short), ("a1", short), ("ł", polish), ("ÓD", polish)):
        search = text_search(company.id, typed, "sqlite")
        assert search.fts, f"{typed!r} was not looked up in the FTS table"
        assert found_before(company, typed) == [document.id], typed
        assert db.session.scalars(select(Document.id).where(search.condition)).all() == [document.id], typed
    # No trigram begins with it: nothing to look for, and no document read.
    nothing = text_search(company.id, "qx", "sqlite")
    assert not nothing.fts and db.session.scalars(select(Document.id).where(nothing.condition)).all() == []


@pytest.mark.parametrize("common_share", [search.COMMON_SHARE, 0.0], ids=["fts", "like"])
def test_on_sqlite_a_capital_that_lowers_into_two_characters_is_found_as_itself(
    sqlite_app, monkeypatch, common_share
):
    """SQLite's FTS table folds one character into one: "İ", which lower() makes "i" and a combining
    dot, stays itself there. So "ki" does not find "KİLİM" (it would compared lowered), and a LIKE,
    for a short text in nearly every document, agrees with the FTS table."""
    monkeypatch.setattr(search, "COMMON_SHARE", common_share)
    company = make_company("Alfa")
    kilim = make_document(company, sender="KİLİM Dış")

    def found(text: str) -> list[int]:
        page = document_page(company.id, DocumentFilters(text=text), timezone=TIMEZONE)
        return [row.id for row in page.documents]

    for text in ("kİ", "İ", "KİLİM", "kİlİm", "dış"):
        assert found(text) == [kilim.id], text
    for text in ("ki", "i", "kilim"):
        assert found(text) == [], text


def test_the_fts_table_follows_documents_added_changed_and_removed(sqlite_app):
    company = make_company("Alfa")
    document = make_document(company, sender="Jednorazowy Dostawca")

    def found(text: str) -> list[int]:
        page = document_page(company.id, DocumentFilters(text=text), timezone=TIMEZONE)
        return [row.id for row in page.documents]

    assert found("jednorazowy") == [document.id]
    document.sender = "Inny Nadawca"
    db.session.commit()
    assert found("jednorazowy") == [] and found("inny nad") == [document.id]
    assert found("zo") == [] and found("wy") == []  # "Jednorazowy" has left the short texts too
    # Read after intake: the invoice's number and NIPs are written later, and found then.
    db.session.execute(
        update(Document)
        .where(Document.id == document.id)
        .values(invoice_number="FV/77/2026", invoice_number_normalised="FV/77/2026", nips=["5260250274"])
    )
    db.session.commit()
    assert found("FV 077/2026") == [document.id] and found("526-025-02-74") == [document.id]
    assert found("77") == [document.id]
    document.status = "registered"  # not an indexed column: the index is not touched
    db.session.commit()
    db.session.delete(document)
    db.session.commit()
    assert found("inny nad") == [] and found("77") == []
    # The FTS index is sound (raises otherwise).
    db.session.execute(db.text("INSERT INTO documents_search(documents_search) VALUES ('integrity-check')"))


def test_a_nul_in_the_text_is_left_out_not_an_error(client, operator, company):
    wanted = make_document(company, sender="faktury@dostawca.pl")
    make_document(company, sender="biuro@hurtownia.pl")
    for typed in ("dost\x00awca", "\x00dostawca", "do\x00"):
        response = client.get(f"/companies/{company.id}/documents", query_string={"q": typed})
        assert response.status_code == 200, typed
        listed = re.findall(r'data-document-id="(\d+)"', response.get_data(as_text=True))
        assert listed == [str(wanted.id)], typed
