"""Invoice PDFs made for the tests with fpdf2 and DejaVu Sans (Debian's fonts-dejavu-core).

Each layout is one function returning PDF bytes; the values on them are the module's constants,
so a test says exactly what must come out, and ``facts`` puts a reading in the same terms. The
side-by-side layout writes its rows buyer first, interleaved with the seller's, so that the
order of the content stream gives nothing away: only the place on the page says whose NIP is
whose.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from ekpanel.invoices import InvoiceDetails

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

SELLER_NIP = "5260250274"
BUYER_NIP = "1234563218"
OTHER_NIP = "7740001454"
SELLER_NRB = "61109010140000071219812874"
SELLER_NRB_GROUPED = "61 1090 1014 0000 0712 1981 2874"
OTHER_NRB = "35114020040000320275600012"
KSEF_NUMBER = "5260250274-20260115-3A1F00C2B7D9-2B"
INVOICE_NUMBER = "FV/2026/01/0042"
ISSUE_DATE = "2026-01-15"


def facts(details: InvoiceDetails) -> dict:
    """The values of every field of a reading, to compare a whole reading at once."""
    number = details.invoice_number
    return {
        "status": details.status,
        "nips": [(nip.value, nip.role) for nip in details.nips],
        "number": number and (number.value.value, number.value.kind),
        "issued": details.issue_date and details.issue_date.value,
        "due": details.amount_due and details.amount_due.value,
        "accounts": [account.value for account in details.bank_accounts],
        "ksef": details.ksef_number and details.ksef_number.value,
        "offline": details.offline_mark is not None,
    }


class InvoicePage:
    """One A4 page in millimetres, text placed where it is told."""

    def __init__(self):
        self.pdf = FPDF(unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.add_font("DejaVu", "", str(FONT))
        self.pdf.add_font("DejaVu", "B", str(FONT_BOLD))
        self.pdf.add_page()

    def text(self, x: float, y: float, text: str, size: float = 10, bold: bool = False) -> None:
        self.pdf.set_font("DejaVu", "B" if bold else "", size)
        self.pdf.text(x, y, text)

    def lines(self, x: float, y: float, lines: list[str], size: float = 10, step: float = 5) -> float:
        for line in lines:
            self.text(x, y, line, size)
            y += step
        return y

    def qr_code(self, x: float, y: float, size: float = 30) -> None:
        """A square of squares where a QR code goes (its content does not matter here)."""
        cell = size / 10
        for row in range(10):
            for column in range(10):
                if (row * 7 + column * 3) % 4 < 2:
                    self.pdf.rect(x + column * cell, y + row * cell, cell, cell, style="F")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _header(page: InvoicePage, title: str, number: str = INVOICE_NUMBER, y: float = 20) -> None:
    page.text(15, y, f"{title} nr {number}", size=14, bold=True)
    page.text(130, y + 8, f"Data wystawienia: {ISSUE_DATE}")
    page.text(130, y + 13, "Data sprzedaży: 2026-01-14")


def _totals(
    page: InvoicePage, y: float, due: str = "1 230,00 PLN", account: str = SELLER_NRB_GROUPED
) -> None:
    page.text(15, y, "Razem netto: 1 000,00 PLN    VAT 23%: 230,00 PLN")
    page.text(15, y + 6, f"Do zapłaty: {due}", bold=True)
    page.text(15, y + 12, f"Nr rachunku: {account}")
    page.text(15, y + 18, "Termin płatności: 2026-01-29, przelew")


def side_by_side_invoice() -> bytes:
    page = InvoicePage()
    _header(page, "Faktura VAT")
    seller = [
        "Sprzedawca:",
        "Alfa Sp. z o.o.",
        "ul. Długa 5, 00-001 Warszawa",
        f"NIP: PL {_dashed(SELLER_NIP)}",
    ]
    buyer = ["Nabywca:", "Beta Spółka Akcyjna", "ul. Krótka 7, 30-002 Kraków", f"NIP: {BUYER_NIP}"]
    y = 45
    for seller_line, buyer_line in zip(seller, buyer, strict=True):
        page.text(110, y, buyer_line, bold=buyer_line.endswith(":"))
        page.text(15, y, seller_line, bold=seller_line.endswith(":"))
        y += 6
    page.lines(
        15,
        80,
        [
            "Lp.  Nazwa              Ilość   Cena netto   Wartość brutto",
            "1    Usługa księgowa   1       1 000,00     1 230,00",
        ],
    )
    _totals(page, 100)
    return page.output()


def invoice(
    *,
    number: str = INVOICE_NUMBER,
    seller_nip: str = SELLER_NIP,
    buyer_nip: str = BUYER_NIP,
    account: str = SELLER_NRB_GROUPED,
    due: str = "1 230,00 PLN",
    ksef_number: str | None = None,
    remark: str = "",
) -> bytes:
    """The side-by-side layout with the values given; ``remark`` (a line of its own) makes other
    bytes of the same invoice, as a second export or a re-sent scan of it would be."""
    page = InvoicePage()
    _header(page, "Faktura VAT", number=number)
    page.lines(15, 45, ["Sprzedawca:", "Alfa Sp. z o.o.", f"NIP: {seller_nip}"])
    page.lines(110, 45, ["Nabywca:", "Beta S.A.", f"NIP: {buyer_nip}"])
    _totals(page, 80, due=due, account=account)
    if ksef_number:
        page.text(15, 110, f"Numer KSeF: {ksef_number}")
    if remark:
        page.text(15, 120, remark)
    return page.output()


def stacked_invoice() -> bytes:
    page = InvoicePage()
    _header(page, "FAKTURA", number="12/01/2026")
    y = page.lines(
        15,
        45,
        [
            "Sprzedawca",
            "Gamma Jan Kowalski",
            "ul. Polna 1, 60-100 Poznań",
            f"NIP {_dashed(SELLER_NIP, '3223')}",
        ],
    )
    page.lines(15, y + 6, ["Nabywca", "Delta sp. j.", "ul. Leśna 2, 80-200 Gdańsk", f"NIP: PL{BUYER_NIP}"])
    page.lines(15, 110, ["Lp.  Nazwa   Wartość brutto", "1    Towar   1 230,00"])
    _totals(page, 130, due="1.230,00 zł", account="PL" + SELLER_NRB)
    return page.output()


def correction_invoice() -> bytes:
    page = InvoicePage()
    _header(page, "Faktura korygująca", number="FK/3/2026")
    page.text(15, 33, "Do faktury nr FV/2025/12/0107 z dnia 2025-12-20")
    page.text(15, 38, "Przyczyna korekty: zwrot towaru")
    page.lines(15, 50, ["Sprzedawca:", "Alfa Sp. z o.o.", f"NIP: {SELLER_NIP}"])
    page.lines(110, 50, ["Nabywca:", "Beta S.A.", f"NIP: {BUYER_NIP}"])
    page.text(15, 80, "Do zapłaty: -246,00 PLN", bold=True)
    page.text(15, 86, f"Rachunek: PL{SELLER_NRB}")
    return page.output()


def proforma_invoice() -> bytes:
    page = InvoicePage()
    _header(page, "Faktura pro forma", number="PF/7/2026")
    page.lines(15, 45, ["Wystawca:", "Alfa Sp. z o.o.", f"NIP {SELLER_NIP}"])
    page.lines(15, 70, ["Odbiorca:", "Beta S.A.", f"NIP {BUYER_NIP}"])
    page.text(15, 95, "Razem brutto: 615,00 EUR")
    page.text(15, 101, "Dokument nie jest fakturą VAT.")
    return page.output()


def ksef_visualisation() -> bytes:
    """Laid out like the Ministry's visualisation: the number under the QR code, wrapped in its column."""
    page = InvoicePage()
    page.text(15, 15, "Krajowy System e-Faktur", size=16, bold=True)
    page.text(140, 25, "Numer faktury:")
    page.text(140, 31, INVOICE_NUMBER, size=12, bold=True)
    page.text(140, 37, "Faktura podstawowa")
    page.lines(15, 50, ["Sprzedawca", f"NIP: {SELLER_NIP}", "Nazwa: Alfa Sp. z o.o."])
    page.lines(110, 50, ["Nabywca", f"NIP: {BUYER_NIP}", "Nazwa: Beta S.A."])
    page.text(15, 75, f"Data wystawienia, z zastrzeżeniem art. 106na ust. 1 ustawy: {ISSUE_DATE}")
    page.text(15, 90, "Kwota należności ogółem: 1230,00 PLN")
    page.text(15, 96, f"Numer rachunku bankowego: {SELLER_NRB}")
    page.text(15, 110, "Sprawdź, czy Twoja faktura znajduje się w KSeF!", bold=True)
    page.qr_code(20, 115)
    nip_and_date, _, rest = KSEF_NUMBER.partition("-3A1F")
    page.text(15, 150, nip_and_date + "-", size=8)
    page.text(15, 154, "3A1F" + rest, size=8)
    return page.output()


def offline_invoice() -> bytes:
    page = InvoicePage()
    _header(page, "Faktura VAT", number="FV/2026/02/0001")
    page.lines(15, 45, ["Sprzedawca:", "Alfa Sp. z o.o.", f"NIP: {SELLER_NIP}"])
    page.lines(110, 45, ["Nabywca:", "Beta S.A.", f"NIP: {BUYER_NIP}"])
    page.text(15, 75, "Do zapłaty: 99,90 PLN")
    page.text(15, 90, "Sprawdź, czy Twoja faktura znajduje się w KSeF!", bold=True)
    page.qr_code(20, 95)
    page.text(29, 130, "OFFLINE", size=9, bold=True)
    return page.output()


def invoice_with_invalid_nip() -> bytes:
    """Two NIPs, the buyer's with a wrong check digit: only the seller's is a NIP."""
    page = InvoicePage()
    _header(page, "Faktura", number="7/2026")
    page.lines(15, 45, ["Sprzedawca:", "Alfa Sp. z o.o.", f"NIP: {SELLER_NIP}"])
    page.lines(110, 45, ["Nabywca:", "Beta S.A.", "NIP: 123-456-32-19"])
    page.text(15, 75, "Do zapłaty: 50,00 zł")
    return page.output()


def scanned_invoice() -> bytes:
    """An image of an invoice and nothing else: what a scanner without OCR sends."""
    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 28)
    lines = [
        f"Faktura VAT nr {INVOICE_NUMBER}",
        "Sprzedawca: Alfa Sp. z o.o.",
        f"NIP: {SELLER_NIP}",
        "Do zapłaty: 1 230,00 PLN",
    ]
    for row, line in enumerate(lines):
        draw.text((120, 150 + row * 50), line, fill=0, font=font)
    page = InvoicePage()
    page.pdf.image(image, x=0, y=0, w=210, h=297)
    return page.output()


def encrypted_invoice(user_password: str) -> bytes:
    """The side-by-side invoice, encrypted; an empty user password opens it without asking."""
    page = InvoicePage()
    page.pdf.set_encryption(owner_password="wlasciciel", user_password=user_password)
    _header(page, "Faktura VAT")
    page.lines(15, 45, ["Sprzedawca:", "Alfa Sp. z o.o.", f"NIP: {SELLER_NIP}"])
    _totals(page, 70)
    return page.output()


def long_invoice(pages: int) -> bytes:
    """An invoice running over ``pages`` pages."""
    page = InvoicePage()
    _header(page, "Faktura VAT")
    for number in range(1, pages):
        page.text(15, 60, f"Pozycje, strona {number}")
        page.pdf.add_page()
    _totals(page, 40)
    return page.output()


def _dashed(nip: str, groups: str = "3322") -> str:
    parts, index = [], 0
    for size in map(int, groups):
        parts.append(nip[index : index + size])
        index += size
    return "-".join(parts)
