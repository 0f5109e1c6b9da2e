"""extract_invoice on real-world PDFs from other projects (tests/fixtures/invoices/SOURCES.md).

Exactly what each yields, including what it must not: the foreign invoices carry no Polish
fields, and a made-up KSeF number whose checksum fails is not read.
"""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ekpanel.invoices import Amount, InvoiceKind, Role, Status, extract_invoice, is_valid_ksef_number
from tests.support.invoice_pdfs import facts

FIXTURES = Path(__file__).parent / "fixtures" / "invoices"

KSEF_EXAMPLE = {
    "status": Status.OK,
    "nips": [("5265877635", Role.SELLER), ("6808208874", Role.BUYER)],
    "number": ("FA/YUCFO-4342344706/03/2026", InvoiceKind.REGULAR),
    "issued": date(2025, 10, 31),
    "due": Amount(Decimal("33569.50"), "PLN"),
    "accounts": [],
    "ksef": None,
    "offline": False,
}
FOREIGN = {
    "status": Status.OK,
    "nips": [],
    "number": None,
    "issued": None,
    "due": None,
    "accounts": [],
    "ksef": None,
    "offline": False,
}
EXPECTED = {
    # Under its QR code: 5265877635-20250808-9231003CA67B-BE, made up by the generator's
    # example; its CRC-8 is 27, not BE, so it is no KSeF number.
    "ksef-generator-invoice-ksef.pdf": KSEF_EXAMPLE,
    "ksef-generator-invoice-offline.pdf": {**KSEF_EXAMPLE, "offline": True},
    # Dates written 31.10.2025, amounts 33 569,50, "Numer KSeF: NONE".
    "ksef-generator-stybel-invoice.pdf": KSEF_EXAMPLE,
    "invoice2data-NetpresseInvoice.pdf": {**FOREIGN, "accounts": ["FR7610107002450061705231739"]},
    "invoice2data-QualityHosting.pdf": {**FOREIGN, "accounts": ["DE30507500940000048567"]},
    "invoice2data-coolblue1.pdf": {**FOREIGN, "accounts": ["NL50INGB0683251309"]},
    # "Invoice No : # BLR_…", "Invoice Date: 20-10-2015"; "VAT/TIN: 29670869006" is no NIP.
    "invoice2data-FlipkartInvoice.pdf": {
        **FOREIGN,
        "number": ("BLR_WFLD20151000982590", InvoiceKind.REGULAR),
        "issued": date(2015, 10, 20),
    },
    # "IBAN: NL27INGB0000026501": the checksum fails (…500 would pass).
    "invoice2data-camelot-example.pdf": FOREIGN,
}


def test_every_fixture_is_listed_here_and_in_sources():
    files = {path.name for path in FIXTURES.glob("*.pdf")}
    sources = (FIXTURES / "SOURCES.md").read_text()
    assert files == set(EXPECTED)
    assert all(f"`{name}`" in sources for name in files)


@pytest.mark.parametrize("name", EXPECTED)
def test_each_fixture_yields_exactly_its_fields(name):
    assert facts(extract_invoice(FIXTURES / name)) == EXPECTED[name]


def test_the_offline_mark_and_the_made_up_ksef_number_are_read_from_where_they_stand():
    offline = extract_invoice(FIXTURES / "ksef-generator-invoice-offline.pdf")
    assert offline.offline_mark.snippet == "Numer KSEF:OFFLINE"
    assert not is_valid_ksef_number("5265877635-20250808-9231003CA67B-BE")
    assert is_valid_ksef_number("5265877635-20250808-9231003CA67B-27")
