"""Eksportuj: the filtered documents list as CSV for Polish Excel, and as XLSX.

The CSV is what Excel in a Polish locale opens by double-click without a wizard: UTF-8 with a
BOM (else Excel reads it as Windows-1250 and the Polish letters break), semicolons between
fields (the comma is the decimal separator) and decimal commas in amounts. The XLSX (openpyxl,
written row by row) has real numbers and dates, and each PDF's link as a hyperlink.

Sender, subject and file name come from e-mail, that is from anyone: a text starting like a
formula (``=``, ``+``, ``-``, ``@``) is written so that neither program runs it — in the CSV
behind an apostrophe (OWASP's advice for CSV injection), in the XLSX as a string cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ekpanel.documents.models import STATUS_NEW, Document
from ekpanel.documents.warnings import badge_text, failure_text, format_account, stored_warnings

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DATETIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class Link:
    url: str


Value = str | int | Decimal | date | datetime | Link | None


def headers() -> list[str]:
    return [
        _("Data otrzymania"),
        _("Nadawca"),
        _("Temat"),
        _("Plik"),
        _("Rozmiar (bajty)"),
        _("Serwer"),
        _("Folder"),
        _("Status"),
        _("Nr faktury"),
        _("NIP sprzedawcy"),
        _("NIP nabywcy"),
        _("Kwota do zapłaty"),
        _("Waluta"),
        _("Data wystawienia"),
        _("Numer KSeF"),
        _("Rachunek"),
        _("Ostrzeżenia"),
        _("Odczyt PDF"),
        _("Link do PDF"),
    ]


def rows(documents: Iterable[Document], pdf_url: Callable[[Document], str], timezone: str) -> Iterator[list]:
    """Each document as the export's values, in the columns of :func:`headers`."""
    zone = ZoneInfo(timezone)
    for d in documents:
        yield [
            _local(d.received_at, zone),
            d.sender or "",
            d.subject or "",
            d.filename,
            d.size,
            d.server_label or "",
            d.source_folder,
            _("Nowy") if d.status == STATUS_NEW else _("Zarejestrowany"),
            d.invoice_number or "",
            d.seller_nip or "",
            d.buyer_nip or "",
            d.amount_due,
            d.currency or "",
            d.issue_date,
            d.ksef_number or ("OFFLINE" if d.offline_mark else ""),
            ", ".join(format_account(account) for account in d.bank_accounts or ()),
            ", ".join(dict.fromkeys(badge_text(w) for w in stored_warnings(d))),
            _reading(d),
            Link(pdf_url(d)),
        ]


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A naive UTC time from the database as the office's naive local time (Excel has no zones)."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)


def _reading(document: Document) -> str:
    if document.extraction_status == "ok":
        return _("odczytano")
    if document.extraction_status == "no_text":
        return _("brak tekstu (skan)")
    if document.extraction_status == "unreadable":
        return _("nie udało się odczytać: %(reason)s", reason=failure_text(document.extraction_failure))
    return _("oczekuje na odczyt")


# --- CSV ------------------------------------------------------------------------------------------


def csv_chunks(header: list[str], values: Iterable[list]) -> Iterator[str]:
    """The CSV, a chunk of text per row, the BOM first (stream it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    yield _take(buffer)
    for row in values:
        writer.writerow([_csv_cell(value) for value in row])
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")  # no thousands separator: Excel reads it as a number
    if isinstance(value, datetime):
        return value.strftime(_DATETIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Link):
        return value.url
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


# --- XLSX -----------------------------------------------------------------------------------------


def xlsx_bytes(header: list[str], values: Iterable[list], title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    bold = Font(bold=True)
    header_cells = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in values:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(sheet, value: Value) -> WriteOnlyCell:
    if isinstance(value, Link):
        cell = WriteOnlyCell(sheet, value=value.url)
        cell.hyperlink = value.url
        cell.style = "Hyperlink"
        return cell
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever it starts with
    elif isinstance(value, Decimal):
        cell.number_format = "#,##0.00"
    elif isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    return cell


def _sheet_title(title: str) -> str:
    # Excel's limits on a sheet's name: 31 characters, none of []:*?/\
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title).strip("' ")
    return cleaned[:31] or "Dokumenty"
