"""Hostile PDFs end within the sandbox's limits as "unreadable" with a reason, and the worker lives on.

Each is read by the real child under the default limits (or tighter ones, to keep the test
short), so what is tested is what a worker would do with such a file from a mailbox.
"""

import os

from ekpanel.invoices import FailureReason, Limits, Status, extract_invoice, sandbox
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
    # Seconds of reading, a fifth of a second allowed.
    limits = Limits(wall_seconds=0.2, cpu_seconds=60, max_text_chars=10**9)
    details = extract_invoice(hostile_pdfs.text_heavy(pages=20), limits)
    assert outcome(details) == (Status.UNREADABLE, FailureReason.TIMEOUT)


def test_after_a_bomb_the_next_pdf_reads_as_usual():
    bomb = extract_invoice(hostile_pdfs.decompression_bomb(), Limits(memory_bytes=256 * 1024 * 1024))
    assert outcome(bomb) == (Status.UNREADABLE, FailureReason.MEMORY_LIMIT)
    assert outcome(extract_invoice(hostile_pdfs.plain_pdf())) == (Status.OK, None)


def test_a_fork_server_that_died_is_started_afresh():
    extract_invoice(hostile_pdfs.plain_pdf())
    server = sandbox._server().process
    server.kill()
    server.wait()
    assert outcome(extract_invoice(hostile_pdfs.plain_pdf())) == (Status.OK, None)
    assert sandbox._server().process.pid != server.pid


def test_a_forked_worker_reads_through_a_server_of_its_own():
    # As an RQ work horse does: the parent's server stays the parent's.
    parent_server = sandbox._server().process.pid
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            status = extract_invoice(hostile_pdfs.plain_pdf()).status
            own = sandbox._server().process.pid != parent_server
            os.write(write_end, f"{status} {own}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as answer:
        assert answer.read() == "ok True"
    assert outcome(extract_invoice(hostile_pdfs.plain_pdf())) == (Status.OK, None)
    assert sandbox._server().process.pid == parent_server
