"""Invoice extraction: pypdfium2 against pypdf, on speed and accuracy, over the sample set.

Run by hand (not a test; times depend on the machine and on what else runs on it):

    .venv/bin/python bench/extraction.py               # 5 rounds over the sample set
    .venv/bin/python bench/extraction.py --rounds 20

The sample set is the tests' own: the invoices made in every layout (tests/support/
invoice_pdfs.py) and the real-world PDFs (tests/fixtures/invoices/), each with the fields the
tests expect of it. For each way of getting text it prints PDFs per second per core (CPU time
of the reading process, and of its children for the sandboxed path) and accuracy: fields right,
fields left empty where a value was expected, and fields *wrong* (a value other than the
expected one: the answers that must not happen).

Ways of getting text, each followed by the same field parsers (ekpanel.invoices.read_fields):
- pdfium boxes: what the panel runs (ekpanel/invoices/child.py), here in-process;
- pdfium plain: PDFium's text without positions;
- pypdf layout / pypdf plain: pypdf's text in its layout mode (columns kept apart by spaces)
  and in its default mode;
- sandboxed: extract_invoice end to end (pdfium boxes in a child forked per PDF by the fork
  server; the server's start is counted once per reader).
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pypdf
import pypdfium2 as pdfium

from ekpanel.invoices import InvoiceDetails, Status, TextLayer, extract_invoice, read_fields, sandbox
from ekpanel.invoices import child as pdfium_child
from tests.support import invoice_pdfs
from tests.support.invoice_pdfs import facts
from tests.test_invoice_extraction import LAYOUTS
from tests.test_invoice_fixtures import EXPECTED, FIXTURES

FIELDS = ["nips", "number", "issued", "due", "accounts", "ksef", "offline"]


def samples() -> list[tuple[str, bytes, dict]]:
    made = [(name, getattr(invoice_pdfs, name)(), expected) for name, expected in LAYOUTS.items()]
    scan = [("scanned_invoice", invoice_pdfs.scanned_invoice(), None)]
    real = [(name, (FIXTURES / name).read_bytes(), expected) for name, expected in EXPECTED.items()]
    return made + scan + real


def _details(layer: TextLayer) -> InvoiceDetails:
    if not layer.has_text:
        return InvoiceDetails(status=Status.NO_TEXT, page_count=layer.page_count)
    return read_fields(layer)


def pdfium_boxes(data: bytes) -> InvoiceDetails:
    return _details(TextLayer.from_pages(pdfium_child.text_layer(data, 100, 1_000_000)["pages"]))


def pdfium_plain(data: bytes) -> InvoiceDetails:
    document = pdfium.PdfDocument(data)
    text = "\n".join(page.get_textpage().get_text_range() for page in document)
    return _details(TextLayer.from_plain_text(text))


def pypdf_layout(data: bytes) -> InvoiceDetails:
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = [page.extract_text(extraction_mode="layout") for page in reader.pages]
    # Runs of spaces are how layout mode keeps columns apart: make them the cells they are.
    text = re.sub(r" {3,}", "\t", "\n".join(pages))
    return _details(TextLayer.from_plain_text(text))


def pypdf_plain(data: bytes) -> InvoiceDetails:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return _details(TextLayer.from_plain_text("\n".join(page.extract_text() for page in reader.pages)))


def sandboxed(data: bytes) -> InvoiceDetails:
    return extract_invoice(data)


READERS = {
    "pdfium boxes": pdfium_boxes,
    "pdfium plain": pdfium_plain,
    "pypdf layout": pypdf_layout,
    "pypdf plain": pypdf_plain,
    "sandboxed": sandboxed,
}


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def score(details: InvoiceDetails, expected: dict | None) -> tuple[int, int, int, list[str]]:
    """(right, empty, wrong, names of wrong fields) for one reading."""
    if expected is None:  # the scan: right when it says there is no text
        right = details.status is Status.NO_TEXT
        return (len(FIELDS), 0, 0, []) if right else (0, 0, len(FIELDS), ["status"])
    got = facts(details)
    right = empty = 0
    wrong = []
    for field in FIELDS:
        if got[field] == expected[field]:
            right += 1
        elif got[field] in (None, [], False) or (field == "nips" and set(got[field]) < set(expected[field])):
            empty += 1
        else:
            wrong.append(field)
    return right, empty, len(wrong), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    sample = samples()
    size = sum(len(data) for _, data, _ in sample) // 1024
    print(f"{len(sample)} PDFs ({size} KiB), {args.rounds} rounds\n")
    print(f"{'reader':<14}{'PDFs/s/core':>12}{'ms/PDF':>9}{'right':>8}{'empty':>8}{'wrong':>8}")
    mistakes = {}
    for name, read in READERS.items():
        right = empty = wrong = 0
        mistakes[name] = []
        for label, data, expected in sample:  # warm up, and score once
            result = score(read(data), expected)
            right, empty, wrong = right + result[0], empty + result[1], wrong + result[2]
            mistakes[name] += [f"{label}: {field}" for field in result[3]]
        sandbox._stop_server()
        start = cpu_seconds()
        for _ in range(args.rounds):
            for _, data, _ in sample:
                read(data)
        # Reaping the fork server counts its CPU time, and its children's, as ours.
        sandbox._stop_server()
        spent = cpu_seconds() - start
        count = args.rounds * len(sample)
        total = right + empty + wrong
        print(
            f"{name:<14}{count / spent:>12.1f}{1000 * spent / count:>9.1f}"
            f"{right / total:>8.0%}{empty / total:>8.0%}{wrong / total:>8.0%}"
        )
    print("\nwrong fields:")
    for name, found in mistakes.items():
        print(f"  {name}: {', '.join(found) or 'none'}")


if __name__ == "__main__":
    main()
