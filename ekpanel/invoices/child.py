"""The sandboxed child: reads one untrusted PDF from standard input and prints its text layer as JSON.

This is the only code that hands untrusted bytes to PDFium, so it runs in a process of its own
(started by ``sandbox.py``) that may crash, run out of memory or be killed without harm. It
limits itself before it imports the PDF library: address space (``RLIMIT_AS``), CPU time
(``RLIMIT_CPU``), no files written, no core dumps. It is run as a script (``python -I
child.py``), not as ``-m ekpanel.invoices.child``, so that it imports nothing but the standard
library and pypdfium2: importing the ``ekpanel`` package would start the Flask app's imports.

Arguments: ``MEMORY_BYTES CPU_SECONDS MAX_PAGES MAX_TEXT_CHARS``.

Output, one JSON object on standard output:
- ``{"pages": [{"width": w, "height": h, "segments": [[x0, top, x1, bottom, text], ...]}, ...]}``
  with coordinates in points from the page's top-left corner; a segment is a run of characters
  on one line without a wide gap;
- or ``{"failure": CODE, "detail": TEXT}`` with CODE one of ``encrypted``, ``malformed``,
  ``too_many_pages``, ``too_much_text``, ``memory_limit``.

Dying by a signal (SIGKILL at the CPU limit, a crash inside PDFium) is the parent's to interpret.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import resource
import signal
import sys

_PR_SET_DUMPABLE = 4


def limit_self(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # The soft limit sends SIGXCPU, which we ignore; the hard limit one second later is SIGKILL,
    # which no PDFium loop can delay and which leaves no core file behind.
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # A crash inside PDFium must not hand a memory image of the PDF to a core-dump helper.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def text_layer(data: bytes, max_pages: int, max_text_chars: int) -> dict:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        code = getattr(error, "err_code", None)
        encrypted = code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY)
        return {"failure": "encrypted" if encrypted else "malformed", "detail": str(error)}
    page_count = len(document)
    if page_count > max_pages:
        return {"failure": "too_many_pages", "detail": str(page_count)}
    pages = []
    chars = 0
    for index in range(page_count):
        try:
            page = document[index]
            width, height = page.get_size()
            text_page = page.get_textpage()
        except pdfium.PdfiumError as error:
            return {"failure": "malformed", "detail": f"page {index + 1}: {error}"}
        count = pdfium_c.FPDFText_CountChars(text_page)
        chars += count
        if chars > max_text_chars:
            return {"failure": "too_much_text", "detail": f"page {index + 1}"}
        segments = _segments(_chars(pdfium_c, text_page, count, height))
        pages.append({"width": round(width, 1), "height": round(height, 1), "segments": segments})
    return {"pages": pages}


def _chars(
    pdfium_c, text_page, count: int, page_height: float
) -> list[tuple[str, float, float, float, float]]:
    """Each character with its box (x0, top, x1, bottom) from the page's top-left corner.

    Character by character, so that text and boxes stay aligned whatever PDFium inserts or
    leaves out of its text view. The *loose* box spans the font's ascent to descent: every
    character of a line has the same height whatever its glyph, so lines are easy to tell apart.
    """
    rect = pdfium_c.FS_RECTF()
    chars = []
    for index in range(count):
        code = pdfium_c.FPDFText_GetUnicode(text_page, index)
        if not code or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            continue
        if not pdfium_c.FPDFText_GetLooseCharBox(text_page, index, rect):
            rect.left = rect.right = rect.top = rect.bottom = 0.0
        chars.append((chr(code), rect.left, page_height - rect.top, rect.right, page_height - rect.bottom))
    return chars


def _segments(chars: list[tuple[str, float, float, float, float]]) -> list[list]:
    """Runs of characters on one line without a wide gap: [x0, top, x1, bottom, text] each.

    PDFium gives the characters in reading order with generated line breaks (which have empty
    boxes); a gap wider than about a character's height within a line starts a new segment, so
    that table cells and side-by-side columns stay apart.
    """
    segments = []
    current: list | None = None
    for char, x0, top, x1, bottom in chars:
        if char in "\r\n":
            current = None
            continue
        if x1 <= x0 and bottom <= top:
            # A generated space between words: no box of its own.
            if current is not None and char.isspace():
                current[4].append(" ")
            continue
        height = bottom - top
        if current is not None:
            gap = x0 - current[2]
            same_line = abs((top + bottom) - (current[1] + current[3])) < height
            if not same_line or gap > height or gap < -height:
                current = None
        if current is None:
            current = [x0, top, x1, bottom, []]
            segments.append(current)
        current[2] = max(current[2], x1)
        current[1] = min(current[1], top)
        current[3] = max(current[3], bottom)
        current[4].append(char)
    return [
        [round(x0, 1), round(top, 1), round(x1, 1), round(bottom, 1), "".join(text)]
        for x0, top, x1, bottom, text in segments
    ]


def main(argv: list[str]) -> int:
    memory_bytes, cpu_seconds, max_pages, max_text_chars = (int(arg) for arg in argv[1:5])
    limit_self(memory_bytes, cpu_seconds)
    data = sys.stdin.buffer.read()
    try:
        result = text_layer(data, max_pages, max_text_chars)
    except MemoryError:
        result = {"failure": "memory_limit", "detail": ""}
    sys.stdout.write(json.dumps(result, ensure_ascii=True))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
