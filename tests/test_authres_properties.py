"""Property tests for the Authentication-Results reader and the verdict: any input gives a result or
the module's own error, and nothing a sender adds below the receiving server's fields changes the
verdict. (How long the worst inputs take is measured by ``bench/authres_parse.py``, not here.)"""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ekpanel.mail.authres import (
    AuthenticationResults,
    AuthResError,
    SenderCheck,
    parse_header,
    propose_authserv_id,
    sender_verdict,
)
from ekpanel.mail.authres.domains import aligned, normalise_domain, organisational_domain
from ekpanel.mail.authres.header import MAX_FIELD_CHARS
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

SAMPLES = [
    GMAIL,
    EXCHANGE_PASS,
    EXCHANGE_UNSIGNED,
    EXCHANGE_BESTGUESS,
    EXCHANGE_FAIL,
    RSPAMD_PASS,
    RSPAMD_FAIL,
    OPENDMARC_NONE,
    OPENDKIM_PASS,
    SPF_PASS,
]
# The characters and pieces the grammar turns on, to push near-valid fields over every edge.
PIECES = st.sampled_from(
    [*' \t\r\n;=()"\\@./', "=?utf-8?q?", "=?x-bad?b?", "?=", "dkim=pass", "header.d=", "none", "1", "ż"]
)


@st.composite
def mangled_samples(draw) -> str:
    """A sample field with a few characters inserted or cut out."""
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:position] + draw(PIECES | st.text(max_size=4)) + text[position:]
        else:
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
    return text


FIELDS = st.one_of(
    st.text(max_size=300),
    st.lists(PIECES | st.characters(), max_size=80).map("".join),
    mangled_samples(),
    st.sampled_from(SAMPLES),
)
DOMAINS = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["firma.pl", "firma.com.pl", "mail.firma.pl", "księgowość.pl", "", "com.pl"]),
)
AUTHSERV_IDS = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(["mx.google.com", "mx.serwer-poczty.pl", "poczta.biuro.pl"]),
)


@settings(max_examples=500)
@given(FIELDS)
@example("(" * 5000)
@example('"' + "\\" * 5000)
@example("mx; " + "a=b " * 2000)
@example("x" * (MAX_FIELD_CHARS + 1))
def test_any_text_is_a_field_or_the_modules_own_error(text):
    try:
        field = parse_header(text)
    except AuthResError as error:
        assert error.has_authserv_id in (True, False, None)
        return
    assert isinstance(field, AuthenticationResults)
    assert field.authserv_id is None or (field.authserv_id and field.authserv_id == field.authserv_id.lower())
    for result in field.results:
        assert result.method and result.result and isinstance(result.comment, str)


@settings(max_examples=300)
@given(st.lists(FIELDS, max_size=6), DOMAINS, AUTHSERV_IDS, st.booleans())
def test_any_fields_give_a_check_that_is_plain_json(headers, from_domain, authserv_id, microsoft):
    check = sender_verdict(headers, from_domain, authserv_id, microsoft=microsoft)
    assert isinstance(check, SenderCheck)
    assert SenderCheck.from_json(json.loads(json.dumps(check.to_json()))) == check


@given(st.lists(st.lists(FIELDS, max_size=3), max_size=6))
def test_any_messages_give_a_proposal_or_none(messages):
    proposed = propose_authserv_id(messages)
    assert proposed is None or (isinstance(proposed, str) and proposed.strip())


@given(DOMAINS, DOMAINS)
def test_any_domain_text_is_compared_without_error(domain, other):
    normal = normalise_domain(domain)
    assert normal is None or normal == normal.lower()
    organisation = organisational_domain(domain)
    assert organisation is None or normal.endswith(organisation)
    assert aligned(domain, other) == aligned(other, domain)


@given(
    st.sampled_from([EXCHANGE_PASS, EXCHANGE_UNSIGNED, EXCHANGE_BESTGUESS, EXCHANGE_FAIL]), st.lists(FIELDS)
)
def test_nothing_below_microsofts_field_changes_the_verdict(microsoft_field, below):
    alone = sender_verdict([microsoft_field], "firma.pl", None, microsoft=True)
    assert sender_verdict([microsoft_field, *below], "firma.pl", None, microsoft=True) == alone


# Our server's fields, each reporting DKIM and DMARC, with their authserv-id.
OURS = [
    ([GMAIL], "mx.google.com"),
    ([RSPAMD_PASS], "mx.serwer-poczty.pl"),
    ([RSPAMD_FAIL], "mx.serwer-poczty.pl"),
    ([OPENDMARC_NONE, OPENDKIM_PASS, SPF_PASS], "poczta.biuro.pl"),
]


@given(
    st.sampled_from(OURS), st.lists(FIELDS | mangled_samples().map(lambda text: "poczta.biuro.pl; " + text))
)
def test_nothing_a_sender_adds_below_our_fields_changes_the_verdict(ours, below):
    fields, authserv_id = ours
    for from_domain in ("firma.pl", "firma.com.pl"):
        alone = sender_verdict(fields, from_domain, authserv_id, microsoft=False)
        with_more = sender_verdict([*fields, *below], from_domain, authserv_id, microsoft=False)
        assert (with_more.verdict, with_more.reason) == (alone.verdict, alone.reason)


@given(st.sampled_from(OURS), st.lists(st.text(max_size=200).map(lambda text: "filtr.example.pl; " + text)))
def test_fields_of_other_servers_above_ours_change_nothing(ours, above):
    fields, authserv_id = ours
    alone = sender_verdict(fields, "firma.pl", authserv_id, microsoft=False)
    assert sender_verdict([*above, *fields], "firma.pl", authserv_id, microsoft=False) == alone
