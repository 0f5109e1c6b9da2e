"""Authentication-Results: reading fields, whose fields count, alignment, and the verdict per message.

The sample fields of the common receiving servers are in ``tests/support/authres_samples.py``;
below, mail delivered by Dovecot at a Polish hosting provider: the MX's field on top of a raw
message that brought fields of its own.
"""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from ekpanel.mail.authres import (
    AuthResError,
    SenderCheck,
    SenderVerdict,
    VerdictReason,
    parse_header,
    propose_authserv_id,
    sender_verdict,
)
from ekpanel.mail.authres.domains import aligned, normalise_domain, organisational_domain
from ekpanel.mail.authres.header import MAX_FIELD_CHARS, read_authserv_id
from tests.support.authres_samples import (
    EXCHANGE_BESTGUESS,
    EXCHANGE_FAIL,
    EXCHANGE_PASS,
    EXCHANGE_UNSIGNED,
    GMAIL,
    OPENDKIM_PASS,
    OPENDMARC_NONE,
    RSPAMD_FAIL,
    RSPAMD_PASS,
    SPF_PASS,
)


def forged(authserv_id: str | None, domain: str = "firma.pl") -> str:
    """What a sender can write into its own message: every check passed."""
    opening = f"{authserv_id}; " if authserv_id else ""
    passes = f"spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    return opening + passes


def verdict_of(headers, from_domain="firma.pl", authserv_id=None, *, microsoft=False) -> SenderCheck:
    return sender_verdict(headers, from_domain, authserv_id, microsoft=microsoft)


# -- Reading one field -------------------------------------------------------------------------


def test_gmail_field_gives_its_authserv_id_and_each_result_with_its_properties():
    field = parse_header(GMAIL)
    assert field.authserv_id == "mx.google.com"
    assert [(result.method, result.result) for result in field.results] == [
        ("dkim", "pass"),
        ("arc", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    dkim, arc, spf, dmarc = field.results
    assert dkim.properties == {"header.i": "@firma.pl", "header.s": "20230601", "header.b": "Xy1+ab/Q"}
    assert arc.comment.startswith("i=1 spf=pass") and arc.properties == {}
    assert spf.get("smtp.mailfrom") == "faktury@firma.pl"
    assert spf.comment == "google.com: domain of faktury@firma.pl designates 192.0.2.10 as permitted sender"
    assert (dmarc.get("header.from"), dmarc.comment) == ("firma.pl", "p=QUARANTINE sp=QUARANTINE dis=NONE")


def test_exchange_online_field_has_no_authserv_id_and_keeps_action_and_compauth_reason():
    field = parse_header(EXCHANGE_PASS)
    assert field.authserv_id is None
    spf, dkim, dmarc, compauth = field.results
    assert (spf.result, spf.get("smtp.mailfrom"), spf.comment) == (
        "pass",
        "firma.pl",
        "sender IP is 192.0.2.10",
    )
    assert (dkim.get("header.d"), dkim.comment) == ("firma.pl", "signature was verified")
    assert dmarc.properties == {"action": "none", "header.from": "firma.pl"}
    assert (compauth.method, compauth.result, compauth.get("reason")) == ("compauth", "pass", "100")


def test_rspamd_field_reads_quoted_values_and_a_comment_after_the_last_property():
    dkim, spf, dmarc = parse_header(RSPAMD_FAIL).results
    assert (dkim.result, dkim.comment, dkim.get("header.d")) == (
        "fail",
        "body hash did not verify",
        "firma.pl",
    )
    assert spf.result == "fail"
    assert dmarc.properties == {"reason": "No valid SPF, No valid DKIM", "header.from": "firma.pl"}
    assert dmarc.comment == "policy=reject"
    assert parse_header(RSPAMD_PASS).results[0].get("header.b") == "Ab/Cd+Ef"


def test_semicolon_inside_a_comment_does_not_end_the_result():
    (dkim,) = parse_header(OPENDKIM_PASS).results
    assert dkim.comment == "2048-bit key; unprotected"
    assert dkim.get("header.d") == "firma.com.pl" and dkim.get("header.s") == "mail"


def test_nested_comments_and_quoted_pairs():
    (dkim,) = parse_header(r"mx.example.pl; dkim=pass (outer (inner) \) still) header.d=firma.pl").results
    assert dkim.comment == "outer (inner) ) still"
    assert dkim.get("header.d") == "firma.pl"


def test_quoted_local_part_keeps_the_address_and_quoted_values_lose_their_quotes():
    field = parse_header(
        r'mx.example.pl; spf=pass smtp.mailfrom="faktury \"biuro\""@firma.pl; x=y reason="a;b"'
    )
    spf, other = field.results
    assert spf.get("smtp.mailfrom") == r'"faktury \"biuro\""@firma.pl'
    assert other.get("reason") == "a;b"


def test_version_after_the_authserv_id_and_a_method_version_are_read():
    field = parse_header("mx.example.pl 1; dkim/1=pass header.d=firma.pl")
    assert field.authserv_id == "mx.example.pl"
    assert (field.results[0].method, field.results[0].result) == ("dkim", "pass")


@pytest.mark.parametrize(
    "value", ["mx.example.pl; none", "mx.example.pl", "mx.example.pl;", " mx.example.pl ; ; "]
)
def test_field_with_no_results(value):
    field = parse_header(value)
    assert (field.authserv_id, field.results) == ("mx.example.pl", ())


def test_names_and_results_are_case_insensitive_and_values_kept_as_written():
    field = parse_header("MX.Example.PL.; DKIM=PASS Header.D=Firma.PL")
    assert field.authserv_id == "mx.example.pl"
    assert field.results[0].method == "dkim" and field.results[0].result == "pass"
    assert field.results[0].properties == {"header.d": "Firma.PL"}


def test_encoded_words_are_decoded_in_comments_and_never_in_values():
    field = parse_header(
        "mx.example.pl; spf=pass (=?utf-8?q?nadawca_zaufany_=C5=BC?=)"
        " smtp.mailfrom==?utf-8?q?x=3B_dmarc=3Dpass?=@evil.example"
    )
    (spf,) = field.results
    assert spf.comment == "nadawca zaufany ż"
    assert spf.get("smtp.mailfrom") == "=?utf-8?q?x=3B_dmarc=3Dpass?=@evil.example"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   \r\n ",
        "(unterminated comment",
        "mx.example.pl; dkim=pass (unterminated",
        'mx.example.pl; dkim=pass header.b="unterminated',
        "mx.example.pl; dkim",
        "mx.example.pl; dkim=",
        "mx.example.pl; =pass",
        "mx.example.pl; dkim=pass header.d",
        "mx.example.pl; dkim=pass header.d=a.pl header.d=b.pl",
        "mx.example.pl junk; dkim=pass",
        "mx.example.pl 1x; dkim=pass",
        "mx.example.pl; dkim=pass; spf=pass smtp.mailfrom=a.pl garbage",
        "mx.example.pl; dkim=p@ss",
        '"quoted"=pass',
        "; dkim=pass",
        "=pass",
        "mx.example.pl; dkim=pass " + "x" * MAX_FIELD_CHARS,
        "mx.example.pl; dkim=pass " + "(" * 9 + ")" * 9,
        "mx.example.pl; dkim=pass (lone backslash \\",
    ],
)
def test_what_is_not_a_field_raises_the_modules_own_error(value):
    with pytest.raises(AuthResError):
        parse_header(value)


def test_an_empty_value_is_read_as_empty():
    (spf,) = parse_header("mx.example.pl; spf=none smtp.mailfrom= (null sender)").results
    assert spf.properties == {"smtp.mailfrom": ""}


@pytest.mark.parametrize(
    ("value", "authserv_id"),
    [(GMAIL, "mx.google.com"), (EXCHANGE_PASS, None), ("mx.example.pl; dkim=", "mx.example.pl")],
)
def test_the_authserv_id_is_read_without_reading_the_results(value, authserv_id):
    assert read_authserv_id(value) == authserv_id


def test_error_says_whose_field_it_was_when_that_was_read():
    with pytest.raises(AuthResError) as ours:
        parse_header("mx.example.pl; dkim=")
    assert (ours.value.authserv_id, ours.value.has_authserv_id) == ("mx.example.pl", True)
    with pytest.raises(AuthResError) as nobodys:
        parse_header("spf=pass smtp.mailfrom")
    assert (nobodys.value.authserv_id, nobodys.value.has_authserv_id) == (None, False)
    with pytest.raises(AuthResError) as unknown:
        parse_header("(broken")
    assert unknown.value.has_authserv_id is None


# -- Domains and alignment -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("Firma.PL.", "firma.pl"),
        (" faktury@firma.pl ", "firma.pl"),
        ("@firma.pl", "firma.pl"),
        ("Księgowość.pl", "xn--ksigowo-c5a1nq1a.pl"),
        ("xn--ksigowo-c5a1nq1a.pl", "xn--ksigowo-c5a1nq1a.pl"),
        ("", None),
        ("none", None),
        ("localhost", None),
        ("192.0.2.1", None),
        ("a..pl", None),
        ("-firma.pl", None),
        ("ü" * 64 + ".pl", None),
        ("firma.pl;x", None),
    ],
)
def test_domains_are_compared_in_one_written_form(text, normal):
    assert normalise_domain(text) == normal


@pytest.mark.parametrize(
    ("domain", "organisation"),
    [
        ("firma.pl", "firma.pl"),
        ("mail.faktury.firma.pl", "firma.pl"),
        ("mail.firma.com.pl", "firma.com.pl"),
        ("urzad.waw.pl", "urzad.waw.pl"),
        ("com.pl", None),
        ("pl", None),
    ],
)
def test_organisational_domain_is_one_label_under_the_public_suffix(domain, organisation):
    assert organisational_domain(domain) == organisation


@pytest.mark.parametrize(
    ("domain", "other", "expected"),
    [
        ("firma.pl", "firma.pl", True),
        ("mail.firma.pl", "firma.pl", True),  # a subdomain signs for its parent's mail
        ("firma.pl", "faktury.firma.pl", True),
        ("FIRMA.pl", "firma.PL.", True),
        ("mail.firma.com.pl", "firma.com.pl", True),
        ("firma.com.pl", "inna.com.pl", False),  # com.pl is a public suffix
        ("firma.com.pl", "com.pl", False),
        ("a.github.io", "b.github.io", False),  # private suffixes count too
        ("księgowość.pl", "mail.xn--ksigowo-c5a1nq1a.pl", True),
        ("firma.pl", "firma.com.pl", False),
        ("firma.pl", "esp-mailer.example", False),
        ("", "", False),
    ],
)
def test_alignment_compares_organisational_domains(domain, other, expected):
    assert aligned(domain, other) is expected


# -- The verdict: Gmail, rspamd, OpenDKIM/OpenDMARC ----------------------------------------------


def test_dmarc_pass_for_the_from_domain_confirms():
    check = verdict_of([GMAIL], authserv_id="mx.google.com")
    assert (check.verdict, check.reason) == (SenderVerdict.CONFIRMED, VerdictReason.DMARC_PASS)
    assert check.authserv_id == "mx.google.com"
    assert check.to_json() == {
        "verdict": "confirmed",
        "reason": "dmarc_pass",
        "from_domain": "firma.pl",
        "authserv_id": "mx.google.com",
        "microsoft": False,
        "dkim": [{"result": "pass", "domain": "firma.pl", "aligned": True}],
        "dmarc": {"result": "pass", "header_from": "firma.pl"},
        "spf": {"result": "pass", "mailfrom": "faktury@firma.pl"},
        "compauth": None,
    }


def test_dkim_pass_from_gmails_header_i_confirms_mail_from_a_subdomain():
    check = verdict_of([GMAIL], "faktury.firma.pl", "mx.google.com")
    assert (check.verdict, check.reason) == (SenderVerdict.CONFIRMED, VerdictReason.ALIGNED_DKIM_PASS)


def test_dmarc_pass_for_another_domain_does_not_confirm():
    check = verdict_of(["mx.example.pl; dmarc=pass header.from=inna.pl; spf=pass smtp.mailfrom=firma.pl"])
    assert check.verdict is SenderVerdict.UNCONFIRMED


def test_authserv_id_is_matched_ignoring_case_and_a_trailing_dot():
    assert verdict_of([RSPAMD_PASS], authserv_id=" MX.Serwer-Poczty.pl. ").verdict is SenderVerdict.CONFIRMED


def test_rspamd_dmarc_fail_fails():
    check = verdict_of([RSPAMD_FAIL], authserv_id="mx.serwer-poczty.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.FAILED, VerdictReason.DMARC_FAIL)
    assert check.dmarc.header_from == "firma.pl"
    assert check.dkim[0].result == "fail"


def test_fields_of_one_server_from_separate_filters_are_read_together():
    headers = [OPENDMARC_NONE, OPENDKIM_PASS, SPF_PASS, forged("mx.nadawca.example", "firma.com.pl")]
    check = verdict_of(headers, "firma.com.pl", "poczta.biuro.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.CONFIRMED, VerdictReason.ALIGNED_DKIM_PASS)
    assert check.dmarc.result == "none" and check.spf.result == "pass"


@pytest.mark.parametrize(
    ("signer", "verdict"),
    [
        ("mail.firma.com.pl", SenderVerdict.CONFIRMED),
        ("inna.com.pl", SenderVerdict.UNCONFIRMED),  # same public suffix, another company
        ("esp-mailer.example", SenderVerdict.UNCONFIRMED),  # a mismatched header.d
    ],
)
def test_dkim_pass_confirms_only_when_aligned(signer, verdict):
    check = verdict_of([f"poczta.biuro.pl; dkim=pass header.d={signer}"], "firma.com.pl", "poczta.biuro.pl")
    assert check.verdict is verdict
    assert check.dkim[0].domain == signer


def test_dkim_fail_fails_unless_another_aligned_signature_passes():
    broken = "mx.example.pl; dkim=fail header.d=firma.pl; dkim=pass header.d=esp-mailer.example"
    check = verdict_of([broken], authserv_id="mx.example.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.FAILED, VerdictReason.DKIM_FAIL)
    rescued = "mx.example.pl; dkim=fail header.d=esp-mailer.example; dkim=pass header.d=firma.pl"
    assert verdict_of([rescued], authserv_id="mx.example.pl").verdict is SenderVerdict.CONFIRMED


def test_dmarc_fail_wins_over_an_aligned_dkim_pass():
    value = "mx.example.pl; dkim=pass header.d=mail.firma.pl; dmarc=fail header.from=firma.pl"
    assert verdict_of([value], authserv_id="mx.example.pl").verdict is SenderVerdict.FAILED


@pytest.mark.parametrize(
    "results",
    [
        "spf=pass smtp.mailfrom=faktury@firma.pl",  # SPF alone
        "dkim=none; dmarc=none header.from=firma.pl",
        "dkim=neutral (body hash did not verify) header.d=firma.pl",
        "dkim=temperror header.d=firma.pl; dmarc=temperror header.from=firma.pl",
        "dkim=permerror header.d=firma.pl",
        "dmarc=pass",  # no header.from: not known to be for the From domain
        "none",
    ],
)
def test_no_pass_for_the_from_domain_leaves_the_message_unconfirmed(results):
    check = verdict_of([f"mx.example.pl; {results}"], authserv_id="mx.example.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.UNCONFIRMED, VerdictReason.NOT_VOUCHED)


def test_without_a_configured_authserv_id_nothing_is_trusted():
    check = verdict_of([GMAIL], authserv_id=None)
    assert (check.verdict, check.reason) == (SenderVerdict.UNCONFIRMED, VerdictReason.NO_AUTHSERV_ID)
    assert verdict_of([GMAIL], authserv_id="  ").reason is VerdictReason.NO_AUTHSERV_ID


def test_no_field_from_our_server():
    check = verdict_of([GMAIL], authserv_id="mx.serwer-poczty.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.UNCONFIRMED, VerdictReason.NO_FIELD)
    assert check.authserv_id == "mx.serwer-poczty.pl"
    assert verdict_of([], authserv_id="mx.serwer-poczty.pl").reason is VerdictReason.NO_FIELD


def test_our_field_unreadable_leaves_the_message_unconfirmed():
    check = verdict_of(
        ["mx.example.pl; dkim=pass header.d", forged("mx.example.pl")], authserv_id="mx.example.pl"
    )
    assert check.reason is VerdictReason.UNREADABLE_FIELD


# -- Forged fields ---------------------------------------------------------------------------------


def test_forged_field_of_another_server_below_ours_is_ignored():
    check = verdict_of([RSPAMD_FAIL, forged("mx.google.com")], authserv_id="mx.serwer-poczty.pl")
    assert check.verdict is SenderVerdict.FAILED


def test_field_of_another_server_above_ours_is_ignored():
    headers = ["filtr.biuro.pl; dkim=pass header.d=firma.pl; dmarc=pass header.from=firma.pl", RSPAMD_FAIL]
    assert verdict_of(headers, authserv_id="mx.serwer-poczty.pl").verdict is SenderVerdict.FAILED


def test_forged_field_with_our_authserv_id_below_ours_adds_nothing_to_methods_we_report():
    headers = [
        "mx.example.pl; dkim=none; spf=pass smtp.mailfrom=firma.pl; dmarc=none",
        forged("mx.example.pl"),
    ]
    assert verdict_of(headers, authserv_id="mx.example.pl").verdict is SenderVerdict.UNCONFIRMED


def test_forged_field_with_our_authserv_id_is_not_ours_after_a_field_of_another_server():
    headers = [SPF_PASS, "mx.nadawca.example; auth=pass", forged("poczta.biuro.pl", "firma.com.pl")]
    check = verdict_of(headers, "firma.com.pl", "poczta.biuro.pl")
    assert (check.verdict, check.dkim) == (SenderVerdict.UNCONFIRMED, ())


def test_a_server_that_stamps_nothing_would_trust_a_field_written_in_its_name():
    # The premise of it all: the configured server stamps every message. When it does not, the
    # sender's field is the topmost one; propose_authserv_id refuses ids not on top of most mail.
    assert (
        verdict_of([forged("mx.example.pl")], authserv_id="mx.example.pl").verdict is SenderVerdict.CONFIRMED
    )


def test_field_of_ours_reporting_dmarc_twice_is_refused_not_believed():
    # A server that writes a quoted envelope sender without its quotes lets the sender add results.
    envelope = '"x;dmarc=pass header.from=firma.pl;x=y"@evil.example'.replace('"', "")
    value = f"mx.example.pl; spf=pass smtp.mailfrom={envelope}; dmarc=none header.from=firma.pl"
    check = verdict_of([value], authserv_id="mx.example.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.UNCONFIRMED, VerdictReason.UNREADABLE_FIELD)
    microsoft = "spf=pass smtp.mailfrom=evil.example; dmarc=pass header.from=firma.pl; dmarc=none"
    assert verdict_of([microsoft], microsoft=True).reason is VerdictReason.UNREADABLE_FIELD


# -- Microsoft 365 (Exchange Online) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "verdict", "reason"),
    [
        (EXCHANGE_PASS, SenderVerdict.CONFIRMED, VerdictReason.DMARC_PASS),
        (EXCHANGE_UNSIGNED, SenderVerdict.UNCONFIRMED, VerdictReason.NOT_VOUCHED),
        (EXCHANGE_BESTGUESS, SenderVerdict.UNCONFIRMED, VerdictReason.NOT_VOUCHED),
        (EXCHANGE_FAIL, SenderVerdict.FAILED, VerdictReason.DMARC_FAIL),
    ],
)
def test_exchange_online_field_gives_the_verdict(value, verdict, reason):
    check = verdict_of([value], microsoft=True)
    assert (check.verdict, check.reason) == (verdict, reason)
    assert check.microsoft and check.authserv_id is None


def test_exchange_online_evidence_has_compauth_and_microsofts_header_d_none():
    check = verdict_of([EXCHANGE_UNSIGNED], microsoft=True)
    assert check.compauth.result == "fail" and check.compauth.reason == "001"
    assert check.dkim[0].result == "none" and not check.dkim[0].aligned
    assert check.spf.mailfrom == "firma.pl"


def test_microsoft_field_is_the_topmost_without_an_authserv_id_and_forged_ones_below_are_ignored():
    headers = [EXCHANGE_FAIL, forged(None), forged("mx.google.com")]
    assert verdict_of(headers, microsoft=True).verdict is SenderVerdict.FAILED


def test_fields_with_an_authserv_id_above_microsofts_are_someone_elses():
    headers = [forged("bramka.biuro.pl"), EXCHANGE_UNSIGNED, forged(None)]
    check = verdict_of(headers, authserv_id="bramka.biuro.pl", microsoft=True)
    assert (check.verdict, check.compauth.reason) == (SenderVerdict.UNCONFIRMED, "001")


def test_microsoft_without_its_field():
    assert verdict_of([], microsoft=True).reason is VerdictReason.NO_FIELD
    assert verdict_of([GMAIL, RSPAMD_PASS], microsoft=True).reason is VerdictReason.NO_FIELD


def test_unreadable_topmost_field_that_may_be_microsofts_leaves_the_message_unconfirmed():
    for broken in ["spf=pass (sender IP", "(unterminated", "=pass"]:
        check = verdict_of([broken, forged(None)], microsoft=True)
        assert check.reason is VerdictReason.UNREADABLE_FIELD
    # Another server's broken field is skipped.
    check = verdict_of(["bramka.biuro.pl; dkim=", EXCHANGE_PASS], microsoft=True)
    assert check.verdict is SenderVerdict.CONFIRMED


# -- Mail as Dovecot stores it ---------------------------------------------------------------------

DOVECOT_MESSAGE = b"""\
Return-Path: <faktury@firma.com.pl>
Delivered-To: dokumenty@biuro.pl
Received: from mx.serwer-poczty.pl
\tby skrzynki.serwer-poczty.pl with LMTP id 8Hc3 for <dokumenty@biuro.pl>; Tue, 07 Jan 2025 09:14:03 +0100
Authentication-Results: mx.serwer-poczty.pl;
\tdkim=pass header.d=firma.com.pl header.s=dkim header.b=Q1w2E3r4;
\tspf=pass (mx.serwer-poczty.pl: domain of faktury@firma.com.pl designates 192.0.2.10 as permitted sender)
 smtp.mailfrom=faktury@firma.com.pl;
\tdmarc=pass (policy=quarantine) header.from=firma.com.pl
Received: from smtp.firma.com.pl (smtp.firma.com.pl [192.0.2.10])
\tby mx.serwer-poczty.pl (Postfix) with ESMTPS id 4Ys; Tue, 07 Jan 2025 09:14:02 +0100
Authentication-Results: mx.serwer-poczty.pl; dkim=pass header.d=firma.com.pl;
 dmarc=pass header.from=firma.com.pl
Authentication-Results: smtp.firma.com.pl; auth=pass smtp.auth=faktury@firma.com.pl
From: Firma <faktury@firma.com.pl>
To: dokumenty@biuro.pl
Subject: Faktura FV/1/2025
Date: Tue, 07 Jan 2025 09:13:59 +0100
Message-ID: <fv-1-2025@firma.com.pl>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

W zalaczniku faktura.
"""


@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.default])
def test_message_stored_by_dovecot_is_judged_by_the_mx_field_on_top(policy):
    message = email.message_from_bytes(DOVECOT_MESSAGE, policy=policy)
    headers = [str(value) for value in message.get_all("Authentication-Results")]
    check = verdict_of(headers, "firma.com.pl", "mx.serwer-poczty.pl")
    assert (check.verdict, check.reason) == (SenderVerdict.CONFIRMED, VerdictReason.DMARC_PASS)
    assert check.spf.mailfrom == "faktury@firma.com.pl"


def test_message_a_sender_stamped_itself_is_not_confirmed_when_the_mx_says_otherwise():
    forged_message = DOVECOT_MESSAGE.replace(
        b"dkim=pass header.d=firma.com.pl header.s", b"dkim=none header.s"
    )
    forged_message = forged_message.replace(
        b"dmarc=pass (policy=quarantine)", b"dmarc=none (policy=quarantine)"
    )
    message = email.message_from_bytes(forged_message)
    check = verdict_of(message.get_all("Authentication-Results"), "firma.com.pl", "mx.serwer-poczty.pl")
    assert check.verdict is SenderVerdict.UNCONFIRMED


# -- Evidence and the proposed authserv-id -------------------------------------------------------


@pytest.mark.parametrize("value", [GMAIL, EXCHANGE_FAIL, RSPAMD_FAIL, OPENDKIM_PASS])
def test_evidence_is_plain_json_and_reads_back(value):
    for check in (
        verdict_of([value], authserv_id=parse_header(value).authserv_id),
        verdict_of([value], microsoft=True),
    ):
        stored = json.loads(json.dumps(check.to_json()))
        assert SenderCheck.from_json(stored) == check


def test_proposed_authserv_id_is_the_one_most_often_on_top():
    messages = [
        [RSPAMD_PASS, GMAIL],
        [RSPAMD_FAIL],
        [GMAIL, RSPAMD_PASS],  # another server's field on top: counts for that server
        ["mx.serwer-poczty.pl; dkim="],  # unreadable, but its authserv-id was read
    ]
    assert propose_authserv_id(messages) == "mx.serwer-poczty.pl"


def test_no_proposal_when_no_message_has_a_field_with_an_authserv_id():
    assert propose_authserv_id([]) is None
    assert propose_authserv_id([[], []]) is None
    assert propose_authserv_id([[EXCHANGE_PASS], [EXCHANGE_FAIL]]) is None  # Microsoft's: none
    assert propose_authserv_id([["(garbage"]]) is None


def test_no_proposal_when_the_most_common_id_is_on_top_of_no_more_than_half_the_messages():
    # A server that stamps nothing: only forwarded mail carries another server's field.
    messages = [[GMAIL], [], [], [forged(None)]]
    assert propose_authserv_id(messages) is None
    assert propose_authserv_id([[GMAIL], [GMAIL], []]) == "mx.google.com"
