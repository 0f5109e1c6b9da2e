"""Run the text extraction of one untrusted PDF in a child process, within limits.

The child (``child.py``) limits its own address space and CPU time with ``setrlimit`` before it
loads PDFium; the parent adds a wall-clock deadline and kills the child when it passes. Whatever
the PDF does to the child — a crash in PDFium, memory exhausted by a decompression bomb, a loop
— the parent gets an answer with a reason, and the worker that called it lives on.

How a child's end is read:
- its JSON answer: the text layer, or a failure it recognised itself;
- killed by us at the deadline: ``timeout``;
- killed by SIGKILL without us, having used its CPU seconds: ``cpu_limit`` (the kernel's hard
  limit);
- killed by another signal (PDFium aborts when an allocation fails, and crashes) after growing
  close to the memory limit: ``memory_limit``; otherwise ``crashed``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ekpanel.invoices.details import FailureReason

CHILD_SCRIPT = Path(__file__).with_name("child.py")
MiB = 1024 * 1024
# A child that died by a signal after using this share of its memory limit ran out of memory.
_NEAR_MEMORY_LIMIT = 0.8


@dataclass(frozen=True)
class Limits:
    """Bounds on reading one PDF. The defaults fit invoices with room to spare."""

    max_file_bytes: int = 50 * MiB
    max_pages: int = 100
    # Address space of the child: Python and PDFium need about 40 MiB of it to start.
    memory_bytes: int = 512 * MiB
    cpu_seconds: int = 10
    # Wall-clock time, for a child that waits rather than computes (a loaded machine, a stall).
    wall_seconds: float = 30.0
    max_text_chars: int = 1_000_000


@dataclass(frozen=True)
class ChildResult:
    pages: list[dict] | None = None
    failure: FailureReason | None = None
    detail: str = ""


def read_pages(pdf: bytes, limits: Limits) -> ChildResult:
    """The PDF's pages as the child reports them, or why they could not be read."""
    command = [
        sys.executable,
        "-I",  # isolated: no user site-packages, no PYTHON* variables, no current directory
        str(CHILD_SCRIPT),
        str(limits.memory_bytes),
        str(limits.cpu_seconds),
        str(limits.max_pages),
        str(limits.max_text_chars),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        # The child is ours to end: a Ctrl-C meant for the worker must not cut it off half-way.
        start_new_session=True,
    )
    # The answer is at most the text plus its boxes; anything beyond is no answer of ours.
    max_output = limits.max_text_chars * 64 + MiB
    output, errors, cut_off = _exchange(process, pdf, limits.wall_seconds, max_output)
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:  # reaped already (a caller ignoring SIGCHLD): judge by the answer
        status, usage = 0, None
    process.returncode = os.waitstatus_to_exitcode(status)
    if cut_off is FailureReason.TIMEOUT:
        return ChildResult(failure=cut_off, detail=f"{limits.wall_seconds:g} s")
    if cut_off is not None:
        return ChildResult(failure=cut_off, detail=f"more than {max_output} bytes of answer")
    if process.returncode < 0:
        return _killed(-process.returncode, usage, limits)
    if process.returncode != 0:
        tail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return ChildResult(failure=FailureReason.CRASHED, detail=f"exit {process.returncode}: {tail[0]}")
    return _answer(output)


def _answer(output: bytes) -> ChildResult:
    try:
        answer = json.loads(output)
        if "failure" in answer:
            return ChildResult(failure=FailureReason(answer["failure"]), detail=str(answer.get("detail", "")))
        return ChildResult(pages=list(answer["pages"]))
    except (ValueError, KeyError, TypeError):
        return ChildResult(failure=FailureReason.CRASHED, detail="no answer")


def _killed(signal_number: int, usage, limits: Limits) -> ChildResult:
    try:
        name = signal.Signals(signal_number).name
    except ValueError:
        name = f"signal {signal_number}"
    cpu = usage.ru_utime + usage.ru_stime
    if signal_number in (signal.SIGKILL, signal.SIGXCPU) and cpu >= limits.cpu_seconds:
        return ChildResult(failure=FailureReason.CPU_LIMIT, detail=f"{cpu:.1f} s CPU")
    # ru_maxrss is in KiB on Linux.
    if usage.ru_maxrss * 1024 >= _NEAR_MEMORY_LIMIT * limits.memory_bytes:
        return ChildResult(
            failure=FailureReason.MEMORY_LIMIT, detail=f"{name}, {usage.ru_maxrss // 1024} MiB"
        )
    return ChildResult(failure=FailureReason.CRASHED, detail=name)


def _exchange(
    process: subprocess.Popen, data: bytes, wall_seconds: float, max_output: int
) -> tuple[bytes, bytes, FailureReason | None]:
    """Write ``data`` to the child and read what it says; kill it at the deadline.

    Like ``Popen.communicate`` with a timeout, but leaves the child unreaped so that
    ``os.wait4`` can tell what it used, and kills it past ``max_output`` bytes of answer. The
    reason is set when the child was cut off.
    """
    deadline = time.monotonic() + wall_seconds
    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    received = 0
    view = memoryview(data)
    # A child that stops reading must not block us past the deadline.
    os.set_blocking(process.stdin.fileno(), False)
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdin, selectors.EVENT_WRITE)
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                _close(process)
                return b"", b"", FailureReason.TIMEOUT
            for key, _ in selector.select(remaining):
                if key.fileobj is process.stdin:
                    try:
                        written = os.write(key.fd, view[:65536])
                    except BlockingIOError:
                        written = 0
                    except BrokenPipeError:
                        written = len(view)  # the child stopped reading: it has its answer
                    view = view[written:]
                    if not view:
                        selector.unregister(process.stdin)
                        process.stdin.close()
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                chunks[key.fd].append(chunk)
                received += len(chunk)
                if received > max_output:
                    process.kill()
                    _close(process)
                    return b"", b"", FailureReason.TOO_MUCH_TEXT
    output = b"".join(chunks[process.stdout.fileno()])
    errors = b"".join(chunks[process.stderr.fileno()])
    _close(process)
    return output, errors, None


def _close(process: subprocess.Popen) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream and not stream.closed:
            stream.close()
