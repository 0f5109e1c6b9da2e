"""Sender verification from the receiving server's Authentication-Results (RFC 8601).

- ``header``: reading one field into its results (``parse_header``, ``AuthResError``);
- ``domains``: domain names as DMARC compares them (organisational domain, alignment);
- ``verdict``: whose fields count, and the verdict per message (``sender_verdict``), and the
  authserv-id to propose for a server (``propose_authserv_id``).

Pure library: standard library and ``publicsuffixlist`` only; no Flask, database or gettext.
"""

from ekpanel.mail.authres.header import AuthenticationResults, AuthResError, MethodResult, parse_header
from ekpanel.mail.authres.verdict import (
    CompositeAuth,
    DkimSignature,
    DmarcResult,
    SenderCheck,
    SenderVerdict,
    SpfResult,
    VerdictReason,
    propose_authserv_id,
    sender_verdict,
)

__all__ = [
    "AuthResError",
    "AuthenticationResults",
    "CompositeAuth",
    "DkimSignature",
    "DmarcResult",
    "MethodResult",
    "SenderCheck",
    "SenderVerdict",
    "SpfResult",
    "VerdictReason",
    "parse_header",
    "propose_authserv_id",
    "sender_verdict",
]
