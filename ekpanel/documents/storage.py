"""Content-addressed PDF storage: ``<STORAGE_DIR>/ab/cd/<sha256>.pdf``.

The same bytes are stored once, whoever sent them. A file is written to a temporary name in
its directory, flushed to disk and renamed, so a crash never leaves a half-written PDF under a
real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from flask import current_app

_SHA256 = re.compile(r"[0-9a-f]{64}")


def store_pdf(data: bytes, storage_dir: Path | str | None = None) -> str:
    """Store ``data`` (if not stored yet) and return its SHA-256 in hex."""
    sha256 = hashlib.sha256(data).hexdigest()
    path = pdf_path(sha256, storage_dir)
    if path.exists() and path.stat().st_size == len(data):
        return sha256
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".pdf", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return sha256


def sweep_temporary_files(storage_dir: Path | str, older_than_seconds: float) -> int:
    """Remove half-written PDFs (``.tmp-*.pdf``) a killed check left behind; returns how many.

    Only files older than a check may last are taken: a younger one may belong to a check running
    in another worker right now.
    """
    cutoff = time.time() - older_than_seconds
    removed = 0
    for leftover in Path(storage_dir).glob("*/*/.tmp-*.pdf"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                removed += 1
    return removed


class PdfWriter:
    """:func:`store_pdf` on a few threads, for a check that stores many PDFs at a time.

    Hashing, writing and above all the fsyncs of different files overlap (the file system
    commits concurrent fsyncs together). :meth:`wait` returns once every PDF handed in is
    durable, so rows that name them are committed only after it. At most ``max_pending_bytes``
    wait in memory; :meth:`store` blocks beyond that.
    """

    def __init__(self, storage_dir: Path | str, *, threads: int = 8, max_pending_bytes: int = 32 << 20):
        self._storage_dir = Path(storage_dir)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="pdf-writer")
        self._pending: deque[tuple[Future[str], int]] = deque()
        self._pending_bytes = 0
        self._max_pending_bytes = max_pending_bytes

    def __enter__(self) -> PdfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)

    def store(self, data: bytes) -> Future[str]:
        """Start storing ``data``; the future gives its SHA-256 (or raises what storing raised)."""
        while self._pending and self._pending_bytes + len(data) > self._max_pending_bytes:
            self._settle_oldest()
        future = self._pool.submit(store_pdf, data, self._storage_dir)
        self._pending.append((future, len(data)))
        self._pending_bytes += len(data)
        return future

    def wait(self) -> None:
        """Block until every PDF handed in is on disk; raises the first failure."""
        while self._pending:
            self._settle_oldest()

    def _settle_oldest(self) -> None:
        future, size = self._pending.popleft()
        self._pending_bytes -= size
        future.result()


def pdf_path(sha256: str, storage_dir: Path | str | None = None) -> Path:
    """Where the PDF with this hash lives (whether or not it exists)."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
    root = Path(storage_dir if storage_dir is not None else current_app.config["STORAGE_DIR"])
    return root / sha256[:2] / sha256[2:4] / f"{sha256}.pdf"


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
