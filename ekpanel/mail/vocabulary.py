"""The words of a check, shared by the mail core, the checks area and the pages.

Each value is stored in the database or in a job's progress, so a value never changes; a
member's name may. People see them through the pages' labels, never as they stand.
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """What became of one examined message."""

    TAKEN = "taken"
    SKIPPED = "skipped"
    ERROR = "error"


class Reason(StrEnum):
    """Why a message was skipped."""

    SENDER = "sender not on the list"
    SENDER_AMBIGUOUS = "ambiguous sender"  # a From with more than one address: never admitted
    NO_ATTACHMENT = "no attachment"
    NO_PDF = "no PDF"
    TOO_LARGE = "PDF too large"
    DUPLICATE = "duplicate"
    # Under the policy "Wymagaj": the receiving server does not vouch for the From domain.
    SENDER_UNCONFIRMED = "sender unconfirmed"  # nadawca niepotwierdzony
    SENDER_FAILED = "sender failed"  # nadawca niezgodny (DMARC or DKIM fail)


class SenderPolicy(StrEnum):
    """A server's "Weryfikacja nadawcy": what the receiving server's verdict on the From domain decides."""

    OFF = "off"  # Wyłączona: the whitelist alone decides; no verdict is read
    MARK = "mark"  # Oznaczaj: everything the whitelist admits is taken, each document with its verdict
    REQUIRE = "require"  # Wymagaj: only messages whose sender is confirmed are taken


class Outcome(StrEnum):
    """How a whole check ended."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # the server answered, but some messages or folders had errors
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its worker died mid-check; closed by whoever found it so


class ErrorCode(StrEnum):
    """The classification of a failure: what the retry policy and the pages decide by."""

    # the whole mailbox
    AUTH_FAILED = "auth_failed"
    LOGIN_DISABLED = "login_disabled"
    STARTTLS_MISSING = "starttls_missing"
    TLS_FAILED = "tls_failed"
    TLS_UNTRUSTED = "tls_untrusted"
    HOST_NOT_FOUND = "host_not_found"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_FAILED = "connection_failed"
    CONNECTION_LOST = "connection_lost"
    PROXY_FAILED = "proxy_failed"
    TIMEOUT = "timeout"
    PROTOCOL_ERROR = "protocol_error"
    SECRET_UNREADABLE = "secret_unreadable"
    # Microsoft 365
    MAILBOX_MISSING = "mailbox_missing"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    CONSENT_MISSING = "consent_missing"
    SECRET_INVALID = "secret_invalid"
    SECRET_EXPIRED = "secret_expired"
    APP_UNKNOWN = "app_unknown"
    TENANT_UNKNOWN = "tenant_unknown"
    LOGIN_URL_INVALID = "login_url_invalid"
    LOGIN_UNAVAILABLE = "login_unavailable"
    THROTTLED = "throttled"
    GRAPH_ERROR = "graph_error"
    GRAPH_UNAVAILABLE = "graph_unavailable"
    SYNC_STATE_GONE = "sync_state_gone"
    # one folder or one message: the check records it and goes on
    FOLDER_UNAVAILABLE = "folder_unavailable"
    MESSAGE_MISSING = "message_missing"
    # the check itself
    UNEXPECTED = "unexpected"
    SERVER_MISSING = "server_missing"  # the server was deleted after its job was queued
    JOB_FAILED = "job_failed"  # the job died without a result (killed worker, timeout)
