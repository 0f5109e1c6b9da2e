"""Hostile PDFs end within the sandbox's limits as "unreadable" with a reason, and the worker lives on.

Each is read by the real child under the default limits (or tighter ones, to keep the test
short), so what is tested is what a worker would do with such a file from a mailbox.
"""

from ekpanel.invoices import FailureReason, Limits, Status, extract_invoice
from tests.support import hostile_pdfs


def outcome(details):
    return details.status, details.failure


def test_a_plain_pdf_reads_for_contrast():
    details = extract_invoice(hostile_pdfs.plain_pdf())
    assert details.status is Status.OK
    assert details.invoice_number.value.value == "1/2026"


def test_a_page_tree_nested_a_hundred_thousand_deep_is_malformed():
    details = extract_invoice(hostile_pdfs.deeply_nested_page_tree())
    assert outcome(details) == (Status.UNREADABLE, FailureReason.MALFORMED)
    assert details.failure_detail == "page 1: Failed to load page."


def test_resources_nested_a_hundred_thousand_deep_leave_a_page_without_text():
    # PDFium drops the page's dictionary at its nesting limit: the page is there, its text is not.
    assert outcome(extract_invoice(hostile_pdfs.deeply_nested_resources())) == (Status.NO_TEXT, None)


def test_a_million_pages_from_twelve_kilobytes_are_too_many():
    details = extract_invoice(hostile_pdfs.page_tree_bomb())
    assert outcome(details) == (Status.UNREADABLE, FailureReason.TOO_MANY_PAGES)
    assert details.failure_detail == "1000000"


def test_a_decompression_bomb_ends_at_the_memory_limit():
    details = extract_invoice(hostile_pdfs.decompression_bomb(), Limits(memory_bytes=256 * 1024 * 1024))
    assert outcome(details) == (Status.UNREADABLE, FailureReason.MEMORY_LIMIT)


def test_junk_after_the_header_is_malformed():
    details = extract_invoice(hostile_pdfs.junk_after_header())
    assert outcome(details) == (Status.UNREADABLE, FailureReason.MALFORMED)
    assert "Data format error" in details.failure_detail


def test_reading_past_the_cpu_limit_ends_at_it():
    limits = Limits(cpu_seconds=1, max_text_chars=10**9, wall_seconds=120)
    details = extract_invoice(hostile_pdfs.text_heavy(), limits)
    assert outcome(details) == (Status.UNREADABLE, FailureReason.CPU_LIMIT)


def test_more_text_than_allowed_is_too_much():
    details = extract_invoice(hostile_pdfs.text_heavy(pages=3), Limits(max_text_chars=100_000))
    assert outcome(details) == (Status.UNREADABLE, FailureReason.TOO_MUCH_TEXT)


def test_a_child_still_running_at_the_deadline_is_killed():
    # Starting Python and loading PDFium alone takes longer than this.
    details = extract_invoice(hostile_pdfs.plain_pdf(), Limits(wall_seconds=0.01))
    assert outcome(details) == (Status.UNREADABLE, FailureReason.TIMEOUT)


def test_a_child_that_cannot_even_load_pdfium_is_a_failure_not_an_exception():
    details = extract_invoice(hostile_pdfs.plain_pdf(), Limits(memory_bytes=16 * 1024 * 1024))
    assert outcome(details) == (Status.UNREADABLE, FailureReason.CRASHED)
    assert details.failure_detail.startswith("exit 1: ")
