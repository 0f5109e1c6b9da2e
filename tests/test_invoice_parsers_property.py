"""Property tests of the invoice field parsers: any text gives a result, never an exception.

The text a PDF yields is the attacker's to choose. Hypothesis feeds the parsers arbitrary text
and text made of the words and digits they look for; the long inputs at the end would take
minutes (and hit the suite's timeout) if a pattern backtracked catastrophically.
"""

from datetime import date

from hypothesis import example, given
from hypothesis import strategies as st

from ekpanel.invoices import (
    InvoiceDetails,
    Status,
    TextLayer,
    is_valid_iban,
    is_valid_ksef_number,
    is_valid_nip,
    normalise_account,
    normalise_invoice_number,
    read_fields,
)
from ekpanel.invoices.accounts import find_accounts
from ekpanel.invoices.fields import find_amount_due, find_invoice_number, find_issue_date
from ekpanel.invoices.ksef import crc8, find_ksef_numbers, find_offline_marks
from ekpanel.invoices.nip import find_nips

WORDS = [
    "NIP", "NIP:", "PL", "VAT", "Sprzedawca", "Nabywca:", "Odbiorca", "Wystawca", "Podmiot trzeci",
    "Faktura", "VAT", "korygująca", "pro forma", "nr", "Numer faktury:", "Korekta", "do faktury",
    "Data wystawienia:", "z dnia", "stycznia", "Do zapłaty:", "Razem brutto", "Pozostało do zapłaty",
    "PLN", "zł", "EUR", "€", "IBAN", "OFFLINE", "Numer KSeF:", "-", "/", ".", ",", ":", " ", " ", "\t",
    "\n", "526", "025", "02", "74", "1090", "2026", "01", "15", "3A1F00", "C2B7D9", "00", "\ufffe",
]  # fmt: skip
invoice_like_text = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(max_size=4), st.integers(0, 10**12).map(str)), max_size=60
).map("".join)
any_text = st.one_of(st.text(), invoice_like_text)


@given(any_text)
@example("NIP: 526-025-02-74 526-025-02-74 " * 3)
@example("Sprzedawca:\tNabywca:\nNIP 5260250274\tNIP 1234563218")
def test_every_parser_answers_any_text(text):
    for match in find_nips(text):
        assert is_valid_nip(match.value)
    for match in find_accounts(text):
        assert is_valid_iban(match.value) and normalise_account(match.value) == match.value
    for match in find_ksef_numbers(text):
        assert is_valid_ksef_number(match.value)
    for start, end in find_offline_marks(text):
        assert text[start:end] == "OFFLINE"
    number = find_invoice_number(text)
    assert number is None or any(char.isdigit() for char in number.value.value)
    issued = find_issue_date(text)
    assert issued is None or isinstance(issued.value, date)
    find_amount_due(text)
    normalise_invoice_number(text)


@given(any_text)
def test_a_whole_reading_of_any_text_is_a_result_that_survives_storage(text):
    details = read_fields(TextLayer.from_plain_text(text))
    assert details.status is Status.OK
    assert InvoiceDetails.from_json(details.as_json()) == details
    for found in [details.invoice_number, details.issue_date, details.amount_due, details.ksef_number]:
        assert found is None or isinstance(found.snippet, str)


segments = st.lists(
    st.tuples(
        st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), any_text
    ),
    max_size=30,
)


@given(st.lists(segments, max_size=3))
def test_any_page_geometry_gives_a_result(pages):
    layer = TextLayer.from_pages([{"segments": [list(segment) for segment in page]} for page in pages])
    details = read_fields(layer)
    assert details.page_count == len(pages)


@given(st.integers(1, 10**9 - 1), st.sampled_from(["{}-{}-{}-{}", "PL{}{}{}{}", "NIP {} {} {} {}"]))
def test_any_valid_nip_written_as_people_write_it_is_found(seed, form):
    digits = f"{seed:09d}"
    check = sum(int(d) * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    nip = digits + str(check)
    text = "Dane: " + form.format(nip[:3], nip[3:6], nip[6:8], nip[8:])
    if check == 10 or nip == "0000000000":
        assert find_nips(text) == []
    else:
        assert [match.value for match in find_nips(text)] == [nip]


@given(st.text("0123456789", min_size=24, max_size=24), st.booleans())
def test_any_valid_nrb_is_found_as_its_iban(bban, grouped):
    check = 98 - int("".join(str(int(c, 36)) for c in bban + "PL00")) % 97
    nrb = f"{check:02d}{bban}"
    written = " ".join([nrb[:2]] + [nrb[i : i + 4] for i in range(2, 26, 4)]) if grouped else nrb
    assert [match.value for match in find_accounts(f"Rachunek: {written}\n")] == ["PL" + nrb]


@given(st.dates(date(2022, 1, 1), date(2099, 12, 31)), st.text("0123456789ABCDEF", min_size=12, max_size=12))
def test_any_ksef_number_with_its_checksum_is_found(day, technical):
    data = f"5260250274-{day:%Y%m%d}-{technical}"
    number = f"{data}-{crc8(data.encode()):02X}"
    assert [match.value for match in find_ksef_numbers(f"Numer KSeF: {number}")] == [number]


def test_long_adversarial_texts_are_read_in_one_pass():
    texts = [
        "1 " * 100_000,
        "1-" * 100_000,
        "NIP " * 50_000 + "5260250274",
        "Do zapłaty: " * 20_000 + "1 230,00 PLN",
        "Faktura nr " * 20_000,
        "Data wystawienia " * 20_000 + "2026-01-15",
        "PL61 " * 50_000,
        "5260250274-20260115-" * 20_000,
        "Sprzedawca:\n" * 20_000 + "NIP 5260250274",
        "1 000 " * 50_000 + ",00",
    ]
    for text in texts:
        details = read_fields(TextLayer.from_plain_text(text))
        assert details.status is Status.OK
