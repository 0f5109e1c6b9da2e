"""Finding the PDFs of a message: its structure (IMAP BODYSTRUCTURE and raw MIME), file names, bytes.

BODYSTRUCTUREs are written by hand after RFC 3501's grammar, the way Dovecot answers, and parsed
by imapclient's own FETCH parser, so the tests see the exact nested tuples the adapter will.
"""

from __future__ import annotations

import base64
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response

from ekpanel.mail.mailbox import AttachmentPart
from ekpanel.mail.pdf import (
    decode_filename,
    is_pdf_candidate,
    looks_like_pdf,
    part_too_large,
    pdf_filename,
)
from ekpanel.mail.structure import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PARTS,
    StructureBoundExceeded,
    StructureError,
    WalkBound,
    _media_type,
    _nstring,
    is_forwarded_type,
    mime_part_bytes,
    mime_structure,
    parts_from_bodystructure,
    parts_from_mime,
)

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
POLISH_NAME = "Faktura_VAT_ąęśćż.pdf"

# -- Building raw MIME ---------------------------------------------------------------------------


def mime_leaf(headers: str, body: bytes = PDF) -> str:
    encoded = base64.encodebytes(body).decode("ascii").replace("\n", "\r\n")
    return f"{headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}"


def mime_text(text: str = "W załączeniu faktura.", subtype: str = "plain") -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n'
    )


def mime_multipart(subtype: str, *parts: str, boundary: str) -> str:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n{body}--{boundary}--\r\n'


def mime_forwarded(inner: str) -> str:
    headers = "From: Jan Kowalski <jan@firma.pl>\r\nSubject: Faktura\r\nMIME-Version: 1.0\r\n"
    return (
        'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="Faktura.eml"\r\n'
        f"\r\n{headers}{inner}"
    )


def message(body: str) -> bytes:
    headers = (
        "From: Biuro <biuro@firma.pl>\r\nTo: faktury@ekpanel.example\r\n"
        "Subject: Faktura\r\nMIME-Version: 1.0\r\n"
    )
    return (headers + body).encode("utf-8")


# -- Building BODYSTRUCTUREs ---------------------------------------------------------------------

BS_TEXT = b'("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 24 1 NIL NIL NIL NIL)'
BS_HTML = b'("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 480 12 NIL NIL NIL NIL)'
BS_ENVELOPE = (
    b'("Mon, 1 Jun 2026 10:00:00 +0200" "Faktura" (("Jan Kowalski" NIL "jan" "firma.pl"))'
    b' (("Jan Kowalski" NIL "jan" "firma.pl")) (("Jan Kowalski" NIL "jan" "firma.pl"))'
    b' ((NIL NIL "faktury" "ekpanel.example")) NIL NIL NIL "<fwd-1@firma.pl>")'
)


def bs_leaf(media: bytes, params: bytes, disposition: bytes = b"NIL", size: int = 180) -> bytes:
    return b'(%s %s NIL NIL "base64" %d NIL %s NIL NIL)' % (media, params, size, disposition)


def bs_multipart(subtype: bytes, *parts: bytes) -> bytes:
    return b'(%s "%s" ("boundary" "b-%s") NIL NIL NIL)' % (b"".join(parts), subtype, subtype)


def bs_forwarded(inner: bytes) -> bytes:
    return (
        b'("message" "rfc822" NIL NIL NIL "7bit" 900 %s %s 14 NIL'
        b' ("attachment" ("filename" "Faktura.eml")) NIL NIL)'
        % (
            BS_ENVELOPE,
            inner,
        )
    )


def bodystructure(text: bytes, *literals: bytes):
    """imapclient's parse of ``* 1 FETCH (UID 7 BODYSTRUCTURE text)``; ``{}`` in text marks a literal."""
    pieces = (b"1 (UID 7 BODYSTRUCTURE " + text + b")").split(b"{}")
    data: list = []
    for piece, literal in zip(pieces, literals, strict=False):
        data.append((piece + b"{%d}" % len(literal), literal))
    data.append(pieces[-1])
    return parse_fetch_response(data)[7][b"BODYSTRUCTURE"]


def summary(parts: list[AttachmentPart]) -> list[tuple]:
    return [(p.ref, p.content_type, p.filename, p.disposition, p.in_forwarded) for p in parts]


# -- Every shape a PDF comes in, in both sources ---------------------------------------------------

SHAPES = {
    "application_pdf_attachment": (
        mime_multipart(
            "mixed",
            mime_text(),
            mime_leaf(
                'Content-Type: application/pdf; name="faktura.pdf"\r\n'
                'Content-Disposition: attachment; filename="faktura.pdf"'
            ),
            boundary="b1",
        ),
        bs_multipart(
            b"mixed",
            BS_TEXT,
            bs_leaf(
                b'"application" "pdf"',
                b'("name" "faktura.pdf")',
                b'("attachment" ("filename" "faktura.pdf"))',
            ),
        ),
        [("2", "application/pdf", "faktura.pdf", "attachment", False)],
    ),
    "octet_stream_with_pdf_name": (
        mime_multipart(
            "mixed",
            mime_text(),
            mime_leaf(
                'Content-Type: application/octet-stream; name="FV-12-2026.PDF"\r\n'
                'Content-Disposition: attachment; filename="FV-12-2026.PDF"'
            ),
            boundary="b1",
        ),
        bs_multipart(
            b"mixed",
            BS_TEXT,
            bs_leaf(
                b'"application" "octet-stream"',
                b'("name" "FV-12-2026.PDF")',
                b'("attachment" ("filename" "FV-12-2026.PDF"))',
            ),
        ),
        [("2", "application/octet-stream", "FV-12-2026.PDF", "attachment", False)],
    ),
    "inline_pdf_in_related_html": (
        mime_multipart(
            "related",
            mime_text("<p>Faktura</p>", "html"),
            mime_leaf(
                'Content-Type: application/pdf; name="faktura.pdf"\r\nContent-ID: <f1>\r\n'
                'Content-Disposition: inline; filename="faktura.pdf"'
            ),
            boundary="b1",
        ),
        bs_multipart(
            b"related",
            BS_HTML,
            b'("application" "pdf" ("name" "faktura.pdf") "<f1>" NIL "base64" 180 NIL'
            b' ("inline" ("filename" "faktura.pdf")) NIL NIL)',
        ),
        [("2", "application/pdf", "faktura.pdf", "inline", False)],
    ),
    "rfc2231_polish_name": (
        mime_multipart(
            "mixed",
            mime_text(),
            mime_leaf(
                "Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
                " filename*0*=utf-8''Faktura_VAT_%C4%85%C4%99;\r\n filename*1*=%C5%9B%C4%87%C5%BC.pdf"
            ),
            boundary="b1",
        ),
        bs_multipart(
            b"mixed",
            BS_TEXT,
            bs_leaf(
                b'"application" "pdf"',
                b"NIL",
                b'("attachment" ("filename*0*" "utf-8\'\'Faktura_VAT_%C4%85%C4%99"'
                b' "filename*1*" "%C5%9B%C4%87%C5%BC.pdf"))',
            ),
        ),
        [("2", "application/pdf", POLISH_NAME, "attachment", False)],
    ),
    "name_only_in_content_type": (
        mime_multipart(
            "mixed",
            mime_text(),
            mime_leaf('Content-Type: application/octet-stream; name="faktura.pdf"'),
            boundary="b1",
        ),
        bs_multipart(b"mixed", BS_TEXT, bs_leaf(b'"application" "octet-stream"', b'("name" "faktura.pdf")')),
        [("2", "application/octet-stream", "faktura.pdf", None, False)],
    ),
    "single_part_pdf": (
        mime_leaf('Content-Type: application/pdf; name="faktura.pdf"'),
        bs_leaf(b'"application" "pdf"', b'("name" "faktura.pdf")'),
        [("1", "application/pdf", "faktura.pdf", None, False)],
    ),
    "pdf_after_alternative_and_related": (
        mime_multipart(
            "mixed",
            mime_multipart(
                "alternative",
                mime_text(),
                mime_multipart(
                    "related",
                    mime_text("<img src=cid:logo>", "html"),
                    mime_leaf(
                        'Content-Type: image/png; name="logo.png"\r\nContent-Disposition: inline', b"\x89PNG"
                    ),
                    boundary="b3",
                ),
                boundary="b2",
            ),
            mime_leaf('Content-Type: application/pdf; name="faktura.pdf"'),
            boundary="b1",
        ),
        bs_multipart(
            b"mixed",
            bs_multipart(
                b"alternative",
                BS_TEXT,
                bs_multipart(
                    b"related",
                    BS_HTML,
                    bs_leaf(b'"image" "png"', b'("name" "logo.png")', b'("inline" NIL)'),
                ),
            ),
            bs_leaf(b'"application" "pdf"', b'("name" "faktura.pdf")'),
        ),
        [
            ("1.2.2", "image/png", "logo.png", "inline", False),
            ("2", "application/pdf", "faktura.pdf", None, False),
        ],
    ),
    "forwarded_message_with_pdf": (
        mime_multipart(
            "mixed",
            mime_text("Przesyłam dalej."),
            mime_forwarded(
                mime_multipart(
                    "mixed",
                    mime_text(),
                    mime_leaf('Content-Type: application/pdf; name="faktura.pdf"'),
                    boundary="inner",
                )
            ),
            boundary="outer",
        ),
        bs_multipart(
            b"mixed",
            BS_TEXT,
            bs_forwarded(
                bs_multipart(b"mixed", BS_TEXT, bs_leaf(b'"application" "pdf"', b'("name" "faktura.pdf")'))
            ),
        ),
        [("2.2", "application/pdf", "faktura.pdf", None, True)],
    ),
    "forwarded_single_part_pdf": (
        mime_multipart(
            "mixed",
            mime_text("Przesyłam dalej."),
            mime_forwarded(mime_leaf('Content-Type: application/pdf; name="faktura.pdf"')),
            boundary="outer",
        ),
        bs_multipart(
            b"mixed", BS_TEXT, bs_forwarded(bs_leaf(b'"application" "pdf"', b'("name" "faktura.pdf")'))
        ),
        [("2.1", "application/pdf", "faktura.pdf", None, True)],
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_bodystructure_gives_the_parts_with_imap_section_numbers(shape):
    _mime, structure, expected = SHAPES[shape]
    parts, has_attachments = parts_from_bodystructure(bodystructure(structure))
    assert summary(parts) == expected
    assert has_attachments


@pytest.mark.parametrize("shape", SHAPES)
def test_mime_gives_the_same_parts_and_numbers_as_bodystructure(shape):
    mime, _structure, expected = SHAPES[shape]
    assert summary(parts_from_mime(message(mime))) == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_every_pdf_shape_is_a_candidate_and_a_pdf_by_its_bytes(shape):
    raw = message(SHAPES[shape][0])
    pdfs = [
        p for p in parts_from_mime(raw) if is_pdf_candidate(p) and looks_like_pdf(mime_part_bytes(raw, p.ref))
    ]
    assert len(pdfs) == 1
    assert mime_part_bytes(raw, pdfs[0].ref) == PDF


def test_bodystructure_reports_sizes_and_encodings_as_the_server_gives_them():
    structure = bs_multipart(
        b"mixed", BS_TEXT, bs_leaf(b'"APPLICATION" "PDF"', b'("NAME" "f.pdf")', size=73012)
    )
    [part], _ = parts_from_bodystructure(bodystructure(structure))
    assert (part.content_type, part.size, part.encoding, part.filename) == (
        "application/pdf",
        73012,
        "base64",
        "f.pdf",
    )


def test_bodystructure_name_sent_as_8bit_literal_is_decoded():
    structure = bs_leaf(b'"application" "pdf"', b'("name" {})')
    [part], _ = parts_from_bodystructure(bodystructure(structure, POLISH_NAME.encode("utf-8")))
    assert part.filename == POLISH_NAME


def test_bodystructure_rfc2231_name_joined_by_the_server_is_decoded():
    # Dovecot joins continuations itself and keeps the charset prefix under "filename*".
    disposition = b'("attachment" ("filename*" "utf-8\'\'Faktura_VAT_%C4%85%C4%99%C5%9B%C4%87%C5%BC.pdf"))'
    [part], _ = parts_from_bodystructure(bodystructure(bs_leaf(b'"application" "pdf"', b"NIL", disposition)))
    assert part.filename == POLISH_NAME


def test_rfc2231_name_wins_over_the_plain_fallback_name():
    disposition = (
        b'("attachment" ("filename" "Faktura_VAT_.pdf" "filename*" "utf-8\'\'Faktura_VAT_%C4%85.pdf"))'
    )
    [part], _ = parts_from_bodystructure(bodystructure(bs_leaf(b'"application" "pdf"', b"NIL", disposition)))
    assert part.filename == "Faktura_VAT_ą.pdf"


def test_disposition_filename_wins_over_content_type_name():
    structure = bs_leaf(
        b'"application" "pdf"', b'("name" "stara.pdf")', b'("attachment" ("filename" "nowa.pdf"))'
    )
    [part], _ = parts_from_bodystructure(bodystructure(structure))
    assert part.filename == "nowa.pdf"


def test_encoded_word_name_in_mime_is_decoded():
    raw = message(
        mime_leaf(
            'Content-Type: application/pdf; name="=?utf-8?B?RmFrdHVyYV9WQVRfxIXEmcWbxIfFvC5wZGY=?="\r\n'
            'Content-Disposition: attachment; filename="=?iso-8859-2?Q?Faktura_VAT_=B1=EA=B6=E6=BF.pdf?="'
        )
    )
    [part] = parts_from_mime(raw)
    assert part.filename == "Faktura VAT ąęśćż.pdf"


def test_raw_8bit_utf8_name_in_mime_is_decoded():
    raw = message(
        mime_leaf(
            f'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="{POLISH_NAME}"'
        )
    )
    assert parts_from_mime(raw)[0].filename == POLISH_NAME


def test_text_only_message_has_no_parts_and_no_attachment():
    parts, has_attachments = parts_from_bodystructure(
        bodystructure(bs_multipart(b"alternative", BS_TEXT, BS_HTML))
    )
    assert (parts, has_attachments) == ([], False)
    assert mime_structure(
        message(mime_multipart("alternative", mime_text(), mime_text("<p/>", "html"), boundary="a"))
    ) == (
        [],
        False,
    )


def test_single_text_body_has_no_attachment():
    assert parts_from_bodystructure(bodystructure(BS_TEXT)) == ([], False)


def test_text_attachment_counts_as_attachment_but_is_not_a_part():
    structure = bs_multipart(
        b"mixed",
        BS_TEXT,
        b'("text" "csv" ("charset" "utf-8") NIL NIL "base64" 90 2 NIL'
        b' ("attachment" ("filename" "lista.csv")) NIL NIL)',
    )
    assert parts_from_bodystructure(bodystructure(structure)) == ([], True)


def test_image_only_message_has_an_attachment_but_no_pdf():
    structure = bs_multipart(b"mixed", BS_TEXT, bs_leaf(b'"image" "jpeg"', b'("name" "skan.jpg")'))
    parts, has_attachments = parts_from_bodystructure(bodystructure(structure))
    assert has_attachments
    assert [is_pdf_candidate(p) for p in parts] == [False]


def test_signature_of_a_signed_text_message_is_not_an_attachment():
    structure = bs_multipart(
        b"signed",
        BS_TEXT,
        bs_leaf(b'"application" "pkcs7-signature"', b'("name" "smime.p7s")', b'("attachment" NIL)'),
    )
    assert parts_from_bodystructure(bodystructure(structure))[1] is False


def test_unreadable_bodystructure_is_a_structure_error():
    with pytest.raises(StructureError):
        parts_from_bodystructure(None)


# -- What is a candidate, what is a PDF -----------------------------------------------------------


def part(content_type: str, filename: str | None = None, **extra) -> AttachmentPart:
    return AttachmentPart(
        ref="2", filename=filename, content_type=content_type, size=extra.pop("size", 100), **extra
    )


@pytest.mark.parametrize(
    "candidate",
    [
        part("application/pdf"),
        part("application/x-pdf", "skan"),
        part("application/pdf", "faktura.bin"),
        part("application/octet-stream", "faktura.pdf"),
        part("application/octet-stream", "FAKTURA.PDF"),
        part("image/png", "Kontoutskrift.pdf"),
        part("application/pdf", disposition="inline"),
        part("application/pdf", "faktura.pdf", in_forwarded=True),
    ],
)
def test_part_typed_pdf_or_named_pdf_is_a_candidate(candidate):
    assert is_pdf_candidate(candidate)


@pytest.mark.parametrize(
    "other",
    [
        part("application/octet-stream"),
        part("application/octet-stream", "faktura.pdf.zip"),
        part("image/jpeg", "skan.jpg"),
        part("text/plain", "faktura.pdf"),
        part("application/zip", "faktury.zip"),
    ],
)
def test_other_parts_are_not_candidates(other):
    assert not is_pdf_candidate(other)


def test_pdf_name_whose_bytes_are_not_a_pdf_is_a_candidate_but_not_a_pdf():
    raw = message(
        mime_multipart(
            "mixed",
            mime_text(),
            mime_leaf('Content-Type: application/pdf; name="test.pdf"', b"not a PDF at all"),
            boundary="b",
        )
    )
    [candidate] = parts_from_mime(raw)
    assert is_pdf_candidate(candidate)
    assert not looks_like_pdf(mime_part_bytes(raw, candidate.ref))


def test_pdf_named_bin_typed_application_pdf_is_a_pdf_stored_with_pdf_extension():
    raw = message(
        mime_multipart(
            "mixed", mime_text(), mime_leaf('Content-Type: application/pdf; name="skan.bin"'), boundary="b"
        )
    )
    [candidate] = parts_from_mime(raw)
    assert is_pdf_candidate(candidate)
    assert looks_like_pdf(mime_part_bytes(raw, candidate.ref))
    assert pdf_filename(candidate, 1) == "skan.bin.pdf"


@pytest.mark.parametrize(
    "data",
    [PDF, b"\xef\xbb\xbf" + PDF, b"\r\n" * 500 + PDF, b"x" * 1019 + b"%PDF-1.4"],
)
def test_bytes_with_pdf_header_in_the_first_kilobyte_are_a_pdf(data):
    assert looks_like_pdf(data)


@pytest.mark.parametrize("data", [b"", b"%PDF", b"PK\x03\x04", b"x" * 1024 + b"%PDF-1.4", b"%pdf-1.4"])
def test_bytes_without_pdf_header_in_the_first_kilobyte_are_not_a_pdf(data):
    assert not looks_like_pdf(data)


def test_pdf_without_a_name_gets_a_numbered_name():
    assert pdf_filename(part("application/pdf"), 1) == "zalacznik-1.pdf"
    assert pdf_filename(part("application/pdf"), 3) == "zalacznik-3.pdf"
    assert pdf_filename(part("application/pdf", "faktura.pdf"), 2) == "faktura.pdf"


def test_part_over_the_limit_is_too_large_judging_by_decoded_size():
    limit = 1_000_000
    # 1.3 MB of base64 is about 0.95 MB of PDF: under the limit.
    assert not part_too_large(part("application/pdf", size=1_300_000, encoding="base64"), limit)
    assert part_too_large(part("application/pdf", size=1_400_000, encoding="base64"), limit)
    assert part_too_large(part("application/pdf", size=1_000_001, encoding="binary"), limit)
    assert not part_too_large(part("application/pdf", size=None), limit)


# -- File names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("faktura.pdf", "faktura.pdf"),
        (b"faktura.pdf", "faktura.pdf"),
        (POLISH_NAME.encode("utf-8"), POLISH_NAME),
        (POLISH_NAME.encode("iso-8859-2"), POLISH_NAME),
        ("Faktura_VAT_śźą.pdf".encode("cp1250"), "Faktura_VAT_śźą.pdf"),
        (b"=?utf-8?B?RmFrdHVyYV9WQVRfxIXEmcWbxIfFvC5wZGY=?=", POLISH_NAME),
        (b"=?UTF-8?Q?Faktura=5FVAT=5F=C4=85=C4=99=C5=9B=C4=87=C5=BC.pdf?=", POLISH_NAME),
        ("=?iso-8859-2?Q?Faktura_VAT_=B1=EA=B6=E6=BF.pdf?=", "Faktura VAT ąęśćż.pdf"),
        ("=?utf-8?Q?Faktura_?= =?utf-8?Q?=C4=85=C4=99.pdf?=", "Faktura ąę.pdf"),
        ("=?utf-8*pl?Q?=C4=85.pdf?=", "ą.pdf"),
        ("=?x-unknown-charset?Q?faktura.pdf?=", "faktura.pdf"),
        (("utf-8", "pl", "Faktura_VAT_\xc4\x85\xc4\x99\xc5\x9b\xc4\x87\xc5\xbc.pdf"), POLISH_NAME),
        (("iso-8859-2", None, b"Faktura_VAT_\xb1\xea\xb6\xe6\xbf.pdf"), POLISH_NAME),
        ((None, None, "faktura.pdf"), "faktura.pdf"),
        (unicodedata.normalize("NFD", POLISH_NAME), POLISH_NAME),
        ('"faktura.pdf"', "faktura.pdf"),
    ],
)
def test_file_name_is_decoded_to_nfc_text(raw, name):
    assert decode_filename(raw) == name
    assert unicodedata.is_normalized("NFC", decode_filename(raw))


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("C:\\Dokumenty\\Faktury\\faktura.pdf", "faktura.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/tmp/faktura.pdf", "faktura.pdf"),
        ("FV 12/2026.pdf", "FV 12_2026.pdf"),
        ("faktura\r\nX-Injected: 1.pdf", "faktura X-Injected: 1.pdf"),
        ("faktura\x00.pdf", "faktura .pdf"),
        ("=?UTF-8?b?S29udG91dHNrcmlmdApCZWRyaWZ0c2tvbnRvLnBkZg==?=", "Kontoutskrift Bedriftskonto.pdf"),
        ("faktura\u202efdp.exe", "fakturafdp.exe"),
        (".htaccess", "htaccess"),
        ("  faktura.pdf . ", "faktura.pdf"),
    ],
)
def test_file_name_is_safe_to_show_and_to_send_in_a_header(raw, name):
    assert decode_filename(raw) == name


@pytest.mark.parametrize("raw", [None, "", b"", "   ", "\r\n", "..", "/", '""'])
def test_empty_file_name_is_no_name(raw):
    assert decode_filename(raw) is None


def test_very_long_file_name_is_shortened_keeping_its_extension():
    name = decode_filename("F" * 400 + ".pdf")
    assert len(name) == 255
    assert name.endswith("F.pdf")


# -- Robustness ----------------------------------------------------------------------------------


def test_part_reference_that_does_not_exist_is_a_key_error():
    raw = message(
        mime_multipart("mixed", mime_text(), mime_leaf("Content-Type: application/pdf"), boundary="b")
    )
    for ref in ["3", "2.1", "0", "x", "1.1"]:
        with pytest.raises(KeyError):
            mime_part_bytes(raw, ref)


def test_forwarded_message_part_gives_the_forwarded_message_bytes():
    raw = message(
        mime_multipart(
            "mixed", mime_text(), mime_forwarded(mime_leaf("Content-Type: application/pdf")), boundary="b"
        )
    )
    assert b"Subject: Faktura" in mime_part_bytes(raw, "2")
    assert mime_part_bytes(raw, "2.1") == PDF


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage without headers",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 never closed",
        b"From: =?utf-8?q?\xff\xfe?= <a@b.pl>\r\n"
        b'Content-Type: application/pdf; name="\xff\xfe.pdf"\r\n\r\n%PDF-1.4',
        b"Content-Type: application/pdf; name*0*=bogus-charset''%ZZ; name*1=x.pdf\r\n\r\n%PDF-1.4",
    ],
)
def test_broken_mail_does_not_crash_the_parser(raw):
    for found in parts_from_mime(raw):
        mime_part_bytes(raw, found.ref)


def test_absurdly_nested_message_is_a_structure_error_not_a_crash():
    body = "Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n"
    for depth in range(200):
        body = mime_multipart("mixed", body, boundary=f"b{depth}")
    with pytest.raises(StructureError):
        parts_from_mime(message(body))


# -- Bounds of the walk --------------------------------------------------------------------------


def many_pdfs_mime(count: int) -> bytes:
    leaf = mime_leaf('Content-Type: application/pdf; name="f.pdf"', b"%PDF-1.4")
    return message(mime_multipart("mixed", *[leaf] * count, boundary="b"))


def many_pdfs_bodystructure(count: int):
    leaf = bs_leaf(b'"application" "pdf"', b'("name" "f.pdf")')
    return bodystructure(bs_multipart(b"mixed", *[leaf] * count))


def nested_mime(depth: int) -> bytes:
    body = mime_leaf('Content-Type: application/pdf; name="f.pdf"')
    for level in range(depth):
        body = mime_multipart("mixed", body, boundary=f"b{level}")
    return message(body)


def nested_bodystructure(depth: int):
    body = bs_leaf(b'"application" "pdf"', b'("name" "f.pdf")')
    for _ in range(depth):
        body = bs_multipart(b"mixed", body)
    return bodystructure(body)


@pytest.mark.parametrize(
    "walk",
    [
        lambda count, **bounds: parts_from_bodystructure(many_pdfs_bodystructure(count), **bounds),
        lambda count, **bounds: mime_structure(many_pdfs_mime(count), **bounds),
    ],
    ids=["bodystructure", "mime"],
)
def test_message_with_more_parts_than_the_bound_stops_the_walk_naming_the_bound(walk):
    with pytest.raises(StructureBoundExceeded) as raised:
        walk(10_000)
    assert (raised.value.bound, raised.value.limit) == (WalkBound.PARTS, DEFAULT_MAX_PARTS)
    assert raised.value.bound == "parts"
    # The multipart itself is a part examined: 499 of the PDFs were found before the bound.
    assert [part.ref for part in raised.value.parts] == [str(n) for n in range(1, DEFAULT_MAX_PARTS)]
    assert raised.value.has_attachments

    parts, _ = walk(10_000, max_parts=10_001)
    assert len(parts) == 10_000
    assert len(walk(499)[0]) == 499  # 500 parts examined: at the bound, not beyond it
    with pytest.raises(StructureBoundExceeded):
        walk(50, max_parts=50)


@pytest.mark.parametrize(
    "structure",
    [lambda: many_pdfs_bodystructure(10_000), lambda: nested_bodystructure(DEFAULT_MAX_DEPTH + 1)],
    ids=["parts", "depth"],
)
def test_a_structure_beyond_a_bound_is_counted_not_read(structure, monkeypatch):
    # A message beyond a bound is decided by the bound: 500 file names decoded would be for nothing.
    structure = structure()
    read = []
    monkeypatch.setattr("ekpanel.mail.structure.decode_filename", lambda raw: read.append(raw))
    with pytest.raises(StructureBoundExceeded) as raised:
        parts_from_bodystructure(structure)
    assert read == []
    assert len(raised.value.parts) == len(read)  # what was found is read when asked for


@pytest.mark.parametrize(
    "walk",
    [
        lambda depth, **bounds: parts_from_bodystructure(nested_bodystructure(depth), **bounds),
        lambda depth, **bounds: mime_structure(nested_mime(depth), **bounds),
    ],
    ids=["bodystructure", "mime"],
)
def test_message_nested_deeper_than_the_bound_stops_the_walk_naming_the_bound(walk):
    # The PDF of ``depth`` nested multiparts is at depth ``depth``: the top one is at 0.
    assert len(walk(DEFAULT_MAX_DEPTH)[0]) == 1
    with pytest.raises(StructureBoundExceeded) as raised:
        walk(DEFAULT_MAX_DEPTH + 1)
    assert (raised.value.bound, raised.value.limit, raised.value.parts) == ("depth", DEFAULT_MAX_DEPTH, [])
    assert len(walk(60, max_depth=60)[0]) == 1
    with pytest.raises(StructureBoundExceeded):
        walk(5, max_depth=4)


def test_forwarded_message_counts_as_a_level_of_nesting():
    body = mime_leaf('Content-Type: application/pdf; name="f.pdf"')
    for _ in range(3):
        body = mime_forwarded(body)
    parts, _ = mime_structure(message(body), max_depth=3)
    assert [(p.ref, p.in_forwarded) for p in parts] == [("1.1.1.1", True)]
    with pytest.raises(StructureBoundExceeded) as raised:
        mime_structure(message(body), max_depth=2)
    assert raised.value.bound == WalkBound.DEPTH


def test_nesting_the_email_package_cannot_parse_is_beyond_the_depth_bound():
    with pytest.raises(StructureBoundExceeded) as raised:
        mime_structure(nested_mime(2000))
    assert raised.value.bound == WalkBound.DEPTH


# -- Properties ----------------------------------------------------------------------------------

name_pieces = st.one_of(
    st.text(max_size=8), st.sampled_from(["=?utf-8?q?", "?=", "..", "/", "\\", "\u202e", "\r\n", '"', ".pdf"])
)
raw_names = st.one_of(
    st.none(),
    st.binary(),
    st.lists(name_pieces, max_size=8).map("".join),
    st.tuples(st.one_of(st.none(), st.text(max_size=10)), st.none(), st.one_of(st.text(), st.binary())),
)


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.binary(max_size=12),
        st.text(max_size=12),
        st.sampled_from([b"message", b"MESSAGE", b" Message", b"message/rfc822", b"x message", b"messages"]),
    ),
    st.one_of(st.none(), st.binary(max_size=8), st.sampled_from([b"rfc822", b"GLOBAL", b"rfc822 x", b""])),
)
@example(b"MESSAGE", b"RFC822")
@example(b" message/global", None)
@example("message", "rfc822")
def test_a_forwarded_message_s_type_is_told_by_its_letters_first(maintype, subtype):
    # is_forwarded_type's shortcut (no "message" in the main type), against the whole reading.
    whole = _media_type(_nstring(maintype), _nstring(subtype)) in ("message/rfc822", "message/global")
    assert is_forwarded_type(maintype, subtype) == whole


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)), st.integers(0, 300))
def test_a_printable_ascii_name_reads_as_it_would_through_the_look_at_every_character(name, at):
    # Printable ASCII takes a shortcut; an invisible character sends the same name the long
    # way, which drops it again.
    at = min(at, len(name))
    assert decode_filename(name) == decode_filename(name[:at] + "\u200b" + name[at:])


@given(raw_names)
@example("\ud800.pdf")
@example(("utf-8", None, "\udfff"))
def test_any_file_name_is_safe_text_or_none(raw):
    name = decode_filename(raw)
    if name is not None:
        assert 0 < len(name) <= 255
        assert unicodedata.is_normalized("NFC", name)
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name)
        assert "/" not in name and "\\" not in name
        assert not name.startswith(".") and name == name.strip()
