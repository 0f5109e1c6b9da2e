"""After intake, each document's PDF is read: what it says is saved on it, with its warnings.

The readings go through the real sandboxed child (ekpanel.invoices), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from rq import Queue
from sqlalchemy import select

from ekpanel.checks.keys import DOCUMENTS_QUEUE
from ekpanel.checks.run import run_check
from ekpanel.checks.workers import make_worker
from ekpanel.documents.extraction import extract_documents
from ekpanel.documents.models import Document
from ekpanel.documents.storage import pdf_path
from ekpanel.documents.warnings import DocumentWarning, WarningCode, stored_warnings
from ekpanel.extensions import db
from tests.factories import make_company, make_document, make_dovecot_server
from tests.support import hostile_pdfs, invoice_pdfs
from tests.support import messages as m
from tests.support.invoice_pdfs import BUYER_NIP, KSEF_NUMBER, OTHER_NIP, OTHER_NRB, SELLER_NIP, SELLER_NRB
from tests.support.mail_users import new_box

SELLER_ACCOUNT = "PL" + SELLER_NRB
OTHER_ACCOUNT = "PL" + OTHER_NRB


@pytest.fixture
def company(app):
    return make_company("Beta S.A.", nip=BUYER_NIP)


def read(*documents: Document) -> None:
    extract_documents([document.id for document in documents])
    for document in documents:
        db.session.refresh(document)


def codes(document: Document) -> list[WarningCode]:
    return [warning.code for warning in stored_warnings(document)]


def warning(document: Document, code: WarningCode) -> DocumentWarning:
    [found] = [w for w in stored_warnings(document) if w.code is code]
    return found


def test_a_document_waits_to_be_read_and_then_carries_every_field(company):
    document = make_document(company, data=invoice_pdfs.side_by_side_invoice())
    assert (document.extraction_status, document.invoice_number, document.warnings) == ("pending", None, None)

    read(document)
    assert document.extraction_status == "ok" and document.extraction_failure is None
    assert document.invoice_number == "FV/2026/01/0042"
    assert document.invoice_number_normalised == "FV/2026/1/42"
    assert (document.seller_nip, document.buyer_nip) == (SELLER_NIP, BUYER_NIP)
    assert (document.amount_due, document.currency) == (Decimal("1230.00"), "PLN")
    assert document.issue_date == date(2026, 1, 15)
    assert document.bank_accounts == [SELLER_ACCOUNT]
    assert document.nips == [SELLER_NIP, BUYER_NIP]
    assert (document.ksef_number, document.offline_mark) == (None, False)
    assert document.extraction["nips"][0]["snippet"] == "NIP: PL 526-025-02-74"
    assert document.extracted_at is not None
    assert document.warnings is None  # the company's own invoice, its first from this seller


def test_the_first_reading_stays_when_the_document_is_read_again(company):
    document = make_document(company, data=invoice_pdfs.side_by_side_invoice())
    assert document.first_read_at is None

    read(document)
    first = document.first_read_at
    assert first is not None and first == document.extracted_at

    read(document)  # again, as ``documents extract --all`` does after an update of the reader
    assert document.first_read_at == first and document.extracted_at > first


def test_a_scan_has_no_text_and_no_warnings(company):
    document = make_document(company, data=invoice_pdfs.scanned_invoice())
    read(document)
    assert (document.extraction_status, document.invoice_number, document.warnings) == ("no_text", None, None)


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [
        (hostile_pdfs.page_tree_bomb, "too_many_pages"),
        (hostile_pdfs.junk_after_header, "malformed"),
        (lambda: b"to nie jest PDF", "not_pdf"),
    ],
)
def test_a_hostile_or_broken_pdf_ends_unreadable_with_its_reason(company, pdf, reason):
    document = make_document(company, data=pdf())
    after = make_document(company, data=invoice_pdfs.side_by_side_invoice())
    read(document, after)
    assert (document.extraction_status, document.extraction_failure) == ("unreadable", reason)
    assert after.extraction_status == "ok"  # the job went on to the next one


def test_a_reading_past_its_deadline_is_cut_off_as_unreadable(app, company):
    app.config["EXTRACT_SECONDS"] = 0.2
    document = make_document(company, data=hostile_pdfs.text_heavy(pages=20))
    read(document)
    assert (document.extraction_status, document.extraction_failure) == ("unreadable", "timeout")


def test_a_pdf_missing_from_storage_is_unreadable_not_a_failed_job(company):
    document = make_document(company, data=invoice_pdfs.side_by_side_invoice())
    pdf_path(document.sha256).unlink()
    read(document)
    assert (document.extraction_status, document.extraction_failure) == ("unreadable", "file_missing")


# --- ta sama faktura ----------------------------------------------------------------------------


def test_the_same_invoice_in_other_bytes_points_at_the_earlier_document(company):
    first = make_document(company, data=invoice_pdfs.invoice(), received_at=datetime(2026, 1, 16, 9))
    again = make_document(company, data=invoice_pdfs.invoice(number="FV 2026/1/42", remark="Kopia"))
    read(first, again)
    assert codes(first) == []
    same = warning(again, WarningCode.SAME_INVOICE)
    assert same.params["document_id"] == first.id
    assert same.params["seller_nip"] == SELLER_NIP and same.params["number"] == "FV 2026/1/42"
    assert same.params["received"] == "2026-01-16T09:00:00"


def test_byte_identical_pdfs_are_left_to_the_duplicate_hint(company):
    data = invoice_pdfs.invoice()
    first, again = make_document(company, data=data), make_document(company, data=data)
    read(first, again)
    assert codes(again) == []


def test_another_number_from_the_same_seller_is_another_invoice(company):
    first = make_document(company, data=invoice_pdfs.invoice())
    second = make_document(company, data=invoice_pdfs.invoice(number="FV/2026/01/0043"))
    read(first, second)
    assert codes(second) == []


def test_the_same_ksef_number_is_the_same_invoice_whatever_the_number_reads(company):
    first = make_document(company, data=invoice_pdfs.ksef_visualisation())
    again = make_document(company, data=invoice_pdfs.invoice(number="X/1", ksef_number=KSEF_NUMBER))
    read(first, again)
    assert codes(first) == [WarningCode.KSEF]
    same = warning(again, WarningCode.SAME_KSEF_NUMBER)
    assert (same.params["document_id"], same.params["ksef_number"]) == (first.id, KSEF_NUMBER)


def test_another_companys_invoice_is_not_compared(company):
    read(make_document(make_company("Gamma", nip=BUYER_NIP), data=invoice_pdfs.invoice()))
    document = make_document(company, data=invoice_pdfs.invoice(remark="Kopia"))
    read(document)
    assert codes(document) == []


def test_an_earlier_document_read_late_warns_on_the_later_one_all_the_same(company):
    first = make_document(company, data=invoice_pdfs.invoice())
    again = make_document(company, data=invoice_pdfs.invoice(remark="Kopia"))
    read(again)  # a second worker was quicker
    assert codes(again) == []
    read(first)
    db.session.refresh(again)
    assert codes(again) == [WarningCode.SAME_INVOICE] and codes(first) == []


# --- zmieniony rachunek ---------------------------------------------------------------------------


def test_a_new_account_of_a_known_seller_shows_the_old_and_the_new(company):
    first = make_document(company, data=invoice_pdfs.invoice())
    changed = make_document(company, data=invoice_pdfs.invoice(number="FV/2/2026", account=OTHER_NRB))
    read(first, changed)
    found = warning(changed, WarningCode.CHANGED_ACCOUNT)
    assert found.params == {"seller_nip": SELLER_NIP, "new": [OTHER_ACCOUNT], "old": [SELLER_ACCOUNT]}


def test_the_first_account_and_a_known_one_are_no_change(company):
    first = make_document(company, data=invoice_pdfs.invoice())
    same = make_document(company, data=invoice_pdfs.invoice(number="FV/2/2026", account="PL" + SELLER_NRB))
    other_seller = make_document(
        company, data=invoice_pdfs.invoice(number="FV/3/2026", seller_nip=OTHER_NIP, account=OTHER_NRB)
    )
    read(first, same, other_seller)
    assert codes(first) == codes(same) == codes(other_seller) == []


# --- inna firma? and KSeF ---------------------------------------------------------------------------


def test_a_document_naming_other_nips_only_asks_whether_it_is_another_company(company):
    document = make_document(company, data=invoice_pdfs.invoice(buyer_nip=OTHER_NIP))
    read(document)
    found = warning(document, WarningCode.OTHER_COMPANY)
    assert found.params == {"nips": [SELLER_NIP, OTHER_NIP], "company_nip": BUYER_NIP}


def test_the_company_as_seller_is_its_own_document(company):
    document = make_document(company, data=invoice_pdfs.invoice(seller_nip=BUYER_NIP, buyer_nip=OTHER_NIP))
    read(document)
    assert WarningCode.OTHER_COMPANY not in codes(document)


def test_without_the_companys_nip_nothing_is_said_about_other_companies(app):
    company = make_company("Bez NIP-u")
    document = make_document(company, data=invoice_pdfs.invoice(buyer_nip=OTHER_NIP))
    read(document)
    assert codes(document) == []


def test_a_ksef_number_or_the_offline_mark_is_pointed_out(company):
    in_ksef = make_document(company, data=invoice_pdfs.ksef_visualisation())
    offline = make_document(company, data=invoice_pdfs.offline_invoice())
    read(in_ksef, offline)
    assert warning(in_ksef, WarningCode.KSEF).params == {"ksef_number": KSEF_NUMBER}
    assert codes(offline) == [WarningCode.KSEF_OFFLINE]
    assert offline.offline_mark is True


def test_reading_again_gives_the_same_warnings(company):
    first = make_document(company, data=invoice_pdfs.invoice())
    again = make_document(company, data=invoice_pdfs.invoice(remark="Kopia", buyer_nip=OTHER_NIP))
    read(first, again)
    before = again.warnings
    read(first, again)
    assert again.warnings == before
    assert codes(again) == [WarningCode.OTHER_COMPANY, WarningCode.SAME_INVOICE]


# --- after intake: the check only asks for it ------------------------------------------------------


def test_the_check_asks_a_worker_to_read_what_it_took_and_the_worker_does(
    sqlite_app, dovecot, redis_url, redis_conn
):
    sqlite_app.config.update(REDIS_URL=redis_url, CA_BUNDLE=str(dovecot.ca_path))
    box = new_box(dovecot)
    company = make_company("Beta S.A.", nip=BUYER_NIP)
    server = make_dovecot_server(box, company)
    box.user.append("INBOX", m.with_pdf(invoice_pdfs.invoice(), filename="fv-42.pdf"))
    box.user.append("INBOX", m.with_pdf(invoice_pdfs.invoice(remark="Kopia"), filename="fv-42-kopia.pdf"))

    result = run_check(server.id, trigger="cli")

    assert result.counts.documents == 2
    taken = db.session.scalars(select(Document).order_by(Document.id)).all()
    assert [d.extraction_status for d in taken] == ["pending", "pending"]  # intake read nothing
    [job] = Queue(DOCUMENTS_QUEUE, connection=redis_conn).get_jobs()  # behind the checks
    assert job.func_name == "ekpanel.documents.extraction.extract_documents"
    assert sorted(job.args[0]) == [d.id for d in taken]

    make_worker(sqlite_app, simple=True, connection=redis_conn).work(burst=True)
    for document in taken:
        db.session.refresh(document)
    assert [d.extraction_status for d in taken] == ["ok", "ok"]
    assert codes(taken[1]) == [WarningCode.SAME_INVOICE]


def test_with_redis_away_the_check_takes_its_documents_and_they_wait_to_be_read(sqlite_app, dovecot):
    assert sqlite_app.config["REDIS_URL"] == "redis://127.0.0.1:9/0"  # nothing listens there
    sqlite_app.config["CA_BUNDLE"] = str(dovecot.ca_path)
    box = new_box(dovecot)
    server = make_dovecot_server(box, make_company())
    box.user.append("INBOX", m.with_pdf(invoice_pdfs.invoice()))

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.documents) == ("ok", 1)
    assert box.user.list("INBOX") == []  # moved, as ever
    [document] = db.session.scalars(select(Document)).all()
    assert document.extraction_status == "pending"


# --- flask --app wsgi documents extract ------------------------------------------------------------


def extract_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["documents", "extract", *args])


def test_the_backfill_reads_what_waits_with_a_progress_bar_and_a_summary(app, company):
    documents = [
        make_document(company, data=invoice_pdfs.invoice()),
        make_document(company, data=invoice_pdfs.scanned_invoice()),
        make_document(company, data=b"%PDF-1.4 uszkodzony"),
    ]
    elsewhere = make_document(make_company("Gamma"), data=invoice_pdfs.invoice())

    result = extract_cli(app, "--company", str(company.id))

    assert result.exit_code == 0, result.output
    assert "Odczyt dokumentów" in result.output  # the bar itself shows on a terminal only
    assert "Dokumenty: 3 (odczytane: 1, bez tekstu (skany): 1, nie udało się odczytać: 1)." in result.output
    for document in (*documents, elsewhere):
        db.session.refresh(document)
    assert [d.extraction_status for d in documents] == ["ok", "no_text", "unreadable"]
    assert elsewhere.extraction_status == "pending"  # another company's

    again = extract_cli(app, "--company", str(company.id))
    assert "Nie ma dokumentów do odczytania." in again.output


def test_the_backfill_with_all_reads_everything_again(app, company):
    document = make_document(company, data=invoice_pdfs.invoice())
    read(document)
    document.invoice_number = "zmieniony ręcznie"
    db.session.commit()
    result = extract_cli(app, "--all")
    assert result.exit_code == 0, result.output
    db.session.refresh(document)
    assert document.invoice_number == "FV/2026/01/0042"


def test_old_documents_read_late_give_their_warnings_to_the_new_ones(app, company):
    old = make_document(company, data=invoice_pdfs.invoice())  # taken before reading existed
    new = make_document(company, data=invoice_pdfs.invoice(remark="Kopia"))
    read(new)  # read by a worker after intake
    assert codes(new) == []

    result = extract_cli(app)

    assert "Ostrzeżenia sprawdzone ponownie dla późniejszych dokumentów: 1." in result.output
    db.session.refresh(new)
    assert warning(new, WarningCode.SAME_INVOICE).params["document_id"] == old.id


def test_the_backfill_of_an_unknown_company_says_so(app):
    result = extract_cli(app, "--company", "999")
    assert result.exit_code != 0 and "Nie ma firmy o ID 999." in result.output
