"""Sender verification in the check: the receiving server's verdict on a message's From domain.

``ekpanel.mail.authres`` reads Authentication-Results fields and judges one message. This module is
what the check needs around it:

- :class:`SenderSettings`, the server's "Weryfikacja nadawcy" as plain values (policy,
  authserv-id, whether the mailbox is Microsoft 365, whose field has no authserv-id);
- the fields as each mailbox reads them: :func:`fields_from_header_block` for IMAP's
  ``BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS)]``, :func:`fields_from_graph` for Graph's
  ``internetMessageHeaders``;
- what a verdict means for the check: :func:`skip_reason` under *Wymagaj*, and :func:`verdict_note`,
  the log's words for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ekpanel.mail.authres import AuthResError, SenderCheck, SenderVerdict, VerdictReason, sender_verdict
from ekpanel.mail.authres.header import read_authserv_id
from ekpanel.mail.authres.verdict import MAX_FIELDS_READ
from ekpanel.mail.mailbox import MessageSummary
from ekpanel.mail.texts import Note, Text, note
from ekpanel.mail.vocabulary import Reason, SenderPolicy

# How the log names the server whose field counts on a Microsoft 365 mailbox.
MICROSOFT_SERVER = "Exchange Online"

_AUTHRES_FIELD = re.compile(
    rb"^authentication-results[ \t]*:(.*(?:\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE
)
_GRAPH_NAME = "authentication-results"
_FOLD = re.compile(rb"\r?\n(?=[ \t])")


@dataclass(frozen=True)
class SenderSettings:
    """One server's sender verification, as the check applies it."""

    policy: SenderPolicy = SenderPolicy.OFF
    authserv_id: str | None = None  # the receiving server's (IMAP); unused for Microsoft 365
    microsoft: bool = False

    @property
    def judges(self) -> bool:
        """Whether messages get a verdict at all (not under *Wyłączona*)."""
        return self.policy != SenderPolicy.OFF

    @property
    def requires(self) -> bool:
        return self.policy == SenderPolicy.REQUIRE


def judge(message: MessageSummary, settings: SenderSettings) -> SenderCheck:
    """The verdict on ``message`` from its Authentication-Results fields (none read: no field)."""
    from_domain = (message.sender or "").rpartition("@")[2]
    return sender_verdict(
        message.authentication_results or (),
        from_domain,
        settings.authserv_id,
        microsoft=settings.microsoft,
    )


def skip_reason(check: SenderCheck) -> Reason | None:
    """Why *Wymagaj* leaves the message in its folder; None when its sender is confirmed."""
    if check.verdict == SenderVerdict.CONFIRMED:
        return None
    if check.verdict == SenderVerdict.FAILED:
        return Reason.SENDER_FAILED
    return Reason.SENDER_UNCONFIRMED


_REASON_TEXTS = {
    VerdictReason.DMARC_PASS: Text.SENDER_DMARC_PASS,
    VerdictReason.ALIGNED_DKIM_PASS: Text.SENDER_ALIGNED_DKIM_PASS,
    VerdictReason.DMARC_FAIL: Text.SENDER_DMARC_FAIL,
    VerdictReason.DKIM_FAIL: Text.SENDER_DKIM_FAIL,
    VerdictReason.NOT_VOUCHED: Text.SENDER_NOT_VOUCHED,
    VerdictReason.NO_FIELD: Text.SENDER_NO_FIELD,
    VerdictReason.UNREADABLE_FIELD: Text.SENDER_UNREADABLE_FIELD,
    VerdictReason.NO_AUTHSERV_ID: Text.SENDER_NO_AUTHSERV_ID,
}


def verdict_note(check: SenderCheck) -> Note:
    """What the verdict rests on, in a few words: "DMARC fail dla domeny firma.pl (mx.firma.pl)"."""
    server = MICROSOFT_SERVER if check.microsoft else (check.authserv_id or "")
    wanted = "pass" if check.reason == VerdictReason.ALIGNED_DKIM_PASS else "fail"
    signer = next(
        (signature.domain for signature in check.dkim if signature.result == wanted and signature.domain), ""
    )
    return note(_REASON_TEXTS[check.reason], domain=check.from_domain, server=server, signer=signer)


def fields_from_header_block(raw: bytes) -> tuple[str, ...]:
    """The Authentication-Results field values of a header block, top to bottom, unfolded.

    At most the fields the verdict reads: a message with thousands of them costs no more.
    """
    values = []
    for match in _AUTHRES_FIELD.finditer(raw):
        values.append(_FOLD.sub(b"", match.group(1)).decode("utf-8", "replace").strip())
        if len(values) == MAX_FIELDS_READ:
            break
    return tuple(values)


def fields_from_graph(headers: Any) -> tuple[str, ...]:
    """The Authentication-Results values among Graph's ``internetMessageHeaders``, in its order.

    ``ARC-Authentication-Results`` is another field and is not among them.
    """
    if not isinstance(headers, list):
        return ()
    values = [
        str(header.get("value") or "")
        for header in headers
        if isinstance(header, dict) and str(header.get("name") or "").strip().lower() == _GRAPH_NAME
    ]
    return tuple(values[:MAX_FIELDS_READ])


def topmost_authserv_ids(messages: Iterable[Sequence[str]]) -> Counter[str]:
    """How often each authserv-id stands in the topmost field of these messages: what the dialog
    shows beside its proposal (``authres.propose_authserv_id``)."""
    counts: Counter[str] = Counter()
    for fields in messages:
        if not fields:
            continue
        try:
            found = read_authserv_id(fields[0])
        except AuthResError as error:
            found = error.authserv_id
        if found:
            counts[found] += 1
    return counts
