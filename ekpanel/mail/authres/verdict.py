"""Sender verification: does the receiving mail server vouch for the message's From domain?

ekpanel verifies no signature itself. The mail server that received the message from the internet
checked SPF, DKIM and DMARC and wrote its verdict into an Authentication-Results field (RFC 8601);
``sender_verdict`` reads that verdict for one message.

Whose field counts
------------------
Anyone can put an Authentication-Results field into a message before sending it. RFC 8601
(section 5, https://www.rfc-editor.org/rfc/rfc8601#section-5) has readers trust only fields whose
authserv-id is their own receiving server's, and has that server delete incoming fields claiming
its authserv-id; not every server does. A server prepends its fields, like Received fields, above
everything the message brought with it. So, reading the fields top to bottom (as they stand in
the message; the caller passes them in that order):

- With an authserv-id configured for the server (``mx.google.com``, a home.pl or OVH host): the
  topmost field with that authserv-id, and the fields right below it with the same authserv-id
  (Postfix with OpenDKIM, OpenDMARC and an SPF policy daemon writes one field per filter). The
  run ends at the first field with another authserv-id, or none. Within the run each method is
  taken from the topmost field that reports it, so a forged field with our authserv-id right
  below ours can add nothing for a method our server checks. Fields of other authserv-ids are
  ignored, above or below ours.
- Microsoft 365 (Exchange Online) stamps its field without an authserv-id. Microsoft's
  "Anti-spam message headers" page
  (https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo, section
  "Authentication-results message header") is what this relies on: every inbound message gets
  an Authentication-results field with ``spf=<result> (sender IP is ...) smtp.mailfrom=<domain>``,
  ``dkim=<pass|fail (reason)|none> header.d=<domain>``,
  ``dmarc=<pass|fail|bestguesspass|none> action=<...> header.from=<domain>`` and
  ``compauth=<pass|fail|softpass|none> reason=<three digits>``. Microsoft's field is the topmost
  field without an authserv-id: a sender's own fields stand below it, and a field with an
  authserv-id is some other server's (a gateway in front of Microsoft 365, say) and is skipped.
  The ``ARC-Authentication-Results: i=1; mx.microsoft.com 1; ...`` field is a different field
  and is never passed here. The caller passes the fields in the order of Microsoft Graph's
  ``internetMessageHeaders``, taken to be the message's order (Graph's reference does not say so).

If the field that should be ours cannot be read, or reports DMARC twice (sender text written
into it unquoted), the message is *unconfirmed*: guessing around it could lose its ``fail``.
That field is the topmost one with our authserv-id or, for Microsoft 365, the topmost one that
has no authserv-id or broke before one could be read. A broken field further down ends our run
like any field not ours, so nothing a sender appends below our fields changes the verdict once
they report DKIM and DMARC. Only the first ``MAX_FIELDS_READ`` fields are looked at, and a run of
ours is at most ``MAX_RUN_FIELDS`` long.

The verdict
-----------
- *confirmed*: DMARC ``pass`` for the From domain (``header.from`` equal to it), or a DKIM
  ``pass`` whose signing domain (``header.d``, else the domain of ``header.i``, which Gmail writes
  instead) is aligned with the From domain: the same organisational domain (see ``domains``).
- *failed*: DMARC ``fail``, or DKIM ``fail`` with no aligned DKIM pass. DMARC ``fail`` wins over
  an aligned DKIM pass: the domain's owner may require strict alignment.
- *unconfirmed*: everything else: no usable field, ``none``/``neutral``/``temperror``/
  ``permerror``, SPF alone (SPF checks the envelope sender, which need not be the From domain),
  Microsoft's ``bestguesspass`` (no DMARC policy published; an aligned DKIM pass still
  confirms), and ``compauth``, which Microsoft defines as its own composite judgement ("Despite a
  compauth failure, the message might still be allowed") and which is kept as evidence only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ekpanel.mail.authres.domains import aligned, normalise_domain
from ekpanel.mail.authres.header import (
    AuthenticationResults,
    AuthResError,
    MethodResult,
    normalise_authserv_id,
    parse_header,
    read_authserv_id,
)

# Bounds on the work per message: the server's own fields stand at the top, and one server writes
# a few (one per filter), so fields further down, or a longer run, are a sender's.
MAX_FIELDS_READ = 50
MAX_RUN_FIELDS = 8


class SenderVerdict(StrEnum):
    CONFIRMED = "confirmed"  # potwierdzony
    UNCONFIRMED = "unconfirmed"  # niepotwierdzony
    FAILED = "failed"  # niezgodny


class VerdictReason(StrEnum):
    """Why the verdict is what it is; one reason per verdict, for the bookkeeper."""

    DMARC_PASS = "dmarc_pass"
    ALIGNED_DKIM_PASS = "aligned_dkim_pass"
    DMARC_FAIL = "dmarc_fail"
    DKIM_FAIL = "dkim_fail"
    NOT_VOUCHED = "not_vouched"  # the server's field has no pass for the From domain
    NO_FIELD = "no_field"  # no field from the server
    UNREADABLE_FIELD = "unreadable_field"
    NO_AUTHSERV_ID = "no_authserv_id"  # the server's authserv-id is not configured


@dataclass(frozen=True)
class DkimSignature:
    result: str
    domain: str | None  # header.d, else the domain of header.i
    aligned: bool  # with the From domain


@dataclass(frozen=True)
class DmarcResult:
    result: str
    header_from: str | None


@dataclass(frozen=True)
class SpfResult:
    result: str
    mailfrom: str | None  # smtp.mailfrom (an address or a domain), else smtp.helo


@dataclass(frozen=True)
class CompositeAuth:
    result: str
    reason: str | None  # Microsoft's three-digit code


@dataclass(frozen=True)
class SenderCheck:
    """The verdict on one message and what it rests on. ``to_json`` gives plain data to store;
    ``from_json`` reads it back."""

    verdict: SenderVerdict
    reason: VerdictReason
    from_domain: str
    # The authserv-id whose fields were looked for; None for Microsoft 365 (see ``microsoft``),
    # whose field has none, and when none is configured.
    authserv_id: str | None
    microsoft: bool
    dkim: tuple[DkimSignature, ...] = ()
    dmarc: DmarcResult | None = None
    spf: SpfResult | None = None
    compauth: CompositeAuth | None = None

    def to_json(self) -> dict[str, Any]:
        def plain(item):
            return None if item is None else dict(vars(item))

        return {
            "verdict": str(self.verdict),
            "reason": str(self.reason),
            "from_domain": self.from_domain,
            "authserv_id": self.authserv_id,
            "microsoft": self.microsoft,
            "dkim": [plain(signature) for signature in self.dkim],
            "dmarc": plain(self.dmarc),
            "spf": plain(self.spf),
            "compauth": plain(self.compauth),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SenderCheck:
        def read(kind, item):
            return None if item is None else kind(**item)

        return cls(
            verdict=SenderVerdict(data["verdict"]),
            reason=VerdictReason(data["reason"]),
            from_domain=data["from_domain"],
            authserv_id=data["authserv_id"],
            microsoft=data["microsoft"],
            dkim=tuple(DkimSignature(**signature) for signature in data["dkim"]),
            dmarc=read(DmarcResult, data["dmarc"]),
            spf=read(SpfResult, data["spf"]),
            compauth=read(CompositeAuth, data["compauth"]),
        )


def sender_verdict(
    headers: Sequence[str], from_domain: str, authserv_id: str | None, *, microsoft: bool
) -> SenderCheck:
    """The verdict for a message with these Authentication-Results field values (top to bottom)
    and this From domain. ``authserv_id`` is the receiving server's; it is not used for
    Microsoft 365 (``microsoft=True``), whose field has none."""
    used_id = None
    if microsoft:
        results, reason = _microsoft_results(headers[:MAX_FIELDS_READ])
    elif authserv_id is None or not normalise_authserv_id(authserv_id):
        results, reason = (), VerdictReason.NO_AUTHSERV_ID
    else:
        used_id = normalise_authserv_id(authserv_id)
        results, reason = _own_results(headers[:MAX_FIELDS_READ], used_id)
    if reason is not None:
        return SenderCheck(SenderVerdict.UNCONFIRMED, reason, from_domain, used_id, microsoft)
    return _judge(results, from_domain, used_id, microsoft)


def propose_authserv_id(messages: Iterable[Sequence[str]]) -> str | None:
    """The authserv-id to propose for a server, from the Authentication-Results fields (top to
    bottom) of its recent messages: the one most often in the topmost field.

    None when no message has one, which means the server adds no Authentication-Results, and also
    when the most common one is topmost in no more than half of the messages: a server that
    stamps its mail stamps nearly all of it, while the fields a server that stamps nothing leaves
    on top are other servers' (mail forwarded from Gmail carries ``mx.google.com``), and trusting
    one of those would trust whatever a sender writes under that name.
    """
    counts: Counter[str] = Counter()
    total = 0
    for headers in messages:
        total += 1
        if headers:
            topmost = _authserv_id_of(headers[0])
            if topmost:
                counts[topmost] += 1
    if not counts:
        return None
    proposed, count = counts.most_common(1)[0]
    return proposed if count * 2 > total else None


# The trusted results, or why there are none.
_Found = tuple[tuple[MethodResult, ...], VerdictReason | None]


def _authserv_id_of(value: str) -> str | None:
    try:
        return read_authserv_id(value)
    except AuthResError as error:
        return error.authserv_id


def _own_results(headers: Sequence[str], wanted: str) -> _Found:
    """The results of the run of fields with our authserv-id that starts at the topmost one."""
    run: list[AuthenticationResults] = []
    for value in headers:
        if _authserv_id_of(value) != wanted:
            if run:
                break
            continue
        try:
            run.append(_read_ours(value))
        except AuthResError:
            if not run:
                return (), VerdictReason.UNREADABLE_FIELD
            break  # like any field not ours: what stands below it is not read
        if len(run) == MAX_RUN_FIELDS:
            break
    if not run:
        return (), VerdictReason.NO_FIELD
    results: list[MethodResult] = []
    reported: set[str] = set()
    for field in run:
        results += [result for result in field.results if result.method not in reported]
        reported |= field.methods()
    return tuple(results), None


def _microsoft_results(headers: Sequence[str]) -> _Found:
    """The results of the topmost field without an authserv-id: the one Exchange Online added."""
    for value in headers:
        try:
            if read_authserv_id(value) is not None:
                continue  # some other server's
            return _read_ours(value).results, None
        except AuthResError as error:
            if error.has_authserv_id:
                continue  # some other server's, broken
            return (), VerdictReason.UNREADABLE_FIELD  # may be Microsoft's own
    return (), VerdictReason.NO_FIELD


def _read_ours(value: str) -> AuthenticationResults:
    """A field of our server's. A server reports DMARC once per message: a second DMARC result
    means text of the sender's (a quoted local part of the envelope sender, say) was written into
    the field without its quotes, so the field is refused rather than believed."""
    field = parse_header(value)
    if sum(result.method == "dmarc" for result in field.results) > 1:
        named = field.authserv_id is not None
        raise AuthResError("DMARC reported twice", authserv_id=field.authserv_id, has_authserv_id=named)
    return field


def _judge(
    results: Sequence[MethodResult], from_domain: str, authserv_id: str | None, microsoft: bool
) -> SenderCheck:
    from_normal = normalise_domain(from_domain)
    dkim = tuple(_signature(result, from_domain) for result in results if result.method == "dkim")
    dmarc_results = [result for result in results if result.method == "dmarc"]
    dmarc_fail = next((result for result in dmarc_results if result.result == "fail"), None)
    dmarc_pass = next(
        (
            result
            for result in dmarc_results
            if result.result == "pass"
            and from_normal is not None
            and normalise_domain(result.get("header.from") or "") == from_normal
        ),
        None,
    )
    if dmarc_fail is not None:
        verdict, reason = SenderVerdict.FAILED, VerdictReason.DMARC_FAIL
    elif dmarc_pass is not None:
        verdict, reason = SenderVerdict.CONFIRMED, VerdictReason.DMARC_PASS
    elif any(signature.result == "pass" and signature.aligned for signature in dkim):
        verdict, reason = SenderVerdict.CONFIRMED, VerdictReason.ALIGNED_DKIM_PASS
    elif any(signature.result == "fail" for signature in dkim):
        verdict, reason = SenderVerdict.FAILED, VerdictReason.DKIM_FAIL
    else:
        verdict, reason = SenderVerdict.UNCONFIRMED, VerdictReason.NOT_VOUCHED
    shown = dmarc_fail or dmarc_pass or (dmarc_results[0] if dmarc_results else None)
    spf = _first(results, "spf")
    compauth = _first(results, "compauth")
    return SenderCheck(
        verdict,
        reason,
        from_domain,
        authserv_id,
        microsoft,
        dkim=dkim,
        dmarc=None if shown is None else DmarcResult(shown.result, shown.get("header.from")),
        spf=None if spf is None else SpfResult(spf.result, spf.get("smtp.mailfrom") or spf.get("smtp.helo")),
        compauth=None if compauth is None else CompositeAuth(compauth.result, compauth.get("reason")),
    )


def _signature(result: MethodResult, from_domain: str) -> DkimSignature:
    signer = result.get("header.d")
    if not signer or normalise_domain(signer) is None:
        identity = result.get("header.i")
        signer = identity.rpartition("@")[2] if identity else signer
    return DkimSignature(result.result, signer or None, bool(signer) and aligned(signer, from_domain))


def _first(results: Sequence[MethodResult], method: str) -> MethodResult | None:
    return next((result for result in results if result.method == method), None)
