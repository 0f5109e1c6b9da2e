"""The sender whitelist: what the form accepts, and which senders an entry admits."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from ekpanel.mail.whitelist import (
    Sender,
    SenderProblem,
    SenderWhitelist,
    entries_overlap,
    invalid_entry_has_spaces,
    normalise_entry,
    parse_entries,
    read_sender,
    sender_address,
)

# -- The form: parsing and normalising entries ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "faktury@firma.pl\n*@helpoffice.pl",
        "faktury@firma.pl,*@helpoffice.pl",
        "faktury@firma.pl;*@helpoffice.pl",
        "faktury@firma.pl *@helpoffice.pl",
        "  faktury@firma.pl ,\r\n\t; *@helpoffice.pl ;\n",
    ],
)
def test_entries_are_separated_by_newlines_commas_semicolons_and_spaces(text):
    assert parse_entries(text) == (["faktury@firma.pl", "*@helpoffice.pl"], [])


def test_entries_are_stored_trimmed_lower_case_and_unique_in_input_order():
    entries, invalid = parse_entries("Faktury@Firma.PL\n*@HelpOffice.pl\nfaktury@firma.pl\n")
    assert entries == ["faktury@firma.pl", "*@helpoffice.pl"]
    assert invalid == []


def test_empty_form_gives_no_entries():
    assert parse_entries("") == ([], [])
    assert parse_entries(" \n ,; ") == ([], [])


@pytest.mark.parametrize(
    "typed",
    [
        "jan.kowalski",
        "firma.pl",
        "@firma.pl",
        "jan@",
        "jan@@firma.pl",
        "jan@firma",
        "jan@firma..pl",
        "jan@[1.2.3.4]",
    ],
)
def test_entry_that_is_neither_address_nor_pattern_is_reported_as_typed(typed):
    entries, invalid = parse_entries(f"faktury@firma.pl\n{typed}")
    assert entries == ["faktury@firma.pl"]
    assert invalid == [typed]


def test_each_invalid_entry_is_named_once():
    assert parse_entries("Bad bad Bad")[1] == ["Bad", "bad"]


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("Jan Kowalski <Jan@Firma.pl>", ["jan@firma.pl"]),
        ("<jan@firma.pl>", ["jan@firma.pl"]),
        ("Jan Kowalski < jan@firma.pl >", ["jan@firma.pl"]),
        # Several recipients, as a mail client copies them; a quoted name may hold a comma.
        (
            'Jan Kowalski <jan@firma.pl>, "Nowak, Ewa" <ewa@biuro.pl>; Faktury <faktury@dostawca.pl>',
            ["jan@firma.pl", "ewa@biuro.pl", "faktury@dostawca.pl"],
        ),
        ("Jan Kowalski <jan@firma.pl>\n*@helpoffice.pl\nEwa Nowak <ewa@biuro.pl>", None),
        # A name that is the address itself, as Outlook shows it.
        ("'faktury@firma.pl' <faktury@firma.pl>", ["faktury@firma.pl"]),
        # A stray quote in one name does not swallow the next recipient.
        ('Jan "Kowalski <jan@firma.pl>, "Nowak, Ewa" <ewa@biuro.pl>', ["jan@firma.pl", "ewa@biuro.pl"]),
        # Addresses typed as a list before a bracketed one are entries, not a name to drop.
        (
            "jan@firma.pl ewa@biuro.pl <faktury@dostawca.pl>",
            ["jan@firma.pl", "ewa@biuro.pl", "faktury@dostawca.pl"],
        ),
    ],
)
def test_recipient_pasted_from_a_mail_client_is_its_address(text, entries):
    if entries is None:
        entries = ["jan@firma.pl", "*@helpoffice.pl", "ewa@biuro.pl"]
    assert parse_entries(text) == (entries, [])


def test_invalid_address_in_brackets_is_named_without_its_display_name():
    assert parse_entries("Jan Kowalski <jan@firma>") == ([], ["jan@firma"])


@pytest.mark.parametrize(
    ("text", "split"),
    [
        ("faktury dostawca.pl", True),
        ("*@helpoffice.pl\njan @firma.pl", True),
        ("jan@firma", False),
        ("faktury@firma.pl\njan@firma", False),
        ("faktury@firma.pl, jan@firma", False),
        ("Jan Kowalski <jan@firma>", False),  # the name's words are not entries
    ],
)
def test_invalid_entry_split_by_a_space_is_recognised(text, split):
    invalid = parse_entries(text)[1]
    assert invalid
    assert invalid_entry_has_spaces(text, invalid) is split


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("*@helpoffice.pl", "*@helpoffice.pl"),
        ("faktury*@*.pl", "faktury*@*.pl"),
        ("*@*", "*@*"),
        ("*", "*@*"),  # a bare star means everyone, stored one way
        ("f**@firma.pl", "f*@firma.pl"),
        ("<Faktury@Firma.pl>", "faktury@firma.pl"),
        ("mailto:faktury@firma.pl", "faktury@firma.pl"),
        ("faktury@firma.pl.", "faktury@firma.pl"),
        ("faktury@XN--MCHINE-BUA.example", "faktury@mächine.example"),
        ("faktury@MÄCHINE.example", "faktury@mächine.example"),
        ("jdöe@mächine.example", "jdöe@mächine.example"),
        ("faktury?@firma.pl", "faktury?@firma.pl"),
        ("faktury[1]@firma.pl", "faktury[1]@firma.pl"),
    ],
)
def test_entry_is_normalised(typed, stored):
    assert normalise_entry(typed) == stored


def test_punycode_and_unicode_spellings_of_one_entry_are_one_entry():
    entries, _ = parse_entries("faktury@xn--mchine-bua.example faktury@mächine.example")
    assert entries == ["faktury@mächine.example"]


# -- Extracting the sender from a From header ----------------------------------------------------


@pytest.mark.parametrize(
    ("from_value", "address"),
    [
        ("jan@firma.pl", "jan@firma.pl"),
        ("Jan Kowalski <jan@firma.pl>", "jan@firma.pl"),
        ('"Kowalski, Jan" <JAN@Firma.PL>', "JAN@Firma.PL"),
        ("Kowalski, Jan <jan@firma.pl>", "jan@firma.pl"),  # unquoted: "Kowalski" has no address
        ("=?utf-8?Q?Kowalski=2C_Jan_=C5=BB?= <jan@firma.pl>", "jan@firma.pl"),
        ("=?iso-8859-2?Q?Reisinger_=C1d=E1m?= <Reisinger.Adam@example.com>", "Reisinger.Adam@example.com"),
        ("=?utf-8?Q?faktury=40firma.pl?= <oszust@evil.example>", "oszust@evil.example"),  # encoded "@"
        ("Księgowość\r\n <ksiegowosc@firma.pl>", "ksiegowosc@firma.pl"),
        ("jdöe@mächine.example", "jdöe@mächine.example"),
        (b"Jan <jan@firma.pl>", "jan@firma.pl"),
        ("Jan =?utf-8?B?xbtvxYJ0eQ==?= <jan@firma.pl>", "jan@firma.pl"),
        ('"Anabel Gonzalo"<anabelgonzalo@fanox.com>', "anabelgonzalo@fanox.com"),
        ("<redacted@flashmail.net>", "redacted@flashmail.net"),
        ('"Jan \\"Janek\\" Kowalski" <jan@firma.pl>', "jan@firma.pl"),
        ('"jan@firma.pl" <jan@firma.pl>', "jan@firma.pl"),  # Outlook's way
        ("jan@firma.pl <JAN@FIRMA.PL>", "jan@firma.pl"),  # the same address twice is one
        ("jan@firma.pl (Jan Kowalski)", "jan@firma.pl"),
        ("Jan Kowalski <jan@firma.pl> (Firma: Sp. z o.o., evil@example.com)", "jan@firma.pl"),
        ('"jan kowalski"@firma.pl', '"jan kowalski"@firma.pl'),
        ("<@relay.example:jan@firma.pl>", "jan@firma.pl"),  # an obsolete source route
        ("Jan <jan@firma.pl>,", "jan@firma.pl"),
        ("Jan <jan@firma.pl", "jan@firma.pl"),
        ("jan@firma.pl\x00", "jan@firma.pl"),
    ],
)
def test_sender_address_is_the_addr_spec_of_from(from_value, address):
    assert sender_address(from_value) == address
    assert read_sender(from_value) == Sender(address)


@pytest.mark.parametrize("from_value", [None, "", "   ", "\r\n ", b""])
def test_missing_from_has_no_sender(from_value):
    assert read_sender(from_value) == Sender(None, SenderProblem.MISSING)
    assert sender_address(from_value) is None


@pytest.mark.parametrize(
    "from_value",
    ["Jan Kowalski", "<>", '"faktury@dostawca.pl"', "Jan <jan>", "jan@", "@firma.pl", "a@" + "b" * 3000],
)
def test_from_without_a_readable_address_has_no_sender(from_value):
    assert read_sender(from_value) == Sender(None, SenderProblem.UNREADABLE)
    assert not SenderWhitelist(["*@*"]).admits(from_value)


AMBIGUOUS_FROM = [
    "faktury@dostawca.pl, attacker@evil.example",
    "faktury@dostawca.pl,attacker@evil.example",
    "<faktury@dostawca.pl> <attacker@evil.example>",
    "faktury@dostawca.pl <attacker@evil.example>",
    "faktury@dostawca.pl attacker@evil.example",
    "faktury@dostawca.pl;attacker@evil.example",
    "Faktury <faktury@dostawca.pl>, Oszust <attacker@evil.example>",
    '"Faktury" <faktury@dostawca.pl>; attacker@evil.example',
    '"Faktury" <faktury@dostawca.pl> <attacker@evil.example>',
    "Faktury <faktury@dostawca.pl> attacker@evil.example",
    "faktury@dostawca.pl (faktury) <attacker@evil.example>",
    "<faktury@dostawca.pl>, <faktury@dostawca.pl>, <attacker@evil.example>",
    "=?utf-8?Q?faktury@dostawca.pl?= <attacker@evil.example>",  # a bare "@" in an encoded word
    "faktury@dostawca.pl\x00attacker@evil.example",  # a client may show the text up to the NUL
    "Faktury: faktury@dostawca.pl, attacker@evil.example;",
    "Faktury: faktury@dostawca.pl;",  # group syntax, whatever its members
    "faktury@dostawca.pl: attacker@evil.example;",
    "undisclosed-recipients:;",
]


@pytest.mark.parametrize("from_value", AMBIGUOUS_FROM)
def test_from_with_more_than_one_address_or_a_group_is_ambiguous(from_value):
    assert read_sender(from_value) == Sender(None, SenderProblem.AMBIGUOUS)
    assert sender_address(from_value) is None


@pytest.mark.parametrize("from_value", AMBIGUOUS_FROM)
def test_ambiguous_sender_is_not_admitted_even_when_every_address_is_listed(from_value):
    whitelist = SenderWhitelist(["faktury@dostawca.pl", "attacker@evil.example", "*@*"])
    assert not whitelist.admits(from_value)
    assert whitelist.matching_entries(from_value) == []


# -- Admitting senders ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        "faktury@firma.pl",
        "FAKTURY@FIRMA.PL",
        '"Kowalski, Jan" <Faktury@Firma.PL>',
        "=?utf-8?B?RmFrdHVyeSBGaXJtYQ==?= <faktury@firma.pl>",
    ],
)
def test_listed_address_is_admitted_whatever_its_case_and_display_name(sender):
    assert SenderWhitelist(["faktury@firma.pl"]).admits(sender)


def test_unlisted_sender_is_not_admitted():
    whitelist = SenderWhitelist(["faktury@firma.pl"])
    assert not whitelist.admits("jan@firma.pl")
    assert not whitelist.admits("faktury@firma.pl.evil.example")
    assert not whitelist.admits("xfaktury@firma.pl")


@pytest.mark.parametrize("sender", [None, "", "not an address", "undisclosed-recipients:;"])
def test_message_without_a_readable_sender_is_not_admitted(sender):
    assert not SenderWhitelist(["*@*"]).admits(sender)


def test_star_admits_a_whole_domain():
    whitelist = SenderWhitelist(["*@helpoffice.pl"])
    assert whitelist.admits("anna@helpoffice.pl")
    assert whitelist.admits("Biuro <BIURO@HelpOffice.PL>")
    assert not whitelist.admits("anna@helpoffice.pl.evil.example")
    assert not whitelist.admits("anna@nothelpoffice.pl")


def test_star_may_stand_in_local_part_and_domain():
    whitelist = SenderWhitelist(["faktury*@*.pl"])
    assert whitelist.admits("faktury@firma.pl")
    assert whitelist.admits("faktury-2026@oddzial.firma.pl")
    assert not whitelist.admits("biuro@firma.pl")
    assert not whitelist.admits("faktury@firma.com")


def test_everyone_entry_admits_any_address():
    assert SenderWhitelist(["*"]).admits("kto.kolwiek@gdzie.kolwiek.example")


def test_question_mark_in_entry_is_literal():
    whitelist = SenderWhitelist(["faktury?@firma.pl"])
    assert whitelist.admits("faktury?@firma.pl")
    assert not whitelist.admits("fakturyx@firma.pl")


def test_bracket_in_entry_is_literal():
    whitelist = SenderWhitelist(["faktury[12]@firma.pl"])
    assert whitelist.admits("faktury[12]@firma.pl")
    assert not whitelist.admits("faktury1@firma.pl")


def test_dot_in_entry_is_literal():
    assert not SenderWhitelist(["faktury@firma.pl"]).admits("faktury@firmaxpl")


@pytest.mark.parametrize("address", ["faktury?@firma.pl", "f[a]ktury@firma.pl", "(faktury)@firma.pl"])
def test_glob_characters_in_the_address_do_not_confuse_matching(address):
    assert not SenderWhitelist(["faktury@firma.pl"]).admits(address)


def test_star_does_not_reach_across_the_at_sign():
    # A quoted local part can contain "@": it must not pass for an address at firma.pl.
    whitelist = SenderWhitelist(["*@firma.pl", "faktury@*"])
    assert not whitelist.admits('"jan@firma.pl"@evil.example')
    assert whitelist.matching_entries('"faktury@firma.pl"@evil.example') == []


@pytest.mark.parametrize(
    "sender",
    [
        '"faktury@firma.pl" <oszust@evil.example>',
        "=?utf-8?Q?faktury@firma.pl?= <oszust@evil.example>",
        "faktury@firma.pl <oszust@evil.example>",
        '"<faktury@firma.pl>" <oszust@evil.example>',
        "oszust@evil.example (faktury@firma.pl)",
    ],
)
def test_listed_address_in_the_display_name_does_not_admit_the_real_sender(sender):
    assert not SenderWhitelist(["faktury@firma.pl"]).admits(sender)


@pytest.mark.parametrize(
    ("entry", "sender"),
    [
        ("faktury@mächine.example", "faktury@xn--mchine-bua.example"),
        ("faktury@xn--mchine-bua.example", "Faktury <faktury@mächine.example>"),
        ("*@mächine.example", "FAKTURY@XN--MCHINE-BUA.EXAMPLE"),
        ("*@*.mächine.example", "biuro@dział.xn--mchine-bua.example"),
        ("jdöe@mächine.example", "JDÖE@MÄCHINE.example"),
    ],
)
def test_idn_domain_matches_in_unicode_and_punycode(entry, sender):
    assert SenderWhitelist([entry]).admits(sender)


def test_broken_punycode_in_address_does_not_crash_matching():
    whitelist = SenderWhitelist(["*@mächine.example"])
    assert not whitelist.admits("jan@xn--zz-broken-.example")


def test_matching_entries_say_which_entries_admitted_the_sender():
    whitelist = SenderWhitelist(["faktury@firma.pl", "*@firma.pl", "*@helpoffice.pl"])
    assert whitelist.matching_entries("Faktury <faktury@firma.pl>") == ["faktury@firma.pl", "*@firma.pl"]
    assert whitelist.matching_entries("jan@inna.pl") == []


def test_whitelist_from_stored_entries_normalises_and_ignores_invalid_ones():
    whitelist = SenderWhitelist(["Faktury@Firma.pl", "faktury@firma.pl", "not an entry"])
    assert whitelist.entries == ("faktury@firma.pl",)
    assert whitelist.admits("faktury@firma.pl")


def test_empty_whitelist_admits_nobody():
    assert not SenderWhitelist([]).admits("faktury@firma.pl")


# -- Collisions between servers on one mailbox ---------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("faktury@firma.pl", "faktury@firma.pl"),
        ("*@firma.pl", "faktury@firma.pl"),
        ("*@firma.pl", "f*@*.pl"),
        ("faktury@firma.pl", "FAKTURY@FIRMA.PL"),
        ("a*@x.pl", "*b@x.pl"),  # ab@x.pl
        ("*@*", "faktury@firma.pl"),
        ("f*y@firma.pl", "*k*@firma.pl"),
        ("faktury@mächine.example", "*@xn--mchine-bua.example"),
    ],
)
def test_entries_that_admit_a_common_sender_overlap(a, b):
    assert entries_overlap(a, b)
    assert entries_overlap(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("faktury@firma.pl", "biuro@firma.pl"),
        ("a*@x.pl", "b*@x.pl"),
        ("*a@x.pl", "*b@x.pl"),
        ("*@firma.pl", "*@firma.com"),
        ("*@*.pl", "*@*.com"),
        ("faktury?@firma.pl", "fakturyx@firma.pl"),
        ("*@firma.pl", "*@*.firma.pl"),  # firma.pl itself is not a subdomain of itself
    ],
)
def test_entries_without_a_common_sender_do_not_overlap(a, b):
    assert not entries_overlap(a, b)
    assert not entries_overlap(b, a)


# -- Properties: any input gives an answer, never an exception ---------------------------------

FROM_PIECES = ['"', "<", ">", "@", ",", ";", ":", "(", ")", "\\", " ", "\r\n ", "=?utf-8?q?", "?=", "*"]
from_like = st.lists(
    st.one_of(st.sampled_from([*FROM_PIECES, "faktury@firma.pl", "jan", "firma.pl"]), st.text(max_size=6)),
    max_size=20,
).map("".join)
entry_pieces = st.one_of(st.sampled_from(["*", "@", ".", "a", "pl", "xn--", ","]), st.text(max_size=4))
entry_like = st.lists(entry_pieces)


@given(st.one_of(from_like, st.text(), st.binary()))
@example("<" + "a@" * 20000)
@example('"' + '\\"' * 20000)
@example("a@b.pl " * 5000)
def test_any_from_gives_one_address_or_the_problem(from_value):
    sender = read_sender(from_value)
    assert (sender.address is None) == (sender.problem is not None)
    if sender.address is not None:
        local, _, domain = sender.address.rpartition("@")
        assert local.strip() and domain.strip()
        assert not _CONTROL_CHARACTERS.search(sender.address)
    assert sender_address(from_value) == sender.address


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
local_parts = st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True)
domains = st.from_regex(r"[a-z0-9-]{1,15}(\.[a-z0-9-]{1,8}){1,2}", fullmatch=True)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
display_names = st.text(max_size=20).map(
    lambda name: '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
)
LAYOUTS = [
    "{a}, {b}",
    "{a} {b}",
    "{a};{b}",
    "<{a}> <{b}>",
    "{a} <{b}>",
    "{name} <{a}>, {name} <{b}>",
    "{name} <{a}> {b}",
    "({name}) {a} <{b}>",
    "{name}: {a};",
    "{name}: {a}, {b};",
]


@given(addresses, addresses, display_names, st.sampled_from(LAYOUTS))
def test_from_showing_two_addresses_is_ambiguous(a, b, name, layout):
    assume(a.lower() != b.lower() or ":" in layout)
    sender = read_sender(layout.format(a=a, b=b, name=name))
    assert sender == Sender(None, SenderProblem.AMBIGUOUS)


ONE_MAILBOX = ["{name} <{a}>", "{a} ({name})", "{name}<{a}>", "<{a}> {name}"]


@given(addresses, display_names, st.sampled_from(ONE_MAILBOX))
def test_from_of_one_mailbox_gives_its_address_whatever_the_display_name(a, name, layout):
    assert read_sender(layout.format(a=a, name=name)) == Sender(a)


@given(st.lists(entry_like.map("".join), max_size=5), st.one_of(from_like, st.text()))
@example(["*a" * 100 + "@x.pl"], "a" * 5000 + "@x.pl")
@example(["f*a*k*t*u*r*y*@*.pl"], "f" * 2000 + "@x.pl")
def test_any_whitelist_decides_about_any_sender(entries, from_value):
    whitelist = SenderWhitelist(entries)
    matching = whitelist.matching_entries(from_value)
    assert set(matching) <= set(whitelist.entries)
    assert whitelist.admits(from_value) == bool(matching)


@given(st.one_of(from_like, st.text(), entry_like.map("".join)))
@example("Jan <" * 5000)
@example(" ".join(f"a{n}@firma.pl" for n in range(5000)))
def test_any_form_text_gives_entries_and_invalid_fragments(text):
    entries, invalid = parse_entries(text)
    assert all(normalise_entry(entry) == entry for entry in entries)
    assert len(set(entries)) == len(entries)
    assert isinstance(invalid_entry_has_spaces(text, invalid), bool)


@given(entry_like.map("".join), entry_like.map("".join))
@example("*a" * 2000 + "@x.pl", "*a*b" * 300 + "@x.pl")
def test_overlap_of_any_two_entries_is_symmetric(a, b):
    assert entries_overlap(a, b) == entries_overlap(b, a)


@given(
    st.from_regex(r"[a-z0-9._%+-]{1,30}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,10}){1,3}", fullmatch=True),
    st.text(max_size=30),
)
def test_listed_address_is_admitted_whatever_the_display_name(local, domain, name):
    address = f"{local}@{domain}"
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert SenderWhitelist([address]).admits(f"{quoted} <{address.upper()}>")
