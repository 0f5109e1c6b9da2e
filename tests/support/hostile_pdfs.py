"""PDFs made to hurt a reader: deep nesting, a page-tree bomb, a decompression bomb, junk after
the header, and one with so much text that reading it costs seconds of CPU.

Written byte by byte: no PDF library would write them.
"""

from __future__ import annotations

import zlib

MiB = 1024 * 1024
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"BT /F1 12 Tf 72 700 Td (Faktura VAT nr 1/2026, NIP 526-025-02-74, Do zaplaty 10,00 PLN) Tj ET"


def assemble(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _one_page(contents: bytes, page_extra: bytes = b"", kids: bytes = b"[3 0 R]") -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids " + kids + b" /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> "
        + page_extra
        + b">> /Contents 5 0 R >>",
        _FONT,
        contents,
    ]


def plain_pdf() -> bytes:
    """A harmless one-page PDF with a line of invoice text, for contrast."""
    return assemble(_one_page(_stream(_TEXT)))


def deeply_nested_page_tree(depth: int = 100_000) -> bytes:
    """The page tree's only kid sits inside ``depth`` nested arrays."""
    kids = b"[" * depth + b"3 0 R" + b"]" * depth
    return assemble(_one_page(_stream(_TEXT), kids=kids))


def deeply_nested_resources(depth: int = 100_000) -> bytes:
    """The page's resources hold a dictionary nested ``depth`` deep."""
    nested = b"<< /A " * depth + b"1" + b" >>" * depth
    return assemble(_one_page(_stream(_TEXT), page_extra=b"/X " + nested + b" "))


def page_tree_bomb(fan_out: int = 1000) -> bytes:
    """``fan_out`` squared pages from a few kilobytes: every node lists the same kid again and again."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b" ".join([b"3 0 R"] * fan_out) + b"] /Count %d >>" % fan_out**2,
            b"<< /Type /Pages /Parent 2 0 R /Kids ["
            + b" ".join([b"4 0 R"] * fan_out)
            + b"] /Count %d >>" % fan_out,
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def decompression_bomb(gibibytes: int = 1) -> bytes:
    """A page whose content stream inflates to ``gibibytes`` GiB of text operators, from about 2 MB.

    Deflate's output for a block after a full flush does not depend on what came before, so one
    compressed mebibyte repeated is a valid stream of many; the Adler-32 at the end is computed
    over the whole.
    """
    line = _TEXT + b"\n"
    chunk = line * (MiB // len(line))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeats = gibibytes * 1024
    checksum = 1
    for _ in range(repeats):
        checksum = zlib.adler32(chunk, checksum)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    data = b"\x78\xda" + block * repeats + final + checksum.to_bytes(4, "big")
    return assemble(_one_page(_stream(data, b"/Filter /FlateDecode")))


def junk_after_header(size: int = 100_000) -> bytes:
    """A PDF header and then no PDF at all."""
    return b"%PDF-1.7\n" + bytes(range(256)) * (size // 256)


def text_heavy(pages: int = 100, chars_per_page: int = 60_000) -> bytes:
    """Pages full of lines of digits: cheap to store, costly to read character by character."""
    line = b"0123456789" * 100
    text = b"".join(
        b"BT /F1 1 Tf 10 %d Td (" % (10 + row) + line + b") Tj ET\n"
        for row in range(chars_per_page // len(line))
    )
    content = _stream(zlib.compress(text, 9), b"/Filter /FlateDecode")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (5 + n) for n in range(pages))
        + b"] /Count %d >>" % pages,
        content,
        _FONT,
    ]
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >>"
            b" /Contents 3 0 R >>"
        )
    return assemble(objects)
