"""extract_invoice on PDFs made in several layouts: every field, read through the sandboxed child."""

from datetime import date
from decimal import Decimal

import pytest

from ekpanel.invoices import (
    Amount,
    FailureReason,
    InvoiceDetails,
    InvoiceKind,
    Limits,
    Role,
    Status,
    extract_invoice,
)
from tests.support import invoice_pdfs
from tests.support.invoice_pdfs import BUYER_NIP, KSEF_NUMBER, SELLER_NIP, facts

SELLER_ACCOUNT = "PL" + invoice_pdfs.SELLER_NRB
ISSUED = date(2026, 1, 15)
BOTH_NIPS = [(SELLER_NIP, Role.SELLER), (BUYER_NIP, Role.BUYER)]


def expected(**values) -> dict:
    base = {
        "status": Status.OK,
        "nips": BOTH_NIPS,
        "number": (invoice_pdfs.INVOICE_NUMBER, InvoiceKind.REGULAR),
        "issued": ISSUED,
        "due": Amount(Decimal("1230.00"), "PLN"),
        "accounts": [SELLER_ACCOUNT],
        "ksef": None,
        "offline": False,
    }
    base.update(values)
    return base


LAYOUTS = {
    "side_by_side_invoice": expected(),
    "stacked_invoice": expected(number=("12/01/2026", InvoiceKind.REGULAR)),
    "correction_invoice": expected(
        number=("FK/3/2026", InvoiceKind.CORRECTION), due=Amount(Decimal("-246.00"), "PLN")
    ),
    "proforma_invoice": expected(
        number=("PF/7/2026", InvoiceKind.PROFORMA), due=Amount(Decimal("615.00"), "EUR"), accounts=[]
    ),
    "ksef_visualisation": expected(ksef=KSEF_NUMBER),
    "offline_invoice": expected(
        number=("FV/2026/02/0001", InvoiceKind.REGULAR),
        due=Amount(Decimal("99.90"), "PLN"),
        accounts=[],
        offline=True,
    ),
    "invoice_with_invalid_nip": expected(
        nips=[(SELLER_NIP, Role.SELLER)],
        number=("7/2026", InvoiceKind.REGULAR),
        due=Amount(Decimal("50.00"), "PLN"),
        accounts=[],
    ),
}


@pytest.fixture(scope="module")
def readings():
    return {layout: extract_invoice(getattr(invoice_pdfs, layout)()) for layout in LAYOUTS}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_yields_exactly_its_fields(readings, layout):
    assert facts(readings[layout]) == LAYOUTS[layout]


def test_each_field_keeps_the_text_it_came_from(readings):
    details = readings["side_by_side_invoice"]
    seller, buyer = details.nips
    assert (seller.snippet, seller.role_snippet) == ("NIP: PL 526-025-02-74", "Sprzedawca")
    assert (buyer.snippet, buyer.role_snippet) == (f"NIP: {BUYER_NIP}", "Nabywca")
    assert details.invoice_number.snippet == "Faktura VAT nr FV/2026/01/0042"
    assert details.issue_date.snippet == "Data wystawienia: 2026-01-15"
    assert details.amount_due.snippet == "Do zapłaty: 1 230,00 PLN"
    assert details.bank_accounts[0].snippet == "Nr rachunku: 61 1090 1014 0000 0712 1981 2874"


def test_the_ksef_number_is_read_across_the_line_break_under_the_qr_code(readings):
    assert readings["ksef_visualisation"].ksef_number.snippet == "5260250274-20260115- 3A1F00C2B7D9-2B"
    assert readings["offline_invoice"].offline_mark.snippet == "OFFLINE"


def test_the_seller_nip_is_the_one_the_layout_names(readings):
    assert readings["stacked_invoice"].seller_nip == SELLER_NIP
    assert readings["stacked_invoice"].all_nips == (SELLER_NIP, BUYER_NIP)


def test_a_scan_without_a_text_layer_is_no_text():
    details = extract_invoice(invoice_pdfs.scanned_invoice())
    assert (details.status, details.failure, details.page_count, details.nips) == (
        Status.NO_TEXT,
        None,
        1,
        (),
    )


def test_a_pdf_that_asks_for_a_password_is_encrypted_one_that_does_not_reads():
    locked = extract_invoice(invoice_pdfs.encrypted_invoice(user_password="tajne"))
    assert (locked.status, locked.failure) == (Status.UNREADABLE, FailureReason.ENCRYPTED)
    opened = extract_invoice(invoice_pdfs.encrypted_invoice(user_password=""))
    assert (opened.status, opened.seller_nip, opened.invoice_number.value.value) == (
        Status.OK,
        SELLER_NIP,
        invoice_pdfs.INVOICE_NUMBER,
    )


def test_a_path_reads_like_bytes(tmp_path):
    path = tmp_path / "faktura.pdf"
    path.write_bytes(invoice_pdfs.side_by_side_invoice())
    assert facts(extract_invoice(path)) == LAYOUTS["side_by_side_invoice"]


def test_pages_past_the_cap_make_the_pdf_unreadable():
    pdf = invoice_pdfs.long_invoice(pages=5)
    assert extract_invoice(pdf, Limits(max_pages=5)).status is Status.OK
    details = extract_invoice(pdf, Limits(max_pages=4))
    assert (details.status, details.failure, details.failure_detail) == (
        Status.UNREADABLE,
        FailureReason.TOO_MANY_PAGES,
        "5",
    )


def test_a_file_over_the_size_limit_is_not_opened(tmp_path):
    path = tmp_path / "duza.pdf"
    path.write_bytes(invoice_pdfs.side_by_side_invoice())
    details = extract_invoice(path, Limits(max_file_bytes=1000))
    assert (details.status, details.failure) == (Status.UNREADABLE, FailureReason.TOO_LARGE)


def test_bytes_without_a_pdf_header_are_not_a_pdf():
    details = extract_invoice(b"<html>Faktura VAT nr 1/2026</html>")
    assert (details.status, details.failure) == (Status.UNREADABLE, FailureReason.NOT_PDF)


def test_a_reading_survives_storage_as_json(readings):
    for details in readings.values():
        assert InvoiceDetails.from_json(details.as_json()) == details
