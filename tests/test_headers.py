"""Header decoding: encoded words, RFC 2231 parameters, and the charsets real mail uses."""

from __future__ import annotations

import email
from email.policy import compat32

import pytest

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
