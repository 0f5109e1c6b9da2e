"""Header decoding: encoded words, RFC 2231 parameters, and the charsets real mail uses."""

from __future__ import annotations

import email
import email.utils
from email.header import Header
from email.policy import compat32
from email.utils import encode_rfc2231

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ekpanel.mail import headers
from ekpanel.mail.headers import (
    decode_bytes,
    decode_words,
    fingerprint,
    header_fields,
    header_parameters,
    header_text,
    parameter_text,
    parameters,
)

POLISH_NAME = "Faktura_VAT_ąęśćż.pdf"


def part(headers: bytes) -> email.message.Message:
    return email.message_from_bytes(headers + b"\r\n\r\nbody", policy=compat32)


# -- Text in charsets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("zażółć".encode(), None, "zażółć"),
        ("zażółć".encode("cp1250"), None, "zażółć"),  # ś and ź are in 0x80-0x9F
        ("zażółć".encode("iso-8859-2"), None, "zażółć"),
        ("zażółć".encode("iso-8859-2"), "iso-8859-2", "zażółć"),
        ("zażółć".encode(), "no-such-charset", "zażółć"),
        ("zażółć".encode(), "utf-8*pl", "zażółć"),
        (b"faktura", "x-unknown", "faktura"),
        (b"a..b", "idna", "a..b"),  # a codec that raises UnicodeError, not UnicodeDecodeError
        (b"faktura", "zlib", "faktura"),  # not a text codec at all
        (b"faktura", "utf-8\x00", "faktura"),
    ],
)
def test_bytes_decode_in_the_declared_charset_else_utf8_else_polish(data, charset, text):
    assert decode_bytes(data, charset) == text


# -- Encoded words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Faktura nr 12", "Faktura nr 12"),
        ("=?utf-8?Q?Faktura_nr_12_za_pa=C5=BAdziernik?=", "Faktura nr 12 za październik"),
        ("=?UTF-8?B?WmHFvMOzxYLEhyBnxJnFm2zEhSBqYcW6xYQ=?=", "Zażółć gęślą jaźń"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # white space between words is not text
        ("=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?Fak?=\r\n\t=?iso-8859-2?q?tura_=B1?=", "Faktura ą"),
        ("Re: =?utf-8?q?faktura?= nr 1", "Re: faktura nr 1"),
        ("=?utf-8?q?faktura with spaces?=", "faktura with spaces"),  # some mailers do this
        ("=?utf-8?q?faktura\r\n _nr?=", "faktura  nr"),  # folded inside the word
        ("=?x-unknown?q?faktura?=", "faktura"),
        ("=?utf-8?b?a?=", "=?utf-8?b?a?="),  # base64 that does not decode stays as it came
        ("=?utf-8?q?niedoko=C5", "=?utf-8?q?niedoko=C5"),
    ],
)
def test_encoded_words_are_decoded(value, text):
    assert decode_words(value) == text
    assert decode_words(value.encode("utf-8")) == text


def test_utf8_text_beside_an_encoded_word_keeps_its_letters():
    # decode_header alone splits "lines" at byte 0x85, the second byte of a UTF-8 "ą".
    assert decode_words("Faktura ą =?utf-8?q?nr_1?= ą") == "Faktura ą nr 1 ą"
    assert decode_words("Faktura ą =?utf-8?q?nr_1?= ą".encode()) == "Faktura ą nr 1 ą"


def test_text_with_backslashes_beside_an_encoded_word_is_kept():
    assert decode_words(r"C:\Users\Faktury\=?utf-8?q?f=C4=85.pdf?=") == r"C:\Users\Faktury\fą.pdf"


def test_lone_surrogate_from_json_is_unreadable_not_a_crash():
    assert decode_words("faktura\ud800.pdf") == "faktura\ufffd.pdf"
    assert parameter_text("=?utf-8?q?a?=\udfff") == "a\ufffd"


# -- Parameters ----------------------------------------------------------------------------------


def test_rfc2231_continuations_from_imap_are_joined_and_decoded():
    found = parameters(
        [(b"FILENAME*0*", b"utf-8''Faktura_VAT_%C4%85%C4%99"), (b"filename*1*", b"%C5%9B%C4%87%C5%BC.pdf")]
    )
    assert parameter_text(found["filename"]) == POLISH_NAME


def test_rfc2231_value_wins_over_its_plain_fallback_in_either_order():
    plain_first = parameters([(b"filename", b"Faktura_VAT_.pdf"), (b"filename*", b"utf-8''%C4%85.pdf")])
    extended_first = parameters([(b"filename*", b"utf-8''%C4%85.pdf"), (b"filename", b"Faktura_VAT_.pdf")])
    assert parameter_text(plain_first["filename"]) == parameter_text(extended_first["filename"]) == "ą.pdf"


def test_unnumbered_and_numbered_pieces_of_one_name_do_not_crash():
    # email.utils.decode_params raises TypeError here (it sorts None beside 0).
    found = parameters([(b"filename*", b"utf-8''zly.pdf"), (b"filename*0*", b"utf-8''dobry.pdf")])
    assert parameter_text(found["filename"]) == "dobry.pdf"


def test_values_that_are_not_text_are_left_out():
    found = parameters([(b"name", (b"nested",)), (b"size", 12), (None, b"x"), (b"charset", None)])
    assert found == {"size": b"12", "charset": b""}


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (b'Content-Disposition: attachment; filename="faktura.pdf"', "faktura.pdf"),
        (b'Content-Disposition: attachment; filename="a;b.pdf"; size=12', "a;b.pdf"),
        (b"Content-Disposition: ; filename=faktura.pdf", "faktura.pdf"),
        (
            b"Content-Disposition: attachment;\r\n filename*0*=utf-8''Faktura_VAT_%C4%85%C4%99;\r\n"
            b" filename*1*=%C5%9B%C4%87%C5%BC.pdf",
            POLISH_NAME,
        ),
        ('Content-Disposition: attachment; filename="Faktura_VAT_ąęśćż.pdf"'.encode(), POLISH_NAME),
        (
            'Content-Disposition: attachment; filename="Faktura_VAT_śź.pdf"'.encode("cp1250"),
            "Faktura_VAT_śź.pdf",
        ),
        (
            b"Content-Disposition: attachment; filename*=utf-8''zly.pdf; filename*0*=utf-8''dobry.pdf",
            "dobry.pdf",
        ),
    ],
)
def test_parameters_of_a_parsed_part(header, name):
    assert parameter_text(header_parameters(part(header), "content-disposition")["filename"]) == name


def test_part_without_the_header_has_no_parameters():
    assert header_parameters(part(b"Content-Type: application/pdf"), "content-disposition") == {}


def test_header_text_of_a_parsed_part_is_unfolded_and_decoded():
    message = part("Content-Description: Faktura\r\n za październik".encode())
    assert header_text(message, "Content-Description") == "Faktura za październik"
    assert header_text(message, "content-id") is None


# -- Header blocks -------------------------------------------------------------------------------


def test_header_fields_give_the_first_of_each_header_unfolded():
    raw = (
        b"From: Biuro <biuro@firma.pl>\r\nSubject: =?utf-8?q?Faktura?=\r\n nr 1\r\n"
        b"Received: a\r\nReceived: b\r\nX-Dziwny: \xc5\xbc\r\n\r\nFrom: body@example.com\r\n"
    )
    fields = header_fields(raw)
    assert fields["from"] == "Biuro <biuro@firma.pl>"
    assert fields["subject"] == "=?utf-8?q?Faktura?=  nr 1"
    assert fields["received"] == "a"
    assert fields["x-dziwny"] == "ż"
    assert decode_words(fields["subject"]) == "Faktura  nr 1"


def test_fingerprint_is_stable():
    assert fingerprint(["a", "b"]) == fingerprint(["a", "b"])
    assert fingerprint(["a", "b"]) != fingerprint(["ab", ""])
    assert fingerprint(["\ud800"]) == fingerprint(["\ud800"])


# -- Properties: any input gives text, never an exception ---------------------------------------

CHARSETS = ["utf-8", "UTF-8*pl", "iso-8859-2", "windows-1250", "x-unknown", "idna", "zlib", "utf-16", "\x00"]
charsets = st.one_of(st.none(), st.sampled_from(CHARSETS), st.text(max_size=12))
TOKENS = ["=?", "?=", "?q?", "?B?", "utf-8", "=C4=85", "_", " ", "\r\n ", "\n", "ą", "\x85", "\\", '"', ";"]
header_tokens = st.sampled_from([*TOKENS, "*0*=", "filename", "=", "'", "%C5"])
header_like = st.lists(st.one_of(header_tokens, st.text(max_size=6)), max_size=24).map("".join)
raw_values = st.one_of(
    st.none(),
    header_like,
    st.text(),
    st.binary(),
    st.tuples(charsets, st.one_of(st.none(), st.text(max_size=4)), st.one_of(st.text(), st.binary())),
)


@given(st.binary(), charsets)
def test_any_bytes_in_any_charset_decode_to_text(data, charset):
    assert isinstance(decode_bytes(data, charset), str)


@given(st.one_of(header_like, st.text(), st.binary(), header_like.map(lambda text: text.encode("utf-8"))))
@example("=?utf-8?b?a?=")
@example("Faktura ą =?utf-8?q?x?=\x1cb")
def test_any_header_value_decodes_to_text(value):
    assert isinstance(decode_words(value), str)


@given(raw_values)
@example(("utf-8", None, "\ud800"))
@example(("a\x00", "pl", b"\xff"))
def test_any_parameter_value_decodes_to_text_or_none(value):
    text = parameter_text(value)
    assert text is None or isinstance(text, str)


@given(st.text().filter(lambda text: text.isprintable()))
def test_text_survives_encoding_as_words_and_back(text):
    encoded = Header(text, "utf-8", maxlinelen=76).encode()
    assert decode_words(encoded) == text


@given(st.text())
def test_text_survives_rfc2231_and_back(text):
    encoded = encode_rfc2231(text, "utf-8").encode("ascii")
    assert parameter_text(parameters([(b"filename*", encoded)])["filename"]) == text


pair_items = st.one_of(st.none(), st.integers(), st.binary(max_size=20), header_like, st.tuples(st.binary()))
parameter_names = st.sampled_from([b"filename", b"filename*", b"filename*0", b"filename*0*", b"filename*1*"])


@given(st.lists(st.tuples(st.one_of(parameter_names, pair_items), pair_items), max_size=12))
@example([(b"filename*", b"x"), (b"filename*0*", b"y")])
def test_any_parameter_list_gives_parameters(pairs):
    for name, value in parameters(pairs).items():
        assert isinstance(name, str)
        assert isinstance(value, bytes) or (isinstance(value, tuple) and isinstance(value[2], bytes))


plain_names = st.text(st.sampled_from(list('ab_-.1"\\ <>')), max_size=6)
quoting = st.text(st.sampled_from(list("ab\"\\<> '%=?")), max_size=10)


@given(st.lists(st.tuples(plain_names, quoting), max_size=5))
def test_parameters_without_rfc_2231_pieces_read_as_decode_params_reads_them(pairs):
    # _decode_params' shortcut for lists without "*" in a name, against the way it skips.
    decoded = email.utils.decode_params([("", ""), *pairs])[1:]
    assert headers._decode_params(pairs) == [(key, email.utils.unquote(value)) for key, value in decoded]


@given(st.lists(st.one_of(header_tokens, st.text(max_size=5))))
@example(["; filename*=", "x; filename*0*=y"])
def test_any_disposition_header_gives_parameters(pieces):
    header = ("Content-Disposition: attachment; " + "".join(pieces)).encode("utf-8", "surrogateescape")
    message = email.message_from_bytes(header + b"\r\n\r\nbody", policy=compat32)
    for value in header_parameters(message, "content-disposition").values():
        assert parameter_text(value) is not None


@given(st.binary())
@example(b"From: a\r\n \r\n\r\n")
def test_any_header_block_gives_fields(raw):
    fields = header_fields(raw)
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in fields.items())
