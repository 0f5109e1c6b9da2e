"""What each PDF is, end to end: mail in Dovecot, Odśwież in real Chromium, an RQ worker, the list.

The same invoice as two different PDFs gives "ta sama faktura", a changed account "zmieniony
rachunek", a document for another NIP "inna firma?"; the export opens with Polish letters and
decimal commas.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from ekpanel.checks.workers import make_worker
from ekpanel.extensions import db
from tests.factories import make_dovecot_server, make_user
from tests.support import invoice_pdfs
from tests.support import messages as m
from tests.support.browser import htmx_settled, log_in
from tests.support.invoice_pdfs import BUYER_NIP, OTHER_NIP, OTHER_NRB

pytestmark = pytest.mark.browser

OTHER_SELLER_NIP = "7251801126"


def make_server(mail_user, **fields):
    """A server on the test Dovecot user's INBOX that admits any sender."""
    return make_dovecot_server(mail_user, whitelist=["*@*"], folders=["INBOX"], **fields)


@pytest.fixture
def worker_app(live_server, redis_url, redis_conn, dovecot):
    live_server.app.config.update(REDIS_URL=redis_url, CA_BUNDLE=str(dovecot.ca_path))
    return live_server.app


@pytest.fixture
def mailbox_with_invoices(mail_user):
    """Four messages, each with one invoice PDF, in the order they came."""
    invoices = [
        ("fv-0042.pdf", "Faktura FV/2026/01/0042", invoice_pdfs.invoice()),
        ("fv-0042-kopia.pdf", "Faktura — ponownie", invoice_pdfs.invoice(remark="Kopia wysłana ponownie")),
        ("fv-0107.pdf", "Faktura za luty", invoice_pdfs.invoice(number="FV/2026/02/0107", account=OTHER_NRB)),
        (
            "obca.pdf",
            "Faktura dla kogoś innego",
            invoice_pdfs.invoice(number="Z/9/2026", seller_nip=OTHER_SELLER_NIP, buyer_nip=OTHER_NIP),
        ),
    ]
    for filename, subject, pdf in invoices:
        mail_user.append("INBOX", m.with_pdf(pdf, filename=filename, subject=subject))
    return mail_user


def rows(page) -> dict[str, object]:
    """The list's rows by file name."""
    found = {}
    for row in page.locator("#documents tbody tr").all():
        found[row.locator("a.filename").inner_text()] = row
    return found


def test_warnings_show_in_the_list_and_on_the_page_after_intake(
    page, worker_app, redis_conn, mailbox_with_invoices
):
    server = make_server(mailbox_with_invoices)
    server.company.nip = BUYER_NIP
    db.session.commit()
    make_user("ewa", companies=[server.company], can_refresh=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    log_in(page, "ewa")
    page.get_by_role("button", name="Odśwież").click()
    expect(page.locator("#refresh-progress")).to_contain_text("w kolejce")  # queued before a worker looks
    make_worker(worker_app, simple=True, connection=redis_conn).work(burst=True)  # the check, the reading
    expect(page.locator("#refresh-progress")).to_contain_text("Sprawdzanie zakończone")
    page.reload()
    htmx_settled(page)

    listed = rows(page)
    assert sorted(listed) == ["fv-0042-kopia.pdf", "fv-0042.pdf", "fv-0107.pdf", "obca.pdf"]
    first, again, changed, foreign = (
        listed[name] for name in ("fv-0042.pdf", "fv-0042-kopia.pdf", "fv-0107.pdf", "obca.pdf")
    )
    expect(first.locator(".invoice-number")).to_have_text("FV/2026/01/0042")
    expect(first.locator(".seller-nip")).to_have_text(invoice_pdfs.SELLER_NIP)
    expect(first.locator("td.amount")).to_have_text(re.compile(r"1\s230,00\s+PLN"))
    expect(first.locator(".warnings-cell .badge")).to_have_count(0)
    expect(again.locator(".badge.same_invoice")).to_have_text("ta sama faktura")
    expect(changed.locator(".badge.changed_account")).to_have_text("zmieniony rachunek")
    expect(changed.locator(".badge.same_invoice")).to_have_count(0)
    expect(foreign.locator(".badge.other_company")).to_have_text("inna firma?")

    # The nine columns fit a 1366 px screen: the table does not scroll sideways.
    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth"), wrap.evaluate(
        "el => [el.scrollWidth, el.clientWidth]"
    )

    # The badge leads to the earlier document; the page of the later one says why.
    again.locator(".badge.same_invoice").click()
    expect(page.locator("h1")).to_have_text("fv-0042.pdf")
    page.go_back()
    rows(page)["fv-0042-kopia.pdf"].locator("a.filename").click()
    warnings = page.locator("#document-warnings")
    expect(warnings).to_contain_text("Ta sama faktura: sprzedawca 5260250274 i numer FV/2026/01/0042")
    warnings.get_by_role("link", name="Otwórz wcześniejszy dokument").click()
    expect(page.locator("h1")).to_have_text("fv-0042.pdf")
    expect(page.locator("#document-reading")).to_contain_text("PL61 1090 1014 0000 0712 1981 2874")

    page.go_back()
    page.go_back()
    rows(page)["fv-0107.pdf"].locator("a.filename").click()
    expect(page.locator("#document-warnings")).to_contain_text(
        "Zmieniony rachunek sprzedawcy 5260250274: PL35 1140 2004 0000 3202 7560 0012; "
        "na wcześniejszych dokumentach: PL61 1090 1014 0000 0712 1981 2874."
    )
    assert errors == []


def test_the_warnings_filter_and_the_export_in_the_browser(
    page, worker_app, redis_conn, mailbox_with_invoices
):
    server = make_server(mailbox_with_invoices)
    server.company.nip = BUYER_NIP
    db.session.commit()
    make_user("ewa", companies=[server.company], can_refresh=True)
    log_in(page, "ewa")
    page.get_by_role("button", name="Odśwież").click()
    expect(page.locator("#refresh-progress")).to_contain_text("w kolejce")
    make_worker(worker_app, simple=True, connection=redis_conn).work(burst=True)
    expect(page.locator("#refresh-progress")).to_contain_text("Sprawdzanie zakończone")
    page.reload()

    page.get_by_label("z ostrzeżeniami").check()  # filters at once, like the dates
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"warnings=y"))
    page.get_by_label("Szukaj").fill("725-180-11-26")  # the foreign seller's NIP, as people write it
    page.get_by_label("Szukaj").press("Enter")
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    expect(page.locator("#documents tbody")).to_contain_text("obca.pdf")
    page.get_by_role("link", name="Wyczyść").click()
    expect(page.locator("#documents tbody tr")).to_have_count(4)

    with page.expect_download() as download_info:
        page.locator("#documents-export").get_by_role("link", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), "rb") as fh:
        data = fh.read()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    by_file = {row["Plik"]: row for row in table}
    assert by_file["fv-0042-kopia.pdf"]["Temat"] == "Faktura — ponownie"
    assert by_file["fv-0042.pdf"]["Kwota do zapłaty"] == "1230,00"
    assert by_file["obca.pdf"]["Ostrzeżenia"] == "inna firma?"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/documents/\d+/pdf", by_file["fv-0042.pdf"]["Link do PDF"])
    pdf = page.request.get(by_file["fv-0042.pdf"]["Link do PDF"])
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")

    with page.expect_download() as download_info:
        page.locator("#documents-export").get_by_role("link", name="XLSX").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as fh:  # the file Playwright keeps has no extension: read it
        sheet = load_workbook(io.BytesIO(fh.read())).active
    header = [cell.value for cell in sheet[1]]
    values = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]
    changed = next(row for row in values if row["Plik"].value == "fv-0107.pdf")
    assert changed["Ostrzeżenia"].value == "zmieniony rachunek"
    assert (
        changed["Kwota do zapłaty"].value == 1230 and changed["Kwota do zapłaty"].number_format == "#,##0.00"
    )
    assert changed["Link do PDF"].hyperlink.target.endswith("/pdf")
