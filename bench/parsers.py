"""How long the parsers of untrusted mail take on hostile sizes (no servers needed).

Run by hand from the project root (times depend on the machine; the median of ``--repeat`` runs):

    .venv/bin/python bench/parsers.py
    .venv/bin/python bench/parsers.py --parts 20000 --repeat 3

Prints, for a message of ``--parts`` PDF parts (default 10 000): reading its FETCH response
(BODYSTRUCTURE as Dovecot writes it) with our parser and with imapclient's, the summary with the
walk stopped at the default bound of 500 parts, and the same message as raw MIME through the
email package and the walk. Then pathological headers: From values and file names built to make
regular expressions and the email package's parser slow. Target: every line well under 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imapclient.response_parser import parse_fetch_response

from ekpanel.mail.fetch_response import parse_fetch
from ekpanel.mail.headers import decode_words, header_fields
from ekpanel.mail.imap_fetch import summary_from_fetch
from ekpanel.mail.pdf import decode_filename
from ekpanel.mail.structure import StructureError, mime_structure
from ekpanel.mail.whitelist import SenderWhitelist, parse_entries, sender_address

PDF_LEAF = (
    b'("application" "pdf" ("name" "faktura.pdf") NIL NIL "base64" 1000 NIL'
    b' ("attachment" ("filename" "faktura.pdf")) NIL NIL)'
)


def fetch_data(parts: int) -> list:
    structure = b"(" + PDF_LEAF * parts + b' "mixed" ("boundary" "b") NIL NIL NIL)'
    header = b"From: Faktury <faktury@dostawca.pl>\r\nSubject: Faktury\r\n\r\n"
    text = (
        b"1 (UID 7 RFC822.SIZE 123 BODYSTRUCTURE " + structure + b" BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}"
    )
    return [(text % len(header), header), b")"]


def mime_message(parts: int) -> bytes:
    leaf = (
        b'--b\r\nContent-Type: application/pdf; name="faktura.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    )
    head = (
        b"From: faktury@dostawca.pl\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    )
    return head + leaf * parts + b"--b--\r\n"


def timed(label: str, run, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(StructureError):  # a bound reached is the answer being timed
            run()
        times.append(time.perf_counter() - start)
    print(f"{label:<64} {statistics.median(times) * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--parts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.parts, args.repeat

    data = fetch_data(n)
    response = parse_fetch(data)
    timed(f"parse_fetch, {n} PDF parts", lambda: parse_fetch(data), repeat)
    timed(
        f"imapclient's parse_fetch_response, {n} PDF parts",
        lambda: parse_fetch_response(data, normalise_times=False, uid_is_key=True),
        repeat,
    )
    timed(
        f"summary_from_fetch (walk stops at 500), {n} PDF parts",
        lambda: summary_from_fetch(7, response[7]),
        repeat,
    )
    timed(
        f"summary_from_fetch, max_parts={n + 1}, {n} PDF parts",
        lambda: summary_from_fetch(7, response[7], max_parts=n + 1),
        repeat,
    )
    raw = mime_message(n)
    timed(f"mime_structure (parse, walk stops at 500), {n} PDF parts", lambda: mime_structure(raw), repeat)

    hostile_from = {
        "From: '<' + 'a@' * 20000": "<" + "a@" * 20000,
        "From: '\"' + '\\\\\"' * 20000": '"' + '\\"' * 20000,
        "From: 'a@b.pl, ' * 200": "a@b.pl, " * 200,
        "From: 'Jan <' * 400": "Jan <" * 400,
    }
    whitelist = SenderWhitelist(["faktury*@*.pl", "*@dostawca.pl"])
    for label, value in hostile_from.items():
        timed(
            f"sender_address + admits, {label}",
            lambda value=value: whitelist.admits(sender_address(value)),
            repeat,
        )
    long_local = "f" * 5000 + "@x.pl"
    timed(
        "admits, f*a*k*t*u*r*y*@*.pl against 'f' * 5000",
        lambda: SenderWhitelist(["f*a*k*t*u*r*y*@*.pl"]).admits(long_local),
        repeat,
    )
    timed(
        "parse_entries, 20 000 addresses",
        lambda: parse_entries(" ".join(f"a{i}@b.pl" for i in range(20_000))),
        repeat,
    )
    words = "=?utf-8?q?Faktura_=C4=85?= " * 20_000
    timed("decode_words, 20 000 encoded words", lambda: decode_words(words), repeat)
    timed("decode_filename, 20 000 encoded words", lambda: decode_filename(words), repeat)
    block = b"X-A: b\r\n" * 50_000 + b"From: a@b.pl\r\n\r\n"
    timed("header_fields, 50 000 header lines", lambda: header_fields(block), repeat)


if __name__ == "__main__":
    main()
