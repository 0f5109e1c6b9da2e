"""The field parsers of ekpanel.invoices on text: what they read, and what they refuse to guess."""

from datetime import date
from decimal import Decimal

import pytest

from ekpanel.invoices import (
    Amount,
    InvoiceKind,
    Role,
    TextLayer,
    is_valid_iban,
    is_valid_ksef_number,
    normalise_account,
    normalise_invoice_number,
    normalise_ksef_number,
    read_fields,
)
from ekpanel.invoices.accounts import find_accounts
from ekpanel.invoices.fields import find_amount_due, find_invoice_number, find_issue_date
from ekpanel.invoices.ksef import crc8, find_ksef_numbers, find_offline_marks
from ekpanel.invoices.nip import find_nips


def fields(text: str):
    return read_fields(TextLayer.from_plain_text(text))


# --- NIP -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NIP: 5260250274", ["5260250274"]),
        ("NIP 526-025-02-74", ["5260250274"]),
        ("NIP: PL 526-025-02-74", ["5260250274"]),
        ("VAT UE: PL5260250274", ["5260250274"]),
        ("PL 526 025 02 74", ["5260250274"]),
        ("526-02-50-274", ["5260250274"]),  # dashed the other conventional way, no label needed
        ("NIP: 5260250275", []),  # wrong check digit
        ("NIP: 0000000000", []),  # passes the sum, is no one's NIP
        ("Zamówienie 5260250274", []),  # ten digits without a label: an order number as likely
        ("NIP: 52602502741", []),  # eleven digits
        ("Konto: 61 1090 1014 0000 0712 1981 2874", []),  # inside an account number
        ("5260250274-20260115-3A1F00C2B7D9-2B", []),  # inside a KSeF number
        ("NIP: 5260250274, NIP nabywcy: 123-456-32-18", ["5260250274", "1234563218"]),
    ],
)
def test_nips_are_read_with_a_valid_check_digit_and_a_sign_they_are_nips(text, expected):
    assert [match.value for match in find_nips(text)] == expected


def test_only_the_valid_one_of_two_nips_is_kept():
    details = fields("Sprzedawca:\tNabywca:\nNIP: 5260250274\tNIP: 123-456-32-19")
    assert [(nip.value, nip.role) for nip in details.nips] == [("5260250274", Role.SELLER)]


# --- Roles ---------------------------------------------------------------------------------


def test_side_by_side_headings_give_each_column_its_role():
    details = fields("Sprzedawca:\tNabywca:\nAlfa Sp. z o.o.\tBeta S.A.\nNIP: 5260250274\tNIP: 1234563218")
    assert [(nip.value, nip.role, nip.role_snippet) for nip in details.nips] == [
        ("5260250274", Role.SELLER, "Sprzedawca"),
        ("1234563218", Role.BUYER, "Nabywca"),
    ]


def test_stacked_blocks_take_the_nearest_heading_above():
    details = fields("Sprzedawca\nAlfa\nNIP 5260250274\n\nNabywca\nBeta\nNIP 1234563218")
    assert [(nip.value, nip.role) for nip in details.nips] == [
        ("5260250274", Role.SELLER),
        ("1234563218", Role.BUYER),
    ]


def test_words_before_the_number_on_its_line_give_the_role():
    details = fields("NIP sprzedawcy: 5260250274\nNIP nabywcy: 1234563218")
    assert [(nip.value, nip.role, nip.role_snippet) for nip in details.nips] == [
        ("5260250274", Role.SELLER, "sprzedawcy"),
        ("1234563218", Role.BUYER, "nabywcy"),
    ]


def test_recipient_is_the_buyer_only_where_no_buyer_is_named():
    alone = fields("Wystawca:\nNIP 5260250274\nOdbiorca:\nNIP 1234563218")
    assert [nip.role for nip in alone.nips] == [Role.SELLER, Role.BUYER]
    beside_buyer = fields("Nabywca:\nNIP 1234563218\nOdbiorca:\nNIP 7740001454")
    assert [nip.role for nip in beside_buyer.nips] == [Role.BUYER, Role.RECIPIENT]


def test_a_nip_under_a_third_party_or_no_heading_gets_no_role():
    details = fields("Nabywca:\nNIP 1234563218\nPodmiot trzeci:\nNIP 7740001454")
    assert [(nip.value, nip.role) for nip in details.nips] == [
        ("1234563218", Role.BUYER),
        ("7740001454", None),
    ]
    assert [nip.role for nip in fields("NIP 5260250274").nips] == [None]


def test_small_print_mentioning_the_seller_is_no_heading():
    details = fields("Sprzedawca zastrzega sobie prawo własności towaru.\nNIP 5260250274")
    assert [nip.role for nip in details.nips] == [None]


# --- Bank accounts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nr konta: 61 1090 1014 0000 0712 1981 2874", ["PL61109010140000071219812874"]),
        ("61109010140000071219812874", ["PL61109010140000071219812874"]),
        ("IBAN: PL61 1090 1014 0000 0712 1981 2874 BIC: WBKPPLPP", ["PL61109010140000071219812874"]),
        ("IBAN DE30507500940000048567", ["DE30507500940000048567"]),
        ("Nr konta: 62 1090 1014 0000 0712 1981 2874", []),  # checksum fails
        ("IBAN: NL27INGB0000026501", []),  # checksum fails
        ("XX12 3456 7890 1234 5678", []),  # no such country
        ("Zamówienie 61 1090 1014 0000 0712 1981 2874 55", []),  # runs on past 26 digits
    ],
)
def test_accounts_are_read_when_their_checksum_holds(text, expected):
    assert [match.value for match in find_accounts(text)] == expected


def test_an_nrb_and_its_iban_are_one_account():
    nrb = normalise_account("61 1090 1014 0000 0712 1981 2874")
    assert nrb == normalise_account("PL61-1090-1014-0000-0712-1981-2874") == "PL61109010140000071219812874"
    assert normalise_account("pl61109010140000071219812874") == nrb
    assert normalise_account("61 1090 1014 0000 0712 1981 2875") is None
    assert is_valid_iban("FR76 1010 7002 4500 6170 5231 739")
    assert not is_valid_iban("FR76 1010 7002 4500 6170 5231 73")


# --- KSeF -----------------------------------------------------------------------------------


def test_the_ministrys_example_is_the_checksum_test_vector():
    assert f"{crc8(b'5265877635-20250826-0100001AF629'):02X}" == "AF"
    assert is_valid_ksef_number("5265877635-20250826-0100001AF629-AF")
    assert not is_valid_ksef_number("5265877635-20250826-0100001AF629-AE")
    assert not is_valid_ksef_number("5265877635-20250832-0100001AF629-AF")  # no 32nd of August


def test_the_ksef_10_form_with_a_split_technical_part_is_read_as_the_35_character_number():
    assert normalise_ksef_number("5265877635-20250826-0100001-AF629-AF") is None  # split 7/5: no form
    assert normalise_ksef_number("5265877635-20250826-0100001A-F629-AF") is None
    assert (
        normalise_ksef_number("5265877635-20250826-010000-1AF629-AF") == "5265877635-20250826-0100001AF629-AF"
    )


def test_a_ksef_number_wrapped_after_a_hyphen_is_read_whole():
    text = "Numer KSeF:\n5260250274-20260115-\n3A1F00C2B7D9-2B"
    assert [match.value for match in find_ksef_numbers(text)] == ["5260250274-20260115-3A1F00C2B7D9-2B"]


def test_lower_case_or_a_wrong_checksum_is_no_ksef_number():
    assert find_ksef_numbers("5260250274-20260115-3a1f00c2b7d9-2b") == []
    assert find_ksef_numbers("5260250274-20260115-3A1F00C2B7D9-2C") == []


def test_the_ksef_number_of_the_corrected_invoice_is_not_this_ones():
    details = fields(
        "Numer KSeF: 5265877635-20250826-0100001AF629-AF\n"
        "Numer KSeF faktury korygowanej: 5260250274-20260115-3A1F00C2B7D9-2B"
    )
    assert details.ksef_number.value == "5265877635-20250826-0100001AF629-AF"


def test_offline_is_a_mark_in_capitals_on_its_own():
    assert find_offline_marks("Sprawdź w KSeF\nOFFLINE\n") == [(15, 22)]
    assert find_offline_marks("faktura wystawiona w trybie offline") == []
    assert find_offline_marks("OFFLINE24") == []


# --- Invoice number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number", "kind"),
    [
        ("Faktura VAT nr FV/2026/01/0042", "FV/2026/01/0042", InvoiceKind.REGULAR),
        ("FAKTURA NR: 12/01/2026 z dnia 2026-01-15", "12/01/2026", InvoiceKind.REGULAR),
        ("Faktura nr FV 12/2026", "FV 12/2026", InvoiceKind.REGULAR),
        ("Faktura korygująca nr FK/3/2026", "FK/3/2026", InvoiceKind.CORRECTION),
        ("KOREKTA nr KOR-1-2026", "KOR-1-2026", InvoiceKind.CORRECTION),
        ("Faktura pro forma nr PF/7/2026", "PF/7/2026", InvoiceKind.PROFORMA),
        ("Faktura proforma nr PF/8/2026", "PF/8/2026", InvoiceKind.PROFORMA),
        ("Numer faktury:\nFA/YUCFO-4342344706/03/2026\nFaktura korygująca", "FA/YUCFO-4342344706/03/2026",
         InvoiceKind.CORRECTION),
        ("Invoice No : # BLR_WFLD20151000982590", "BLR_WFLD20151000982590", InvoiceKind.REGULAR),
        ("FAKTURA VAT 12/01/2026\nData wystawienia: 2026-01-15", "12/01/2026", InvoiceKind.REGULAR),
        ("Faktura korygująca FK/3/2026", "FK/3/2026", InvoiceKind.CORRECTION),
    ],
)  # fmt: skip
def test_the_invoice_number_is_read_from_its_label(text, number, kind):
    found = find_invoice_number(text)
    assert (found.value.value, found.value.kind) == (number, kind)


@pytest.mark.parametrize(
    "text",
    [
        "Korekta do faktury nr FV/2025/12/0107",  # the corrected invoice's number
        "Numer faktury korygowanej: FV/2025/12/0107",
        "Faktura nr 1/2026\nFaktura nr 2/2026",  # two numbers: which one?
        "Faktura nr\tData wystawienia",  # a heading row, the values elsewhere
        "Zamówienie nr 15/2026",
        "Faktura VAT 2026",  # no "nr", no slash: a year as likely as a number
    ],
)
def test_no_invoice_number_is_guessed(text):
    assert find_invoice_number(text) is None


def test_the_correction_keeps_its_own_number_not_the_corrected_ones():
    found = find_invoice_number(
        "Faktura korygująca nr FK/3/2026\nDo faktury nr FV/2025/12/0107 z dnia 2025-12-20"
    )
    assert found.value.value == "FK/3/2026"


def test_invoice_numbers_compare_without_case_separators_or_leading_zeros():
    assert normalise_invoice_number("FV/001/2026") == normalise_invoice_number("fv 1/2026") == "FV/1/2026"
    assert normalise_invoice_number("FV-1-2026") == "FV/1/2026"
    assert normalise_invoice_number("1/10/2026") != normalise_invoice_number("11/0/2026")


# --- Issue date -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Data wystawienia: 2026-01-15", date(2026, 1, 15)),
        ("Data wystawienia: 15.01.2026", date(2026, 1, 15)),
        ("Miejsce i data wystawienia: Warszawa, 15-01-2026", date(2026, 1, 15)),
        ("Data wystawienia, z zastrzeżeniem art. 106na ust. 1 ustawy: 2025-10-31", date(2025, 10, 31)),
        ("Data wystawienia:\n2026-01-15", date(2026, 1, 15)),
        ("Data wystawienia/sprzedaży: 2026-01-15", date(2026, 1, 15)),
        ("Data wystawienia i sprzedaży: 15.01.2026 r.", date(2026, 1, 15)),
        ("Faktura nr 1/2026 z dnia 5 stycznia 2026 r.", date(2026, 1, 5)),
        ("Invoice Date: 20-10-2015", date(2015, 10, 20)),
    ],
)
def test_the_issue_date_is_read_from_its_label(text, expected):
    assert find_issue_date(text).value == expected


@pytest.mark.parametrize(
    "text",
    [
        "Data sprzedaży: 2026-01-14",
        "Data wystawienia:\tData sprzedaży: 2026-01-14",  # the date is the other label's
        "Data wystawienia: 2026-02-30",  # no such day
        "Data wystawienia: 2026-01-15\nData wystawienia: 2026-01-16",
        "Do faktury nr 1/2026 z dnia 2025-12-20",  # the corrected invoice's date
    ],
)
def test_no_issue_date_is_guessed(text):
    assert find_issue_date(text) is None


# --- Amount due -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Do zapłaty: 1 230,00 PLN", Amount(Decimal("1230.00"), "PLN")),
        ("Do zapłaty: 1.230,00 zł", Amount(Decimal("1230.00"), "PLN")),
        ("Razem do zapłaty:\t12 345 678,90 zł", Amount(Decimal("12345678.90"), "PLN")),
        ("Do zapłaty: -246,00 PLN", Amount(Decimal("-246.00"), "PLN")),
        ("Amount due: € 1,230.50", Amount(Decimal("1230.50"), "EUR")),
        ("Kwota należności ogółem: 33 569,50 PLN", Amount(Decimal("33569.50"), "PLN")),
        ("Razem brutto: 615,00 EUR", Amount(Decimal("615.00"), "EUR")),
        ("Waluta: PLN\nDo zapłaty: 99,90", Amount(Decimal("99.90"), "PLN")),
        ("Do zapłaty: 99,90", Amount(Decimal("99.90"), None)),
        # what is left to pay comes before the total
        ("Razem brutto: 1 230,00 PLN\nZapłacono: 230,00 PLN\nPozostało do zapłaty: 1 000,00 PLN",
         Amount(Decimal("1000.00"), "PLN")),
    ],
)  # fmt: skip
def test_the_amount_due_is_read_with_its_currency(text, expected):
    assert find_amount_due(text).value == expected


@pytest.mark.parametrize(
    "text",
    [
        "Do zapłaty: 1 230,00 PLN\nDo zapłaty: 1 250,00 PLN",  # two amounts: which one?
        "Termin do zapłaty: 20.01.2026",  # a date is no amount
        "Do zapłaty: 1.230.00 PLN",  # no such number
        "Razem netto: 1 000,00 PLN",
    ],
)
def test_no_amount_is_guessed(text):
    assert find_amount_due(text) is None
