"""Forwarded messages read from their MIME as it streams: the same parts structure.py finds, sized
by their encoded length, decoded only when asked, and never more than the bound read."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ekpanel.mail.graph_forwarded import read_forwarded
from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.pdf import part_too_large
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.structure import StructureError, mime_part_bytes, parts_from_mime
from ekpanel.mail.texts import Text
from ekpanel.mail.vocabulary import ErrorCode
from tests.support import messages as m
from tests.support.corpus import CORPUS, corpus_rows

MB = 1024 * 1024


def chunks(raw: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def forwarded_invoice(pdf: bytes) -> bytes:
    inner = m.message(subject="Faktura")
    m.add_pdf(inner, pdf, "faktura.pdf")
    return m.as_bytes(inner)


@pytest.mark.parametrize("row", corpus_rows())
def test_parts_are_those_structure_finds_and_their_bytes_the_same(row):
    raw = (CORPUS / row["file"]).read_bytes()
    try:
        expected = parts_from_mime(raw)
    except StructureError:
        with pytest.raises(MailboxError):
            read_forwarded(chunks(raw), attachment_id="A", name="x", limit=len(raw))
        return

    forwarded = read_forwarded(chunks(raw), attachment_id="A", name="x", limit=len(raw))

    assert [(p.ref, p.filename, p.content_type, p.disposition) for p in forwarded.parts] == [
        (f"A/{p.ref}", p.filename, p.content_type, p.disposition) for p in expected
    ]
    for part, reference in zip(forwarded.parts, expected, strict=True):
        assert part.in_forwarded and part.encoding == reference.encoding
        assert forwarded.part_bytes(reference.ref) == mime_part_bytes(raw, reference.ref)
        if reference.encoding == "base64" and reference.size:
            assert part.size >= reference.size  # encoded, not decoded


def test_size_is_the_encoded_length_and_a_pdf_under_the_limit_is_not_judged_too_large():
    pdf = m.pdf_bytes(MB - 10_000)
    raw = forwarded_invoice(pdf)

    forwarded = read_forwarded(chunks(raw), attachment_id="A", name="Faktura", limit=len(raw))

    [part] = forwarded.parts
    assert (part.encoding, part.size > len(pdf) * 4 // 3) == ("base64", True)
    assert part.size < len(raw)
    assert not part_too_large(part, MB)
    assert forwarded.part_bytes(part.ref.split("/", 1)[1]) == pdf


def test_message_over_the_bound_stops_being_read_and_names_the_bound():
    raw = forwarded_invoice(m.pdf_bytes(300_000))
    given_out = []

    def counted() -> Iterator[bytes]:
        for chunk in chunks(raw):
            given_out.append(len(chunk))
            yield chunk

    with pytest.raises(MailboxError) as raised:
        read_forwarded(counted(), attachment_id="A", name="Faktura", limit=100_000)

    assert raised.value.code == ErrorCode.MESSAGE_MISSING
    assert raised.value.note.code == Text.GRAPH_FORWARDED_TOO_LARGE
    assert raised.value.note.params == {"name": "Faktura", "limit": "0.0953674 MB"}
    assert sum(given_out) <= 100_000 + 4096  # read no further than the chunk that crossed it


def test_the_bound_is_a_multiple_of_the_pdf_limit():
    assert MailSettings(max_pdf_bytes=10 * MB).max_forwarded_bytes == 40 * MB
    settings_ = MailSettings.from_config({"MAX_PDF_MB": 2, "MAX_FORWARDED_MULTIPLE": "3"})
    assert settings_.max_forwarded_bytes == 6 * MB


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_parts_or_the_message_error(raw):
    try:
        forwarded = read_forwarded(chunks(raw, 97), attachment_id="A", name="x", limit=10_000)
    except MailboxError as error:
        assert error.code == ErrorCode.MESSAGE_MISSING
        return
    for part in forwarded.parts:
        section = part.ref.split("/", 1)[1]
        try:
            forwarded.part_bytes(section)
        except MailboxError as error:
            assert error.code == ErrorCode.MESSAGE_MISSING


def test_base64_that_needs_repair_decodes_as_the_email_package_does():
    body = base64.b64encode(b"%PDF-1.4 abc").rstrip(b"=")  # padding missing, as some mailers send
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
        b"--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
        + b"\r\n--b--\r\n"
    )

    forwarded = read_forwarded(chunks(raw), attachment_id="A", name="x", limit=len(raw))

    assert forwarded.part_bytes("2") == mime_part_bytes(raw, "2") == b"%PDF-1.4 abc"
