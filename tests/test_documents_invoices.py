"""The list shows what each PDF is, finds it by invoice number and NIP, and exports it for Excel.

On SQLite and PostgreSQL; the PDFs are read by the real reader (ekpanel.documents.extraction).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook

from ekpanel.documents.extraction import extract_documents
from ekpanel.extensions import db
from tests.factories import make_company, make_document, make_user
from tests.support import invoice_pdfs
from tests.support.invoice_pdfs import BUYER_NIP, OTHER_NIP, OTHER_NRB, SELLER_NIP


@pytest.fixture
def company():
    return make_company("Beta S.A.", nip=BUYER_NIP)


@pytest.fixture
def operator(client, auth, company):
    user = make_user("anna", companies=[company])
    auth.login("anna")
    return user


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    """Made once: fpdf2 takes a moment per PDF."""
    return {
        "first": invoice_pdfs.invoice(),
        "again": invoice_pdfs.invoice(remark="Kopia"),
        "new_account": invoice_pdfs.invoice(number="FV/2026/02/0007", account=OTHER_NRB, due="99,90 PLN"),
        "other_company": invoice_pdfs.invoice(number="A/1", buyer_nip=OTHER_NIP, seller_nip=OTHER_NIP),
        "scan": invoice_pdfs.scanned_invoice(),
    }


@pytest.fixture
def invoices(company, pdfs):
    """An invoice, the same one again in other bytes, one with a new account, one for another
    company, a scan, a broken file; all read."""
    documents = {
        "first": make_document(
            company,
            data=pdfs["first"],
            sender="Hurtownia Łódź <faktury@dostawca.pl>",
            subject="Faktura za styczeń — żółte kartki",
            filename="FV_2026_01_0042.pdf",
            received_at=datetime(2026, 1, 16, 9, 0),
        ),
        "again": make_document(
            company,
            data=pdfs["again"],
            filename="kopia.pdf",
            received_at=datetime(2026, 1, 17, 9, 0),
        ),
        "new_account": make_document(
            company,
            data=pdfs["new_account"],
            received_at=datetime(2026, 2, 3, 9, 0),
        ),
        "other_company": make_document(
            company,
            data=pdfs["other_company"],
            received_at=datetime(2026, 2, 4, 9, 0),
        ),
        "scan": make_document(company, data=pdfs["scan"], received_at=datetime(2026, 2, 5)),
        "broken": make_document(company, data=b"%PDF-1.4 uszkodzony", received_at=datetime(2026, 2, 6)),
    }
    extract_documents([d.id for d in documents.values()])
    return documents


def rows_by_id(html: str) -> dict[int, str]:
    return {int(n): row for n, row in re.findall(r'data-document-id="(\d+)"(.*?)</tr>', html, re.S)}


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-document-id="(\d+)"', html)]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.replace("<wbr>", "")))


def test_each_row_shows_number_seller_amount_and_its_warnings(client, operator, company, invoices):
    html = client.get(f"/companies/{company.id}/documents").get_data(as_text=True)
    rows = rows_by_id(html)

    first = text_of(rows[invoices["first"].id])
    assert "FV/2026/01/0042" in first and SELLER_NIP in first
    assert "1\xa0230,00" in rows[invoices["first"].id] and "PLN" in first  # a no-break space
    assert "ta sama faktura" not in first

    again = rows[invoices["again"].id]
    assert re.search(
        rf'<a class="badge warn warning same_invoice"[^>]*href="/documents/{invoices["first"].id}\?', again
    )
    assert "ta sama faktura" in again
    changed = rows[invoices["new_account"].id]
    assert "zmieniony rachunek" in changed and "PL35 1140 2004 0000 3202 7560 0012" in changed  # in the title
    assert "inna firma?" in rows[invoices["other_company"].id]
    assert "skan" in text_of(rows[invoices["scan"].id])
    broken = rows[invoices["broken"].id]
    assert re.search(
        r'<span class="badge fail reading" title="PDF jest uszkodzony">nie udało się odczytać</span>', broken
    )


def test_a_document_not_read_yet_says_so(client, operator, company):
    document = make_document(company)
    row = rows_by_id(client.get(f"/companies/{company.id}/documents").get_data(as_text=True))[document.id]
    assert "odczyt…" in row


def test_an_english_reader_sees_the_warnings_in_english(client, operator, company, invoices):
    client.post("/account/language", data={"language": "en", "next": "/"})
    html = client.get(f"/companies/{company.id}/documents").get_data(as_text=True)
    assert "same invoice" in html and "changed account" in html and "other company?" in html
    assert "1,230.00" in html
    assert "ta sama faktura" not in html and "zmieniony rachunek" not in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("FV/2026/01/0042", ["again", "first"]),  # as printed
        ("fv 2026/1/42", ["again", "first"]),  # as typed from memory
        ("2026/02/0007", ["new_account"]),
        ("774-000-14-54", ["other_company"]),  # a NIP the way people write it
        ("PL5260250274", ["new_account", "again", "first"]),
        ("żółte", ["first"]),  # the subject, as before
    ],
)
def test_the_search_finds_invoice_numbers_and_nips(client, operator, company, invoices, q, expected):
    html = client.get(f"/companies/{company.id}/documents", query_string={"q": q}).get_data(as_text=True)
    assert listed_ids(html) == [invoices[name].id for name in expected]


def test_the_warnings_filter_keeps_documents_with_a_warning(client, operator, company, invoices):
    html = client.get(f"/companies/{company.id}/documents", query_string={"warnings": "y"}).get_data(
        as_text=True
    )
    assert listed_ids(html) == [invoices[name].id for name in ("other_company", "new_account", "again")]
    assert re.search(r'<input checked class="filter-at-once" id="warnings"', html)
    # Paging and the export keep the filter.
    assert f"/companies/{company.id}/documents/export.csv?warnings=y" in html


def test_the_document_page_says_each_warning_and_what_was_read_from_where(client, operator, invoices):
    again, first = invoices["again"], invoices["first"]
    html = client.get(f"/documents/{again.id}").get_data(as_text=True)
    warnings = re.search(r'<ul class="document-warnings".*?</ul>', html, re.S).group(0)
    assert "Ta sama faktura: sprzedawca 5260250274 i numer FV/2026/01/0042" in text_of(warnings)
    assert "FV_2026_01_0042.pdf otrzymanym 2026-01-16 10:00" in text_of(warnings)
    assert f'href="/documents/{first.id}?back=' in warnings
    reading = text_of(re.search(r'<section class="document-reading".*?</section>', html, re.S).group(0))
    assert "Nr faktury FV/2026/01/0042 „Faktura VAT nr FV/2026/01/0042”" in reading
    assert "NIP nabywcy 1234563218 „NIP: 1234563218”" in reading
    assert "PL61 1090 1014 0000 0712 1981 2874" in reading

    changed = text_of(client.get(f"/documents/{invoices['new_account'].id}").get_data(as_text=True))
    assert (
        "Zmieniony rachunek sprzedawcy 5260250274: PL35 1140 2004 0000 3202 7560 0012; "
        "na wcześniejszych dokumentach: PL61 1090 1014 0000 0712 1981 2874."
    ) in changed
    broken = text_of(client.get(f"/documents/{invoices['broken'].id}").get_data(as_text=True))
    assert "Nie udało się odczytać: PDF jest uszkodzony." in broken


# --- Eksportuj --------------------------------------------------------------------------------------


def test_the_csv_opens_in_polish_excel(client, operator, company, invoices):
    response = client.get(f"/companies/{company.id}/documents/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM

    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    header, rows = table[0], table[1:]
    assert header[:4] == ["Data otrzymania", "Nadawca", "Temat", "Plik"]
    assert len(rows) == 6
    first = dict(zip(header, rows[-1], strict=True))  # the oldest is last, as in the list
    assert first["Nadawca"] == "Hurtownia Łódź <faktury@dostawca.pl>"
    assert first["Temat"] == "Faktura za styczeń — żółte kartki"
    assert first["Data otrzymania"] == "2026-01-16 10:00"
    assert first["Kwota do zapłaty"] == "1230,00" and first["Waluta"] == "PLN"
    assert first["NIP sprzedawcy"] == SELLER_NIP and first["Nr faktury"] == "FV/2026/01/0042"
    assert first["Rachunek"] == "PL61 1090 1014 0000 0712 1981 2874"
    assert first["Link do PDF"] == f"http://localhost/documents/{invoices['first'].id}/pdf"
    again = dict(zip(header, rows[-2], strict=True))
    assert again["Ostrzeżenia"] == "ta sama faktura"
    assert data.count(b"\r\n") == 7  # one line per row, the header included


def test_the_export_is_the_filtered_list_not_just_its_page(client, operator, company, invoices):
    data = client.get(
        f"/companies/{company.id}/documents/export.csv", query_string={"warnings": "y"}
    ).get_data()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [row["Ostrzeżenia"] for row in rows] == ["inna firma?", "zmieniony rachunek", "ta sama faktura"]


def test_the_xlsx_has_real_numbers_dates_and_links(client, operator, company, invoices):
    response = client.get(f"/companies/{company.id}/documents/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    header = [cell.value for cell in sheet[1]]
    first = {name: cell for name, cell in zip(header, sheet[sheet.max_row], strict=True)}
    assert sheet.max_row == 7
    assert first["Nadawca"].value == "Hurtownia Łódź <faktury@dostawca.pl>"
    assert first["Kwota do zapłaty"].data_type == "n" and first["Kwota do zapłaty"].value == 1230
    assert first["Kwota do zapłaty"].number_format == "#,##0.00"
    assert first["Data otrzymania"].value == datetime(2026, 1, 16, 10, 0)
    link = first["Link do PDF"]
    assert link.value == link.hyperlink.target == f"http://localhost/documents/{invoices['first'].id}/pdf"


def test_a_subject_that_looks_like_a_formula_stays_text(client, operator, company):
    make_document(company, subject='=HYPERLINK("http://zly.example","kliknij")', sender="@atak.example")
    csv_data = client.get(f"/companies/{company.id}/documents/export.csv").get_data().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(csv_data), delimiter=";"))
    assert row["Temat"] == '\'=HYPERLINK("http://zly.example","kliknij")'
    assert row["Nadawca"] == "'@atak.example"
    sheet = load_workbook(
        io.BytesIO(client.get(f"/companies/{company.id}/documents/export.xlsx").get_data())
    ).active
    header = [cell.value for cell in sheet[1]]
    subject = sheet.cell(row=2, column=header.index("Temat") + 1)
    assert subject.data_type == "s" and subject.value.startswith("=HYPERLINK")


def test_another_companys_operator_cannot_export(client, auth, company, invoices):
    make_user("obcy", companies=[make_company("Gamma")])
    auth.login("obcy")
    for kind in ("csv", "xlsx"):
        assert client.get(f"/companies/{company.id}/documents/export.{kind}").status_code == 404


def test_the_export_names_the_company_and_the_day(client, operator, company):
    disposition = client.get(f"/companies/{company.id}/documents/export.xlsx").headers["Content-Disposition"]
    assert re.search(r"filename=\"dokumenty Beta S.A. \d{4}-\d{2}-\d{2}\.xlsx\"", disposition)
    db.session.rollback()
