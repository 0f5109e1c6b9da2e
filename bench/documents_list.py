"""How the documents list behaves with 100 000 documents for one company, on SQLite and PostgreSQL.

Run by hand (not a test; times depend on the machine):

    .venv/bin/python bench/documents_list.py                  # 100 000 documents, both databases
    .venv/bin/python bench/documents_list.py --rows 20000 --only sqlite
    EKPANEL_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/...

It fills one company with ``--rows`` documents (and a second company with a tenth of that, so the
company condition matters), then prints the median time of each list query the panel runs — first
page, a keyset page in the middle and at the end, the filters, the capped count — beside what a
plain LIMIT/OFFSET page and an exact COUNT(*) would cost at the same depth.

Then the search box: a mix of texts people type (a supplier, an e-mail domain, a rare sender, Polish
capitals, invoice numbers and NIPs as printed and as typed, the company's own NIP, a year, one or
two letters, a digit, nothing to find), each searched ``--search-repeat`` times as the list does it
(first page and its count), through the search index and, in the same run, as before it
(``tests/support/search_before.py``: a LIKE over every column; on PostgreSQL the trigram indexes
cannot serve that query, so it runs as it did). It prints the median and p95 of each text, then of
all the searches together and of those of three characters or more (a shorter text has no trigram
of its own: SQLite finds it through the trigrams it begins, PostgreSQL through its pieces of one and
two characters).
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

from unittest import mock

from sqlalchemy import func, select

from ekpanel import create_app
from ekpanel.companies.models import Company
from ekpanel.documents import queries
from ekpanel.documents.queries import Cursor
from ekpanel.extensions import db
from tests.support.many_documents import insert_documents
from tests.support.search_before import text_search_before

TIMEZONE = "Europe/Warsaw"
SENDERS = ["faktury@dostawca.pl", "biuro@hurtownia.com.pl", "ksiegowosc@media.pl", "noreply@energia.pl"]
SELLER_NIPS = [f"{n:010d}" for n in random.Random(3).sample(range(10**9, 10**10), 300)]  # ~270 documents each
OWN_NIP = "7740001454"  # the company's: the buyer on every invoice it receives


def fill(company_id: int, rows: int, start: datetime, seed: int) -> None:
    rng = random.Random(seed)

    def documents():
        for n in range(rows):
            read = rng.random() < 0.8  # the rest: not an invoice, or its reading failed
            seller = rng.choice(SELLER_NIPS)
            yield {
                "company_id": company_id,
                "server_label": "faktury@firma.pl",
                "source_folder": "INBOX",
                "message_key": f"{company_id}-{n}",
                "sender": rng.choice(SENDERS) if n % 5000 else f"Hurtownia ŁÓDŹ <rzadki{n}@nadawca.pl>",
                "subject": f"Faktura VAT {n}/2026",
                "received_at": start + timedelta(minutes=3 * n + rng.randint(0, 2)),
                "filename": f"faktura_{n}.pdf",
                "size": 40_000 + n % 1000,
                "sha256": f"{n:064x}",
                "status": "registered" if rng.random() < 0.9 else "new",
                "invoice_number": f"FV/{n:06d}/2026" if read else None,
                "invoice_number_normalised": f"FV/{n}/2026" if read else None,
                "nips": [seller, OWN_NIP] if read else None,
            }

    insert_documents(documents())


def timed(run, repeat: int) -> float:
    """Median wall time in milliseconds of ``run()`` (after one warm-up run)."""
    return statistics.median(samples(run, repeat))


def samples(run, repeat: int) -> list[float]:
    """Wall times in milliseconds of ``repeat`` runs of ``run()``, after one warm-up run."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
        db.session.expunge_all()
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def searches() -> list[tuple[str, str]]:
    """What people type into the search box, and why each is there."""
    seller = SELLER_NIPS[17]
    return [
        ("hurtownia", "a supplier's name, a quarter of the documents"),
        ("dostawca.pl", "an e-mail domain, a quarter"),
        ("rzadki50000", "one sender's one document"),
        ("łódź", "Polish capitals (ŁÓDŹ), 1 in 5 000"),
        ("FV/004321/2026", "an invoice number as printed"),
        ("fv 4321/2026", "the same number as typed"),
        (dashed(seller), "a seller's NIP with dashes, 1 in 375"),
        (seller[:6], "the start of a NIP"),
        (f"PL{OWN_NIP}", "the company's own NIP: every invoice"),
        ("2026", "a year: every document"),
        ("faktura", "every document, twice"),
        ("fv", "two letters (no trigram of their own)"),
        ("ł", "one letter (no trigram of its own), 1 in 5 000"),
        ("a", "one letter in every document"),
        ("7", "one digit, in a fifth of the documents"),
        ("nieistniejący", "nothing to find"),
    ]


def dashed(nip: str) -> str:
    return f"{nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"


def bench_search(company_id: int, repeat: int) -> None:
    def page(typed):
        filters = queries.DocumentFilters(text=typed)
        return lambda: queries.document_page(company_id, filters, timezone=TIMEZONE)

    print(f"\nsearch box, ms: {'before: median':>22} {'p95':>7}  {'now: median':>11} {'p95':>7}  found")
    every: dict[str, tuple[list[float], list[float]]] = {"all": ([], []), "3+ characters": ([], [])}
    for typed, why in searches():
        found = page(typed)()
        found_text = f"{found.total}{'+' if found.total_capped else ''}"
        with mock.patch.object(queries, "text_search", text_search_before):
            before = samples(page(typed), repeat)
        now = samples(page(typed), repeat)
        for group in ("all", "3+ characters") if len(typed) >= 3 else ("all",):
            every[group][0].extend(before)
            every[group][1].extend(now)
        print(
            f"{typed:<24} {statistics.median(before):>13.2f} {p95(before):>7.2f}"
            f"  {statistics.median(now):>11.2f} {p95(now):>7.2f}  {found_text:>7}  {why}"
        )
    for group, (before, now) in every.items():
        label = f"searches, {group}"
        print(
            f"{label:<24} {statistics.median(before):>13.2f} {p95(before):>7.2f}"
            f"  {statistics.median(now):>11.2f} {p95(now):>7.2f}"
        )


def bench(url: str, label: str, rows: int, repeat: int, search_repeat: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        db.create_all()
        big, small = Company(name="Duża sp. z o.o."), Company(name="Mała sp. z o.o.")
        db.session.add_all([big, small])
        db.session.commit()
        started = time.perf_counter()
        fill(big.id, rows, datetime(2020, 1, 1), seed=1)
        fill(small.id, rows // 10, datetime(2020, 1, 1), seed=2)
        print(f"\n## {label}: {rows} documents filled in {time.perf_counter() - started:.1f} s")

        none = queries.DocumentFilters()
        middle = db.session.scalars(
            queries.list_query(queries.filter_conditions(big.id, none, TIMEZONE), 1).offset(rows // 2)
        ).one()
        last = db.session.scalars(
            queries.list_query(queries.filter_conditions(big.id, none, TIMEZONE), 1).offset(rows - 60)
        ).one()
        conditions = queries.filter_conditions(big.id, none, TIMEZONE)
        chosen = queries.selection(big.id, none, TIMEZONE)

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
                lambda: queries._older_than(chosen, Cursor.of(middle), 51),
            ),
            (
                "rows only: keyset page at the end",
                lambda: queries._older_than(chosen, Cursor.of(last), 51),
            ),
            ("capped count alone", lambda: queries.capped_count(chosen)),
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
        bench_search(big.id, search_repeat)
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--search-repeat", type=int, default=20, help="runs of each search text, each way")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    os.environ.setdefault("EKPANEL_INSTANCE_DIR", tempfile.mkdtemp(prefix="ekbench-"))

    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/bench.sqlite3", "SQLite", args.rows, args.repeat, args.search_repeat)
    if args.only != "sqlite":
        from tests.support import postgres

        admin_url = postgres.postgres_url()
        if admin_url is None:
            print("\n## PostgreSQL: none reachable (set EKPANEL_TEST_POSTGRES_URL); skipped")
            return 0
        url, drop = postgres.fresh_database(admin_url)
        try:
            bench(url, "PostgreSQL", args.rows, args.repeat, args.search_repeat)
        finally:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
