"""A BODYSTRUCTURE read only in part (parse_fetch's ``max_parts``) decides as the whole would.

The part read is a sketch when many parts lie ahead (PartialStructure): the properties cover a
sketch that is cut, one that ends before the cut and is read again whole (part openers outside
the structure or in quoted strings counted ahead), and one a literal interrupts (read again).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ekpanel.mail.fetch_response import CUT, FetchSyntaxError, PartialStructure, parse_fetch
from ekpanel.mail.imap_fetch import summary_from_fetch

LEAVES = [
    b'("application" "pdf" ("name" "a(1).pdf") NIL NIL "base64" 14 NIL'
    b' ("attachment" ("filename" "a.pdf")) NIL NIL)',
    b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)',
    b'("image" "jpeg" NIL NIL NIL "base64" 9 NIL "inline" NIL)',
    b'("application" "pdf" NIL NIL NIL "base64" 14)',
    b'("x" "y" ("q" "\\")\\"") x[(] NIL NIL 5)',
]


def rfc822(body: bytes) -> bytes:
    envelope = b'(NIL "s" (("a" NIL "b" "c")) NIL NIL NIL NIL NIL NIL NIL)'
    return b'("message" "rfc822" NIL NIL NIL "7bit" 10 ' + envelope + b" " + body + b" 3 NIL NIL NIL NIL)"


def multipart(children: list[bytes]) -> bytes:
    return b"(" + b"".join(children) + b' "mixed" ("boundary" "b") NIL NIL NIL)'


structures = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=12).map(multipart), inner.map(rfc822)),
    max_leaves=60,
)


def outcome(data: list, **cut):
    try:
        response = parse_fetch(data, **cut)
    except FetchSyntaxError:
        return "unreadable"
    found = [summary_from_fetch(uid, fields, max_parts=7, max_depth=4) for uid, fields in response.items()]
    return [(s.ref, s.parse_error, s.parts, s.has_attachments) for s in found]


AFTER = [b"", b" RFC822.SIZE 9", b" X junk{", b" Y [", b")", b' Z ("a)(b)(c" ((d)(e)(f)(g)(h)(i)))']


def with_literal_inside(data: list, structure: bytes) -> list:
    """``data`` with the structure's first file name sent as a literal: it spans two chunks."""
    text = data[0] if isinstance(data[0], bytes) else data[0][0]
    name = b'"a(1).pdf"'
    if name not in structure:
        return data
    head, tail = text.split(name, 1)
    rest = [tail] if isinstance(data[0], bytes) else [(tail, data[0][1])]
    return [(head + b"{8}", b"a(1).pdf"), *rest, *data[1:]]


@settings(max_examples=300)
@given(structures, st.integers(0, 7), st.sampled_from(AFTER), st.booleans())
def test_a_cut_structure_decides_as_the_whole(structure, max_parts, after, literal_inside):
    data = [b"1 (UID 7 BODYSTRUCTURE " + structure + after + b")"]
    if literal_inside:
        data = with_literal_inside(data, structure)
    assert outcome(data, max_parts=max_parts) == outcome(data)


@settings(max_examples=100)
@given(structures, st.integers(0, 7), st.booleans())
def test_a_structure_followed_by_a_literal_is_cut_and_decides_as_the_whole(
    structure, max_parts, literal_inside
):
    # As Dovecot answers the check's structure FETCH: the Authentication-Results fields come
    # after the structure, as a literal in the same chunk.
    data = [(b"1 (UID 7 BODYSTRUCTURE " + structure + b" BODY[HEADER.FIELDS (X)] {4}", b"X:\r\n"), b")"]
    if literal_inside:
        data = with_literal_inside(data, structure)
    assert outcome(data, max_parts=max_parts) == outcome(data)


def test_ten_thousand_parts_are_cut_and_beyond_the_bound():
    data = [b"1 (UID 7 BODYSTRUCTURE " + multipart([LEAVES[0]] * 10_000) + b" RFC822.SIZE 9)"]
    response = parse_fetch(data, max_parts=500)
    assert isinstance(response[7][b"BODYSTRUCTURE"], PartialStructure)
    assert response[7][b"RFC822.SIZE"] == 9
    summary = summary_from_fetch(7, response[7], max_parts=500)
    assert summary.parse_error == summary_from_fetch(7, parse_fetch(data)[7], max_parts=500).parse_error
    assert summary.parse_error.params == {"limit": 500}


def test_ten_thousand_parts_before_a_literal_are_cut_as_well():
    structure = multipart([LEAVES[0]] * 10_000)
    data = [(b"1 (UID 7 BODYSTRUCTURE " + structure + b" BODY[HEADER.FIELDS (X)] {4}", b"X:\r\n"), b")"]
    response = parse_fetch(data, max_parts=500)
    assert isinstance(response[7][b"BODYSTRUCTURE"], PartialStructure)
    assert response[7][b"BODY[HEADER.FIELDS (X)]"] == b"X:\r\n"
    assert summary_from_fetch(7, response[7], max_parts=500).parse_error.params == {"limit": 500}


def test_a_cut_structure_holds_about_the_bound_s_parts_not_six_times_as_many():
    data = [b"1 (UID 7 BODYSTRUCTURE " + multipart([LEAVES[0]] * 10_000) + b")"]
    prefix = parse_fetch(data, max_parts=500)[7][b"BODYSTRUCTURE"].prefix
    children = (
        prefix[0] if isinstance(prefix[0], list) else [item for item in prefix if isinstance(item, tuple)]
    )
    assert 500 < len(children) <= 502


def test_a_structure_of_many_parts_is_sketched_when_cut_and_read_whole_when_not():
    many = multipart([LEAVES[0]] * 600)
    prefix = parse_fetch([b"1 (UID 7 BODYSTRUCTURE " + many + b")"], max_parts=500)[7][
        b"BODYSTRUCTURE"
    ].prefix
    # Of each part its media type, and no more: the count needs no more.
    assert prefix[0] == prefix[499] == (b"application", b"pdf", CUT)
    # Part openers in a quoted string promise many parts; the structure ends first and is read whole.
    few = multipart([LEAVES[0]] * 3)
    data = [b"1 (UID 7 BODYSTRUCTURE " + few + b' X "' + b")(" * 600 + b'")']
    assert parse_fetch(data, max_parts=500) == parse_fetch(data)
