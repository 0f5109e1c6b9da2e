"""Properties of the structure parsers: any input gives a result or the module's own error.

The FETCH reader (``fetch_response``) raises only :class:`FetchSyntaxError`; the walkers
(``structure``) only :class:`StructureError`; a summary of a FETCH response never raises.
Inputs are generated trees of what imapclient hands over (nested tuples and lists of bytes,
numbers and None), mutations of real BODYSTRUCTURE responses from Dovecot, and mutated MIME.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from imapclient.response_types import BodyData

from ekpanel.mail.fetch_response import FetchSyntaxError, parse_fetch, read_fetch
from ekpanel.mail.imap_fetch import summary_from_fetch
from ekpanel.mail.structure import (
    StructureError,
    mime_part_bytes,
    mime_structure,
    parts_from_bodystructure,
)
from ekpanel.mail.structure_walk import is_section
from ekpanel.mail.texts import Note
from tests.support.mail_users import new_box

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FETCH = "(UID BODYSTRUCTURE INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE MESSAGE-ID)])"

# -- What imapclient hands over ------------------------------------------------------------------

WORDS = [
    b"text", b"plain", b"html", b"application", b"pdf", b"octet-stream", b"multipart", b"mixed",
    b"message", b"rfc822", b"attachment", b"inline", b"filename", b"name", b"filename*",
    b"filename*0*", b"filename*1*", b"utf-8''%C4%85.pdf", b"charset", b"utf-8", b"base64", b"",
    b"=?utf-8?q?a?=", b"\xc4\x85", b"boundary",
]  # fmt: skip
atoms = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(WORDS),
    st.binary(max_size=12),
)
trees = st.recursive(
    atoms,
    lambda children: st.one_of(st.lists(children, max_size=10), st.tuples(children, children, children)),
    max_leaves=40,
)
nested = st.recursive(atoms, lambda children: st.lists(children, max_size=10).map(tuple), max_leaves=40)


def body_data(tree):
    try:
        return BodyData.create(tree)
    except Exception:  # imapclient's own bugs: the raw tree is what our reader keeps then
        return tree


def walk(structure) -> None:
    try:
        parts, has_attachments = parts_from_bodystructure(structure)
    except StructureError:
        return
    assert isinstance(parts, list)
    assert isinstance(has_attachments, bool)


@given(trees)
def test_any_tree_gives_parts_or_a_structure_error(tree):
    walk(tree)


@given(nested)
@example(((b"text", b"plain", None, None, None, b"7bit", 1),))  # a multipart of one leaf and nothing else
@example(((),))
@example(((None,), b"mixed"))
def test_any_body_data_gives_parts_or_a_structure_error(tree):
    walk(body_data(tree))


# -- Real responses from Dovecot, mutated -----------------------------------------------------


@pytest.fixture(scope="module")
def dovecot_responses(dovecot) -> list:
    """imaplib's FETCH data, one response per message, for the corpus and the test builders."""
    from tests.support import messages as m

    box = new_box(dovecot)
    for path in sorted(CORPUS.glob("*.eml")):
        box.user.append("INBOX", path.read_bytes())
    inner = m.message(subject="Fwd: faktura")
    m.add_pdf(inner, m.pdf_bytes(), "Faktura_VAT_ąęśćż.pdf")
    outer = m.message(subject="Zażółć gęślą jaźń")
    m.add_forwarded(outer, inner)
    m.add_name_only_in_content_type(outer, m.pdf_bytes(), '=?utf-8?q?"dziwna"_nazwa?= (1).pdf')
    box.user.append("INBOX", m.as_bytes(outer))
    context = ssl.create_default_context(cafile=str(box.server.ca_path))
    with imaplib.IMAP4_SSL("127.0.0.1", box.port, ssl_context=context) as client:
        client.login(box.user.login, box.user.password)
        client.select("INBOX", readonly=True)
        typ, data = client.uid("FETCH", "1:*", FETCH)
    assert typ == "OK"
    return _split_responses(data)


def _split_responses(data: list) -> list[list]:
    """imaplib's chunks grouped per ``* n FETCH`` response (a response ends with a bare chunk)."""
    responses, current = [], []
    for chunk in data:
        current.append(chunk)
        if isinstance(chunk, bytes):
            responses.append(current)
            current = []
    return responses


TOKENS = [b"(", b")", b"NIL", b'"x"', b'""', b"0", b"4294967296", b" ", b"{3}", b"\\", b'"', b"BODYSTRUCTURE"]
mutations = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), st.sampled_from(TOKENS)),
    min_size=1,
    max_size=6,
)


def mutate(response: list, edits) -> list:
    chunks = list(response)
    for operation, where, token in edits:
        index = int(where * (len(chunks) - 1))
        chunk = chunks[index]
        text, literal = chunk if isinstance(chunk, tuple) else (chunk, None)
        at = int(where * len(text))
        if operation == "insert":
            text = text[:at] + token + text[at:]
        elif operation == "delete":
            text = text[:at] + text[at + len(token) :]
        else:
            text = text[:at] + token + text[at + len(token) :]
        chunks[index] = (text, literal) if literal is not None else text
    return chunks


def summarise(data: list) -> None:
    try:
        response = read_fetch(data)
    except FetchSyntaxError:
        return
    for uid, fields in response.items():
        summary = summary_from_fetch(uid, fields)
        assert summary.parse_error is None or isinstance(summary.parse_error, Note)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_dovecot_response_is_read_or_refused_with_fetch_syntax_error(dovecot_responses, data):
    response = data.draw(st.sampled_from(dovecot_responses))
    summarise(mutate(response, data.draw(mutations)))


@given(st.lists(st.one_of(st.binary(max_size=40), st.tuples(st.binary(max_size=40), st.binary(max_size=20)))))
@example([b'1 (UID 7 BODYSTRUCTURE ((NIL) "mixed"))'])
@example([b"1 (UID 7 BODYSTRUCTURE (1 2))"])
@example([b"1 (UID 7 BODYSTRUCTURE ())"])
@example([b"1 (UID x)"])
@example([b"1 (NIL 1)"])  # imapclient's parser: AttributeError
@example([b'1 (UID 7 INTERNALDATE "99-Abc-0000 99:99:99 +9999")'])
@example([b"1 (UID 7 BODY[HEADER.FIELDS (FROM)] 12)"])
def test_any_fetch_data_is_read_or_refused_with_fetch_syntax_error(data):
    with contextlib.suppress(FetchSyntaxError):
        parse_fetch(data)
    summarise(data)


def imap_text(tree) -> bytes:
    """A generated tree written as IMAP would send it (bytes as quoted strings)."""
    if tree is None:
        return b"NIL"
    if isinstance(tree, int):
        return str(abs(tree)).encode()
    if isinstance(tree, bytes):
        return b'"' + tree.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"(" + b" ".join(imap_text(child) for child in tree) + b")"


@given(
    nested,
    st.sampled_from([b"BODYSTRUCTURE", b"INTERNALDATE", b"RFC822.SIZE", b"BODY[HEADER.FIELDS (FROM)]", b"X"]),
)
@example((), b"BODYSTRUCTURE")
@example(((b"text", b"plain"), (b"text", b"plain")), b"BODYSTRUCTURE")  # children without a subtype
@example(b"24-Nov-2026 01:30:52 +9999", b"INTERNALDATE")
@example(b"31-Feb-2026 01:30:52 +0100", b"INTERNALDATE")
@example(b"01-Jan-0001 00:00:00 +0100", b"INTERNALDATE")
@example(b"From: a@b.pl, c@d.pl", b"BODY[HEADER.FIELDS (FROM)]")
def test_any_item_of_a_fetch_response_is_read_or_refused(tree, item):
    data = [b"1 (UID 7 " + item + b" " + imap_text(tree) + b")"]
    with contextlib.suppress(FetchSyntaxError):
        parse_fetch(data)
    summarise(data)


def test_response_imapclient_cannot_read_either_is_a_fetch_syntax_error():
    with pytest.raises(FetchSyntaxError) as raised:
        read_fetch([b"1 (NIL 1)"])
    assert isinstance(raised.value.__cause__, AttributeError)


def test_bodystructure_imapclient_cannot_take_is_that_message_s_parse_error():
    data = [
        b'1 (UID 7 BODYSTRUCTURE (() "mixed"))',
        b'2 (UID 8 BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 1 1))',
    ]
    summaries = {uid: summary_from_fetch(uid, fields) for uid, fields in read_fetch(data).items()}
    assert summaries[7].parse_error
    assert summaries[8].parse_error is None


def test_forwarded_messages_nested_beyond_any_reason_are_a_structure_error():
    body = b'("application" "pdf" NIL NIL NIL "base64" 10 NIL NIL NIL NIL)'
    for _ in range(200):
        body = b'("message" "rfc822" NIL NIL NIL "7bit" 10 (NIL NIL) %s 1 NIL NIL NIL NIL)' % body
    response = read_fetch([b"1 (UID 7 BODYSTRUCTURE " + body + b")"])
    with pytest.raises(StructureError):
        parts_from_bodystructure(response[7][b"BODYSTRUCTURE"])


def test_deeply_nested_bodystructure_is_a_structure_error_not_a_recursion_error():
    data = [b"1 (UID 7 BODYSTRUCTURE " + b"(" * 5000 + b'"text" "plain"' + b")" * 5000 + b")"]
    [summary] = [summary_from_fetch(uid, fields) for uid, fields in read_fetch(data).items()]
    assert summary.parse_error


# -- Raw MIME --------------------------------------------------------------------------------------

MIME_TOKENS = [
    b"\r\n", b"\r\n\r\n", b"--b1\r\n", b"--b1--\r\n", b"--b2\r\n",
    b"Content-Type: multipart/mixed; boundary=b2\r\n", b"Content-Type: message/rfc822\r\n",
    b"Content-Type: application/pdf; name*0*=utf-8''%C4%85; name*=x\r\n",
    b"Content-Disposition: attachment; filename=\"=?utf-8?b?YQ==?=\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"%PDF-1.4\r\n", b"JVBERi0xLjQ=\r\n",
    b"\xc4\x85", b"\x00", b";", b"\"", b"=?", b"?=",
]  # fmt: skip
SAMPLE = (
    b"From: a@b.pl\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
    b"Content-Type: text/plain\r\n\r\ntekst\r\n--b1\r\nContent-Type: application/pdf; name=f.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--b1--\r\n"
)


def corpus_messages() -> list[bytes]:
    return [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))] or [SAMPLE]


mime_edits = st.lists(
    st.tuples(st.sampled_from(["insert", "delete"]), st.floats(0, 1), st.sampled_from(MIME_TOKENS)),
    max_size=8,
)


def read_mime(raw: bytes) -> None:
    try:
        parts, has_attachments = mime_structure(raw)
    except StructureError:
        return
    assert isinstance(has_attachments, bool)
    for part in parts:
        with contextlib.suppress(KeyError, StructureError):
            assert isinstance(mime_part_bytes(raw, part.ref), bytes)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(corpus_messages()), mime_edits)
def test_mutated_mime_gives_parts_or_a_structure_error(raw, edits):
    for operation, where, token in edits:
        at = int(where * len(raw))
        raw = raw[:at] + token + raw[at:] if operation == "insert" else raw[:at] + raw[at + 64 :]
    read_mime(raw)


@given(st.lists(st.sampled_from(MIME_TOKENS) | st.binary(max_size=10), max_size=40).map(b"".join))
def test_generated_mime_gives_parts_or_a_structure_error(raw):
    read_mime(raw)


@pytest.mark.parametrize(
    ("text", "is_one"),
    [("1", True), ("2.1.3", True), ("", False), ("1.", False), (".1", False), ("1]", False),
     ("1 BODY[]", False), ("1\n", False), ("١", False)],
)  # fmt: skip
def test_a_section_is_numbers_joined_by_dots_and_nothing_else(text, is_one):
    """A part's stored reference goes into an IMAP command only when its section is one."""
    assert is_section(text) is is_one
