"""The settings the mail code needs, read once from the Flask config into plain values.

A job, the CLI and tests build one of these and hand it down, so nothing below reaches for
``current_app`` in the middle of talking to a mail server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ekpanel.mail.decide import MAX_PDFS_PER_MESSAGE
from ekpanel.mail.pdf import DEFAULT_MAX_PDF_MB
from ekpanel.mail.structure import DEFAULT_MAX_DEPTH, DEFAULT_MAX_PARTS

DEFAULT_IMAP_TIMEOUT = 30.0
DEFAULT_LOG_DAYS = 90
DEFAULT_MAX_FORWARDED_MULTIPLE = 4.0
DEFAULT_IMAP_MAX_LINE_MB = 16


@dataclass(frozen=True)
class MailSettings:
    timezone: str = "Europe/Warsaw"
    max_pdf_bytes: int = DEFAULT_MAX_PDF_MB * 1024 * 1024
    imap_timeout: float = DEFAULT_IMAP_TIMEOUT  # seconds, for every socket operation
    ca_bundle: str | None = None  # extra trusted CAs (PEM), on top of the system store
    ms_login_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    storage_dir: Path = Path("documents")
    log_days: int = DEFAULT_LOG_DAYS
    max_pdfs_per_message: int = MAX_PDFS_PER_MESSAGE
    imap_max_line_bytes: int = DEFAULT_IMAP_MAX_LINE_MB * 1024 * 1024  # longest IMAP response line read
    max_parts_per_message: int = DEFAULT_MAX_PARTS  # parts of one message's structure examined
    max_mime_depth: int = DEFAULT_MAX_DEPTH  # multiparts and forwarded messages within each other
    # A forwarded message (a Graph item attachment) is read whole to find its PDFs; one bigger
    # than this many times ``max_pdf_bytes`` is not read at all, but recorded as that message's error.
    max_forwarded_multiple: float = DEFAULT_MAX_FORWARDED_MULTIPLE

    @property
    def max_forwarded_bytes(self) -> int:
        return int(self.max_pdf_bytes * self.max_forwarded_multiple)

    @classmethod
    def from_config(cls, config: Mapping) -> MailSettings:
        """From the Flask config (the ``EKPANEL_*`` names without the prefix, see ekpanel.config)."""
        megabytes = float(config.get("MAX_PDF_MB") or DEFAULT_MAX_PDF_MB)
        if megabytes <= 0:
            megabytes = DEFAULT_MAX_PDF_MB
        timeout = float(config.get("IMAP_TIMEOUT") or DEFAULT_IMAP_TIMEOUT)
        forwarded = float(config.get("MAX_FORWARDED_MULTIPLE") or DEFAULT_MAX_FORWARDED_MULTIPLE)
        return cls(
            timezone=config.get("TIMEZONE") or "Europe/Warsaw",
            max_pdf_bytes=int(megabytes * 1024 * 1024),
            imap_timeout=timeout if timeout > 0 else DEFAULT_IMAP_TIMEOUT,
            ca_bundle=config.get("CA_BUNDLE") or None,
            ms_login_url=(config.get("MS_LOGIN_URL") or cls.ms_login_url).rstrip("/"),
            graph_url=(config.get("GRAPH_URL") or cls.graph_url).rstrip("/"),
            storage_dir=Path(
                config.get("STORAGE_DIR") or Path(config.get("INSTANCE_DIR") or ".") / "documents"
            ),
            log_days=int(config.get("LOG_DAYS") or DEFAULT_LOG_DAYS),
            max_pdfs_per_message=max(1, int(config.get("MAX_PDFS_PER_MESSAGE") or MAX_PDFS_PER_MESSAGE)),
            max_parts_per_message=max(1, int(config.get("MAX_PARTS_PER_MESSAGE") or DEFAULT_MAX_PARTS)),
            max_mime_depth=max(1, int(config.get("MAX_MIME_DEPTH") or DEFAULT_MAX_DEPTH)),
            imap_max_line_bytes=int(
                max(1.0, float(config.get("IMAP_MAX_LINE_MB") or DEFAULT_IMAP_MAX_LINE_MB)) * 1024 * 1024
            ),
            max_forwarded_multiple=forwarded if forwarded > 0 else DEFAULT_MAX_FORWARDED_MULTIPLE,
        )
