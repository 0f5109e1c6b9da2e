"""With 100 000 documents, the list's queries read the index (company_id, received_at, id), never sort,
and its search box reads the search index (ekpanel.documents.search_index), never every document.

Asserted from the query plans (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN), not from times:
bench/documents_list.py measures the times.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select, text, tuple_

from ekpanel import create_app
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.documents.queries import (
    DocumentFilters,
    document_page,
    filter_conditions,
    list_query,
    same_file_query,
)
from ekpanel.extensions import db
from tests.factories import make_company
from tests.support.app_config import app_config, empty_tables
from tests.support.many_documents import insert_documents

ROWS = 100_000
INDEX = "ix_documents_company_received"
TIMEZONE = "Europe/Warsaw"


SENDERS = ("faktury@dostawca.pl", "biuro@hurtownia.com.pl", "ksiegowosc@media.pl", "noreply@energia.pl")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled_app(request, tmp_path_factory):
    """An app on each database with one company of 100 000 documents and a second of 10 000,
    statistics gathered: loaded once for the module, whose tests only read (a load takes about a
    minute on PostgreSQL, its search index built).

    Every 5 000th document comes from a rare sender; each has an invoice number and NIPs.
    """
    folder = tmp_path_factory.mktemp("documents-index")
    if request.param == "sqlite":
        path = folder / "ekpanel.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    app = create_app(app_config(folder, url))
    with app.app_context():
        db.create_all()
        empty_tables()
        big, small = make_company("Duża"), make_company("Mała")
        insert_documents(itertools.chain(rows(big.id, ROWS), rows(small.id, ROWS // 10)))
        big_id = big.id
        db.session.remove()
    yield app, big_id
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            empty_tables()  # the test process's other tests share this database (a file on SQLite)
        db.session.remove()
        db.engine.dispose()


def rows(company_id: int, count: int):
    rng = random.Random(7 + company_id)
    for n in range(count):
        yield {
            "company_id": company_id,
            "message_key": f"{company_id}-{n}",
            "sender": rng.choice(SENDERS) if n % 5000 else f"Hurtownia ŁÓDŹ <rzadki{n}@nadawca.pl>",
            "subject": f"Faktura {n}",
            "received_at": datetime(2020, 1, 1) + timedelta(minutes=3 * n + rng.randint(0, 2)),
            "filename": f"faktura_{n}.pdf",
            "size": 1000,
            "sha256": f"{n:064x}",
            "status": "new" if rng.random() < 0.1 else "registered",
            "invoice_number": f"FV/{n:06d}/{company_id}",
            "invoice_number_normalised": f"FV/{n}/{company_id}",
            "nips": [f"{company_id}{n:09d}", f"{rng.randrange(10**9, 10**10)}"],
        }


@pytest.fixture
def filled(filled_app):
    """The company of 100 000 documents, in the module's app."""
    app, company_id = filled_app
    with app.app_context():
        yield db.session.get(Company, company_id)
        db.session.remove()


def plan(query) -> str:
    sql = str(query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        rows = db.session.execute(text(f"EXPLAIN {sql}")).scalars()
        return "\n".join(rows)
    rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
    return "\n".join(row[-1] for row in rows)


def assert_reads_the_index_in_order(query) -> None:
    found = plan(query)
    assert INDEX in found, found
    if db.engine.dialect.name == "postgresql":
        assert "Sort" not in found and "Seq Scan" not in found, found
    else:
        assert "TEMP B-TREE" not in found and "SCAN documents\n" not in found + "\n", found


def conditions(company, **filters):
    return filter_conditions(company.id, DocumentFilters(**filters), TIMEZONE)


def test_list_pages_read_the_index_in_order_never_a_sort(filled):
    first_page = list_query(conditions(filled))
    deep_page = list_query(conditions(filled)).where(
        tuple_(Document.received_at, Document.id) < (datetime(2020, 4, 1, 12, 0), 50_000)
    )
    one_month = list_query(conditions(filled, date_from=date(2020, 3, 1), date_to=date(2020, 3, 31)))
    undated = (
        select(Document)
        .where(*conditions(filled), Document.received_at.is_(None))
        .order_by(Document.id.desc())
        .limit(51)
    )
    for query in (first_page, deep_page, one_month):
        assert_reads_the_index_in_order(query)
    # Undated documents are few; PostgreSQL may sort the handful the index finds, but it reads the index.
    assert INDEX in plan(undated)
    # The cursor and the date range bound the index scan itself, not a filter applied to every row.
    for query in (deep_page, one_month):
        bounds = plan(query).split(INDEX, 1)[1]
        assert re.search(r"received_at ?<|ROW\(received_at, id\) <", bounds), bounds


def test_finding_the_same_pdf_reads_its_index(filled):
    page_hashes = {f"{n:064x}" for n in range(50_000, 50_050)}  # a page's worth of documents
    found = plan(same_file_query(filled.id, page_hashes))
    assert "ix_documents_company_sha256" in found, found


@contextmanager
def statements_run():
    """The SQL statements run inside the block, with their parameters."""
    run = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        run.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield run
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


FTS_MATCH = "SCAN documents_search VIRTUAL TABLE INDEX 0:M"  # SQLite's plan of an FTS5 MATCH


def searched(company, typed: str) -> tuple:
    """The first page of the list for ``typed``, and the plans of the statements it ran, by kind:
    ``terms`` looks a text of one or two characters up (SQLite: in the FTS table's vocabulary,
    PostgreSQL: in the table of pieces), ``lookup``
    asks the FTS table alone (SQLite), ``count`` counts, ``rows`` reads documents (the dated ones,
    then the undated if the page is not full)."""
    with statements_run() as run:
        page = document_page(company.id, DocumentFilters(text=typed), timezone=TIMEZONE)
    postgres = db.engine.dialect.name == "postgresql"
    plans: dict[str, list[str]] = {"terms": [], "lookup": [], "count": [], "rows": []}
    for statement, parameters in run:
        if "FROM documents" not in statement:
            continue  # the company, reloaded after a commit
        rows = db.session.connection().exec_driver_sql(
            ("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, parameters
        )
        if re.search(r"FROM documents_search_(terms|pieces)", statement):
            kind = "terms"
        elif "count(*)" in statement:
            kind = "count"
        elif re.search(r"FROM documents_search\s+WHERE", statement):
            kind = "lookup"
        else:
            kind = "rows"
        plans[kind].append("\n".join(str(row[0] if postgres else row[-1]) for row in rows))
    return page, plans


def assert_reads_no_table_scan(found_plan: str) -> None:
    if db.engine.dialect.name == "postgresql":
        assert "Seq Scan" not in found_plan, found_plan
    else:
        assert "SCAN documents\n" not in found_plan + "\n", found_plan


def test_the_search_box_reads_the_search_index_never_every_document(filled):
    postgres = db.engine.dialect.name == "postgresql"
    nip = f"{filled.id}{4321:09d}"
    dashed = f"{nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"
    trigrams = "ix_documents_search_text"
    rare = {
        "rzadki50000": ((trigrams,), 1),  # a sender
        "łódź": ((trigrams,), ROWS // 5000),  # "ŁÓDŹ", in Polish capitals
        "fv 4321/1": ((trigrams, "ix_documents_search_number"), 1),  # written otherwise than "FV/004321/1"
        dashed: ((trigrams, "ix_documents_search_nips"), 1),
        # One or two characters, no trigram of their own: looked up first, then read by their ids
        "ł": (("pk_documents",), ROWS // 5000),
        "Ód": (("pk_documents",), ROWS // 5000),
    }
    for typed, (postgres_indexes, found) in rare.items():
        page, plans = searched(filled, typed)
        assert len(page.documents) == found, typed
        dated, *_ = plans["rows"]
        if len(typed) < 3:
            terms = "\n".join(plans["terms"])  # the text, and the invoice number it stands for
            looked_up_in = "ix_documents_search_pieces" if postgres else "documents_search_terms"
            assert looked_up_in in terms, terms
        if postgres:
            assert all(index in dated for index in postgres_indexes), dated
        else:
            # The FTS table says which documents hold the text; they are read by their ids.
            (lookup,) = plans["lookup"]
            assert FTS_MATCH in lookup, lookup
            assert "SEARCH documents USING INTEGER PRIMARY KEY" in dated, dated
        for found_plan in plans["terms"] + plans["lookup"] + plans["count"] + plans["rows"]:
            assert_reads_no_table_scan(found_plan)

    # A quarter of the documents come from this sender: the page is read from the newest rows, in
    # order; on SQLite the FTS table counts them. (PostgreSQL's planner may count them either way.)
    page, plans = searched(filled, "dostawca")
    assert len(page.documents) == 50 and page.total_capped
    assert any(INDEX in found_plan for found_plan in plans["rows"]), plans["rows"]
    for found_plan in plans["lookup"] + plans["rows"]:
        assert_reads_no_table_scan(found_plan)
    if not postgres:
        (count_plan,) = plans["count"]
        assert FTS_MATCH in count_plan and "SCAN documents\n" not in count_plan + "\n", count_plan

    # A short text in nearly every document: LIKE finds its page in the newest rows, in order; on
    # SQLite it is counted from the index of the searched columns, never from the rows themselves.
    page, plans = searched(filled, "a")
    assert len(page.documents) == 50 and page.total_capped
    assert any(INDEX in found_plan for found_plan in plans["rows"]), plans["rows"]
    if not postgres:
        *_share_of_newest, count_plan = plans["count"]
        assert "USING COVERING INDEX documents_search_columns" in count_plan, count_plan
