"""How the documents list behaves with 100 000 documents for one company, on SQLite and PostgreSQL.

Run by hand (not a test; times depend on the machine):

    .venv/bin/python bench/documents_list.py                  # 100 000 documents, both databases
    .venv/bin/python bench/documents_list.py --rows 20000 --only sqlite
    EKPANEL_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/...

It fills one company with ``--rows`` documents (and a second company with a tenth of that, so the
company condition matters), then prints the median time of each list query the panel runs — first
page, a keyset page in the middle and at the end, the filters, the capped count — beside what a
plain LIMIT/OFFSET page and an exact COUNT(*) would cost at the same depth.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text

from ekpanel import create_app
from ekpanel.companies.models import Company
from ekpanel.documents import queries
from ekpanel.documents.models import Document
from ekpanel.documents.queries import Cursor
from ekpanel.extensions import db

TIMEZONE = "Europe/Warsaw"
SENDERS = ["faktury@dostawca.pl", "biuro@hurtownia.com.pl", "ksiegowosc@media.pl", "noreply@energia.pl"]


def fill(company_id: int, rows: int, start: datetime, seed: int) -> None:
    rng = random.Random(seed)
    batch = []
    for n in range(rows):
        batch.append(
            {
                "company_id": company_id,
                "server_label": "faktury@firma.pl",
                "source_folder": "INBOX",
                "message_key": f"{company_id}-{n}",
                "sender": rng.choice(SENDERS) if n % 5000 else f"rzadki{n}@nadawca.pl",
                "subject": f"Faktura VAT {n}/2026",
                "received_at": start + timedelta(minutes=3 * n + rng.randint(0, 2)),
                "filename": f"faktura_{n}.pdf",
                "size": 40_000 + n % 1000,
                "sha256": f"{n:064x}",
                "status": "registered" if rng.random() < 0.9 else "new",
            }
        )
        if len(batch) == 5000:
            db.session.execute(insert(Document), batch)
            batch.clear()
    if batch:
        db.session.execute(insert(Document), batch)
    db.session.commit()


def timed(run, repeat: int) -> float:
    """Median wall time in milliseconds of ``run()`` (after one warm-up run)."""
    run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
        db.session.expunge_all()
    return statistics.median(samples)


def bench(url: str, label: str, rows: int, repeat: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        db.create_all()
        big, small = Company(name="Duża sp. z o.o."), Company(name="Mała sp. z o.o.")
        db.session.add_all([big, small])
        db.session.commit()
        started = time.perf_counter()
        fill(big.id, rows, datetime(2020, 1, 1), seed=1)
        fill(small.id, rows // 10, datetime(2020, 1, 1), seed=2)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE documents"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(f"\n## {label}: {rows} documents filled in {time.perf_counter() - started:.1f} s")

        none = queries.DocumentFilters()
        middle = db.session.scalars(
            queries.list_query(queries.filter_conditions(big.id, none, TIMEZONE), 1).offset(rows // 2)
        ).one()
        last = db.session.scalars(
            queries.list_query(queries.filter_conditions(big.id, none, TIMEZONE), 1).offset(rows - 60)
        ).one()
        conditions = queries.filter_conditions(big.id, none, TIMEZONE)

        def page(filters=none, after=None):
            return lambda: queries.document_page(big.id, filters, timezone=TIMEZONE, after=after)

        def offset_page(offset):
            return lambda: list(
                db.session.scalars(queries.list_query(conditions).offset(offset))
            )  # the alternative: LIMIT/OFFSET

        cases = [
            ("first page (with capped count)", page()),
            ("keyset page at 50 %", page(after=Cursor.of(middle))),
            ("keyset page at the end", page(after=Cursor.of(last))),
            ('text filter, common ("dostawca")', page(queries.DocumentFilters(text="dostawca"))),
            ('text filter, rare ("rzadki50000")', page(queries.DocumentFilters(text="rzadki50000"))),
            ("status Nowy", page(queries.DocumentFilters(status="new"))),
            (
                "date range, one month",
                page(queries.DocumentFilters(date_from=date(2020, 3, 1), date_to=date(2020, 3, 31))),
            ),
            (
                "rows only: keyset page at 50 %",
                lambda: queries._older_than(conditions, Cursor.of(middle), 51),
            ),
            (
                "rows only: keyset page at the end",
                lambda: queries._older_than(conditions, Cursor.of(last), 51),
            ),
            ("capped count alone", lambda: queries.capped_count(conditions)),
            (
                "for comparison: exact COUNT(*)",
                lambda: db.session.scalar(select(func.count()).where(*conditions)),
            ),
            ("for comparison: OFFSET page at 50 %", offset_page(rows // 2)),
            ("for comparison: OFFSET page at the end", offset_page(rows - 60)),
        ]
        print(f"{'query':<44} {'median ms':>10}")
        for name, run in cases:
            print(f"{name:<44} {timed(run, repeat):>10.2f}")
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    os.environ.setdefault("EKPANEL_INSTANCE_DIR", tempfile.mkdtemp(prefix="ekbench-"))

    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/bench.sqlite3", "SQLite", args.rows, args.repeat)
    if args.only != "sqlite":
        from tests.support import postgres

        admin_url = postgres.postgres_url()
        if admin_url is None:
            print("\n## PostgreSQL: none reachable (set EKPANEL_TEST_POSTGRES_URL); skipped")
            return 0
        url, drop = postgres.fresh_database(admin_url)
        try:
            bench(url, "PostgreSQL", args.rows, args.repeat)
        finally:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
