"""Authentication-Results: reading fields, whose fields count, alignment, and the verdict per message.

The sample fields are our own, written in the shapes each receiving server documents or writes
(host names and addresses are invented):

- Gmail: ``mx.google.com`` with ``header.i`` instead of ``header.d`` and an unquoted ``header.b``;
- Exchange Online: no authserv-id, ``action=`` and ``compauth= reason=``, as in Microsoft's
  "Anti-spam message headers" page (section "Authentication-results message header");
- rspamd: as its ``lualib/lua_auth_results.lua`` builds them (dmarc reason quoted, policy comment
  after ``header.from``);
- Postfix with OpenDKIM and OpenDMARC: one field per filter, same authserv-id; OpenDKIM's
  ``(2048-bit key; unprotected)`` comment holds a semicolon;
- mail delivered by Dovecot at a Polish hosting provider: the MX's field on top of a raw message
  that brought fields of its own.
"""

from __future__ import annotations

import pytest

from ekpanel.mail.authres import AuthResError, parse_header
from ekpanel.mail.authres.header import MAX_FIELD_CHARS, read_authserv_id

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@firma.pl header.s=20230601 header.b=Xy1+ab/Q;\r\n"
    "       arc=pass (i=1 spf=pass spfdomain=firma.pl dkim=pass dkdomain=firma.pl dmarc=pass\r\n"
    " fromdomain=firma.pl);\r\n"
    "       spf=pass (google.com: domain of faktury@firma.pl designates 192.0.2.10 as permitted sender)"
    " smtp.mailfrom=faktury@firma.pl;\r\n"
    "       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=firma.pl"
)
EXCHANGE_PASS = (
    "spf=pass (sender IP is 192.0.2.10)\r\n smtp.mailfrom=firma.pl; dkim=pass (signature was verified)\r\n"
    " header.d=firma.pl;dmarc=pass action=none header.from=firma.pl;compauth=pass\r\n reason=100"
)
EXCHANGE_UNSIGNED = (
    "spf=none (sender IP is 192.0.2.10) smtp.mailfrom=firma.pl; dkim=none (message not signed)"
    " header.d=none;dmarc=none action=none header.from=firma.pl;compauth=fail reason=001"
)
EXCHANGE_BESTGUESS = (
    "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=firma.pl; dkim=none (message not signed)"
    " header.d=none;dmarc=bestguesspass action=none header.from=firma.pl;compauth=pass reason=109"
)
EXCHANGE_FAIL = (
    "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=firma.pl; dkim=fail (body hash did not verify)"
    " header.d=firma.pl;dmarc=fail action=oreject header.from=firma.pl;compauth=fail reason=000"
)
RSPAMD_PASS = (
    "mx.serwer-poczty.pl;\n"
    '\tdkim=pass header.d=firma.pl header.s=dkim header.b="Ab/Cd+Ef";\n'
    "\tspf=pass (mx.serwer-poczty.pl: domain of faktury@firma.pl designates 192.0.2.10 as permitted sender)"
    " smtp.mailfrom=faktury@firma.pl;\n"
    "\tdmarc=pass (policy=reject) header.from=firma.pl"
)
RSPAMD_FAIL = (
    "mx.serwer-poczty.pl; dkim=fail (body hash did not verify) header.d=firma.pl header.s=dkim"
    " header.b=Ab12Cd34; spf=fail (mx.serwer-poczty.pl: domain of faktury@firma.pl does not designate"
    ' 198.51.100.7 as permitted sender) smtp.mailfrom=faktury@firma.pl; dmarc=fail reason="No valid SPF,'
    ' No valid DKIM" header.from=firma.pl (policy=reject)'
)
OPENDMARC_NONE = "poczta.biuro.pl; dmarc=none (p=none dis=none) header.from=firma.com.pl"
OPENDKIM_PASS = (
    "poczta.biuro.pl;\n\tdkim=pass (2048-bit key; unprotected) header.d=firma.com.pl"
    " header.i=@firma.com.pl header.a=rsa-sha256 header.s=mail header.b=AbCdEf12"
)
SPF_PASS = "poczta.biuro.pl; spf=pass (sender SPF authorized) smtp.mailfrom=faktury@firma.com.pl"


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
