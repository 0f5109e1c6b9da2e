"""With 100 000 documents, the list's queries read the index (company_id, received_at, id), never sort.

Asserted from the query plans (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN), not from times:
bench/documents_list.py measures the times.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, tuple_

from ekpanel.documents.models import Document
from ekpanel.documents.queries import DocumentFilters, filter_conditions, list_query, same_file_query
from ekpanel.extensions import db
from tests.factories import make_company

ROWS = 100_000
INDEX = "ix_documents_company_received"
TIMEZONE = "Europe/Warsaw"


@pytest.fixture
def filled(app):
    """One company with 100 000 documents, a second with 10 000; statistics gathered."""
    big, small = make_company("Duża"), make_company("Mała")
    rng = random.Random(7)
    for company, rows in ((big, ROWS), (small, ROWS // 10)):
        batch = []
        for n in range(rows):
            batch.append(
                {
                    "company_id": company.id,
                    "message_key": f"{company.id}-{n}",
                    "sender": "faktury@dostawca.pl",
                    "subject": f"Faktura {n}",
                    "received_at": datetime(2020, 1, 1) + timedelta(minutes=3 * n + rng.randint(0, 2)),
                    "filename": f"faktura_{n}.pdf",
                    "size": 1000,
                    "sha256": f"{n:064x}",
                    "status": "new" if rng.random() < 0.1 else "registered",
                }
            )
            if len(batch) == 10_000:
                db.session.execute(insert(Document), batch)
                batch.clear()
    db.session.commit()
    db.session.execute(text("ANALYZE documents" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
    db.session.commit()
    return big


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
