"""Read the text layer of one untrusted PDF in a sandboxed child process, within limits.

The work happens in ``child.py``: a fork server this module starts once per process (again
after a fork, e.g. in each RQ work horse), which forks one child per PDF. The child limits its
own address space and CPU time with ``setrlimit``; the server kills it at the wall-clock
deadline and reports how it ended. Whatever the PDF does to its child — a crash in PDFium,
memory exhausted by a decompression bomb, a loop — the caller gets an answer with a reason,
and the worker lives on. A server that stops answering is killed and started afresh.

How a child's end is read:
- its JSON answer: the text layer, or a failure it recognised itself;
- cut off at the deadline: ``timeout``;
- killed by SIGKILL having used its CPU seconds: ``cpu_limit`` (the kernel's hard limit);
- ended otherwise (PDFium aborts when an allocation fails, and crashes) after growing close to
  the memory limit: ``memory_limit``; otherwise ``crashed``.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ekpanel.invoices.child import LENGTH_BYTES
from ekpanel.invoices.details import FailureReason

CHILD_SCRIPT = Path(__file__).with_name("child.py")
MiB = 1024 * 1024
# A child that ended abnormally after using this share of its memory limit ran out of memory.
_NEAR_MEMORY_LIMIT = 0.8
# How long past the deadline a silent server is given before it is taken for dead.
_SERVER_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    """Bounds on reading one PDF. The defaults fit invoices with room to spare."""

    max_file_bytes: int = 50 * MiB
    max_pages: int = 100
    # Address space of the child, which starts as a copy of the server: about 30 MiB of it.
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
    """The PDF's pages as its child reports them, or why they could not be read."""
    request = {
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
        "wall_seconds": limits.wall_seconds,
        "max_pages": limits.max_pages,
        "max_text_chars": limits.max_text_chars,
        # The answer is the text plus its boxes; anything beyond is no answer of ours.
        "max_answer_bytes": limits.max_text_chars * 64 + MiB,
    }
    with _lock:
        reply = _server().ask(json.dumps(request).encode(), pdf, limits.wall_seconds + _SERVER_GRACE_SECONDS)
        if reply is None:
            _stop_server()
            return ChildResult(failure=FailureReason.CRASHED, detail="the fork server stopped answering")
    end, answer = reply
    return _child_result(end, answer, limits)


def _child_result(end: dict, answer: bytes, limits: Limits) -> ChildResult:
    if end["cut_off"] == "timeout":
        return ChildResult(failure=FailureReason.TIMEOUT, detail=f"{limits.wall_seconds:g} s")
    if end["cut_off"] == "too_much_text":
        return ChildResult(failure=FailureReason.TOO_MUCH_TEXT, detail="answer too long")
    if end["exit"] != 0:
        return _ended_abnormally(end, limits)
    try:
        parsed = json.loads(answer)
        if "failure" in parsed:
            return ChildResult(failure=FailureReason(parsed["failure"]), detail=str(parsed.get("detail", "")))
        return ChildResult(pages=list(parsed["pages"]))
    except (ValueError, KeyError, TypeError):
        return ChildResult(failure=FailureReason.CRASHED, detail="no answer")


def _ended_abnormally(end: dict, limits: Limits) -> ChildResult:
    code = end["exit"]
    how = f"exit {code}"
    if code < 0:
        try:
            how = signal.Signals(-code).name
        except ValueError:
            how = f"signal {-code}"
    if code == -signal.SIGKILL and end["cpu"] >= limits.cpu_seconds:
        return ChildResult(failure=FailureReason.CPU_LIMIT, detail=f"{end['cpu']:.1f} s CPU")
    if end["max_rss_kib"] * 1024 >= _NEAR_MEMORY_LIMIT * limits.memory_bytes:
        return ChildResult(
            failure=FailureReason.MEMORY_LIMIT, detail=f"{how}, {end['max_rss_kib'] // 1024} MiB"
        )
    return ChildResult(failure=FailureReason.CRASHED, detail=how)


class _ForkServer:
    """The running ``child.py`` server of this process, and the conversation with it."""

    def __init__(self):
        self.owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(CHILD_SCRIPT)],  # isolated: no user site, no PYTHON* variables
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            # Ours to end: a Ctrl-C meant for the worker must not cut a reading off half-way.
            start_new_session=True,
        )
        os.set_blocking(self.process.stdin.fileno(), False)
        self.replies = bytearray()

    def ask(self, head: bytes, pdf: bytes, seconds: float) -> tuple[dict, bytes] | None:
        """Send one request and wait for its reply; None when the server fails to give one in time."""
        outgoing = memoryview(
            b"".join(len(frame).to_bytes(LENGTH_BYTES, "big") + frame for frame in (head, pdf))
        )
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdin, selectors.EVENT_WRITE)
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                frames = self._frames(2)
                if frames is not None:
                    return json.loads(frames[0]), frames[1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                for key, _ in selector.select(remaining):
                    if key.fileobj is self.process.stdout:
                        chunk = os.read(key.fd, 1 << 16)
                        if not chunk:
                            return None
                        self.replies += chunk
                    elif outgoing:
                        try:
                            outgoing = outgoing[os.write(key.fd, outgoing[: 1 << 16]) :]
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            return None
                        if not outgoing:
                            selector.unregister(self.process.stdin)

    def _frames(self, count: int) -> list[bytes] | None:
        """The first ``count`` complete frames received, taken off the buffer, or None yet."""
        frames, offset = [], 0
        for _ in range(count):
            if len(self.replies) < offset + LENGTH_BYTES:
                return None
            length = int.from_bytes(self.replies[offset : offset + LENGTH_BYTES], "big")
            start = offset + LENGTH_BYTES
            if len(self.replies) < start + length:
                return None
            frames.append(bytes(self.replies[start : start + length]))
            offset = start + length
        del self.replies[:offset]
        return frames

    def stop(self) -> None:
        # A parent's server, inherited through a fork, is the parent's to stop: only let go of it.
        if self.owner == os.getpid():
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


_lock = threading.Lock()
_current: _ForkServer | None = None


def _server() -> _ForkServer:
    global _current
    if _current is None or _current.owner != os.getpid() or _current.process.poll() is not None:
        if _current is not None:
            _current.stop()
        _current = _ForkServer()
    return _current


def _stop_server() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None


def _after_fork_in_child() -> None:
    # A fork can happen while another thread holds the lock; the child has no such thread.
    global _lock
    _lock = threading.Lock()


atexit.register(_stop_server)
os.register_at_fork(after_in_child=_after_fork_in_child)
