"""The sandbox's far side: a fork server that reads each untrusted PDF in a child of its own.

``sandbox.py`` starts this script once per worker process (``python -I child.py``) and sends it
requests on standard input; the server loads PDFium once, then forks one child per PDF. The
child limits itself before it touches the PDF — address space (``RLIMIT_AS``), CPU time
(``RLIMIT_CPU``), no files written, no core dumps — reads the text layer, writes it as JSON to
a pipe and exits. The server reads that pipe against the wall-clock deadline, kills the child
when it passes, reaps it with ``wait4`` and reports its end (exit status, CPU time, peak memory)
with its answer. A child's crash, bomb or loop ends that child; the server and the worker go on.

Forking a process that has PDFium loaded costs about a millisecond; starting Python and loading
pypdfium2 costs a hundred, ten times the reading of a typical invoice. Python's
``multiprocessing`` forkserver would do the forking too, but it would import the ``ekpanel``
package (and Flask) into the server, and its children are not ours to ``wait4``.

This is a script, not ``-m ekpanel.invoices.child``, so that it imports nothing but the
standard library and pypdfium2. The PDF is never parsed in the server itself.

Protocol, both ways frames of an 8-byte big-endian length and that many bytes:
- request: a JSON frame of limits (``memory_bytes``, ``cpu_seconds``, ``wall_seconds``,
  ``max_pages``, ``max_text_chars``, ``max_answer_bytes``), then the PDF;
- reply: a JSON frame ``{"exit": E, "cpu": seconds, "max_rss_kib": K, "cut_off": null |
  "timeout" | "too_much_text"}`` (E as ``subprocess`` gives return codes: negative for a
  signal), then the child's answer: ``{"pages": [{"width": w, "height": h, "segments":
  [[x0, top, x1, bottom, text], ...]}, ...]}`` in points from each page's top-left corner, or
  ``{"failure": CODE, "detail": TEXT}`` with CODE one of ``encrypted``, ``malformed``,
  ``too_many_pages``, ``too_much_text``, ``memory_limit``, ``crashed``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import sys
import time

_PR_SET_DUMPABLE = 4
LENGTH_BYTES = 8  # each frame on the pipes starts with its length, big-endian (sandbox.py too)


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
    """The text layer of the PDF ``data``, or why it could not be read (runs in the child)."""
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


def serve() -> None:
    import pypdfium2  # noqa: F401  (loaded once, here, for every child to inherit)

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = _read_frame(requests)
        data = _read_frame(requests)
        if head is None or data is None:
            return  # the worker closed the pipe: it is gone or done
        reply, answer = read_in_child(data, json.loads(head))
        for frame in (json.dumps(reply).encode(), answer):
            replies.write(len(frame).to_bytes(LENGTH_BYTES, "big") + frame)
        replies.flush()


def read_in_child(data: bytes, limits: dict) -> tuple[dict, bytes]:
    """Fork a child to read ``data``; its end and its answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _child(data, limits, write_end)
    os.close(write_end)
    chunks, received, cut_off = [], 0, None
    deadline = time.monotonic() + limits["wall_seconds"]
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([read_end], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            cut_off = "timeout"
            break
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
        if received > limits["max_answer_bytes"]:
            cut_off = "too_much_text"
            break
    if cut_off:
        os.kill(pid, signal.SIGKILL)
    os.close(read_end)
    _, status, usage = os.wait4(pid, 0)
    reply = {
        "exit": os.waitstatus_to_exitcode(status),
        "cpu": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
        "cut_off": cut_off,
    }
    return reply, b"" if cut_off else b"".join(chunks)


def _child(data: bytes, limits: dict, answer_fd: int) -> None:
    # Nothing but the answer pipe: the server's own pipes to the worker are not the child's to use.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    code = 1
    try:
        limit_self(limits["memory_bytes"], limits["cpu_seconds"])
        try:
            answer = text_layer(data, limits["max_pages"], limits["max_text_chars"])
        except MemoryError:
            answer = {"failure": "memory_limit", "detail": ""}
        except Exception as error:  # a bug of ours or an error of PDFium's binding: still an answer
            answer = {"failure": "crashed", "detail": f"{type(error).__name__}: {error}"}
        with os.fdopen(answer_fd, "wb") as pipe:
            pipe.write(json.dumps(answer, ensure_ascii=True).encode())
        code = 0
    finally:
        os._exit(code)


def _read_frame(stream) -> bytes | None:
    head = stream.read(LENGTH_BYTES)
    if len(head) < LENGTH_BYTES:
        return None
    length = int.from_bytes(head, "big")
    data = stream.read(length)
    return data if len(data) == length else None


if __name__ == "__main__":
    serve()
