"""Header text as people read it: encoded words, parameters, and the charsets mail really uses.

Every header reader of the mail library comes here: the IMAP summary (header block bytes), the
MIME walker (compat32 messages), the BODYSTRUCTURE walker (parameter lists from imapclient).
The standard library does the decoding — :func:`email.header.decode_header` decodes RFC 2047
encoded words, :func:`email.utils.decode_params` joins RFC 2231 continuations and undoes their
percent-encoding — and this module adds what real mail needs beyond it (where it does more
by hand, the comment there says what the standard library gets wrong):

- bytes outside encoded words, and declared charsets Python does not know, decode as UTF-8, else
  as the Polish single-byte charsets (:func:`decode_bytes`); the standard library would give
  mojibake or raise;
- nothing here raises on hostile input: a value that cannot be decoded is shown as it came.

Values are carried as *octets* until the last step, so a raw 8-bit name and an RFC 2231 one go
through the same charset decision. A parameter value is ``bytes`` (plain) or an RFC 2231
``(charset, language, bytes)`` tuple.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Iterable, Sequence
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from typing import Any

ParamValue = bytes | tuple[str | None, str | None, bytes]
# What a parser hands over for a parameter or a header: bytes (imapclient), text (possibly with
# surrogate escapes from compat32, or already decoded), or an RFC 2231 tuple.
RawValue = str | bytes | tuple[str | None, str | None, str | bytes] | None

# Names that mail software writes but Python's codecs do not know.
_CHARSET_ALIASES = {"ks_c_5601-1987": "cp949", "unknown-8bit": "utf-8", "x-unknown": "utf-8"}
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
# Some mailers leave spaces inside encoded words; a "?" still cannot occur in one.
_ENCODED_WORD = re.compile(rb"=\?[!->@-~]+\?[bBqQ]\?[^?]*\?=")
_BETWEEN_ENCODED_WORDS = re.compile(rb"(\?=)[ \t\r\n]+(?==\?)")
# Surrogates that are not compat32's escapes of 8-bit bytes (U+DC80..U+DCFF): JSON can carry them.
_LONE_SURROGATES = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:[ \t]*(.*(?:\n[ \t].*)*)", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_NUMBERED = re.compile(r"\w+\*\d+\*?", re.ASCII)
# One item of a parameter list: up to a semicolon outside double quotes (an unclosed quote runs
# to the end, as email.message reads it).
_PARAMETER_ITEM = re.compile(rb'(?:"(?:[^"\\]|\\.)*"?|\\.|[^;"\\])+', re.DOTALL)


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from bytes in a declared charset, else UTF-8, else the Polish single-byte charsets."""
    if charset:
        # RFC 2231 allows a language in an encoded word's charset: ``utf-8*pl``.
        name = charset.split("*", 1)[0].strip()
        name = _CHARSET_ALIASES.get(name.lower(), name)
        try:
            return data.decode(name)
        except (LookupError, ValueError):  # unknown, not a text codec, or not valid in it
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1250 uses 0x80-0x9F for letters (ś, ź); ISO-8859-2 has only controls there.
    if any(0x80 <= byte <= 0x9F for byte in data):
        return data.decode("cp1250", "replace")
    return data.decode("iso-8859-2")


def decode_words(value: str | bytes) -> str:
    """A header value with its RFC 2047 encoded words decoded, the text around them as it came.

    decode_header decodes each word; finding the words is done here, because decode_header
    splits its input into lines at U+0085 and U+001C..U+001E as well (in bytes read as latin-1:
    the second byte of a UTF-8 ``ą``), and hands the text between words back escaped.
    """
    data = value if isinstance(value, bytes) else octets(value)
    if b"=?" not in data:
        return decode_bytes(data)
    # RFC 2047: white space between two encoded words is not part of the text.
    data = _BETWEEN_ENCODED_WORDS.sub(rb"\1", _FOLD.sub(b"", data))
    pieces: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(data):
        pieces += [decode_bytes(data[position : match.start()]), _decode_word(match.group())]
        position = match.end()
    pieces.append(decode_bytes(data[position:]))
    return "".join(pieces)


def parameter_text(value: RawValue) -> str | None:
    """A parameter value as text: RFC 2231 charset applied, encoded words decoded; None if absent.

    Encoded words in a quoted parameter (``name="=?utf-8?B?...?="``) break RFC 2047 but are
    what many mailers send for a file name.
    """
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _language, text = value
        if isinstance(text, str):
            # The email package hands RFC 2231 octets over as latin-1 characters.
            text = text.encode("latin-1", "surrogateescape") if _is_latin1(text) else octets(text)
        return decode_bytes(text, charset)
    return decode_words(value)


def parameters(pairs: Iterable[tuple[Any, Any]]) -> dict[str, ParamValue]:
    """Parameters by lower-case name from ``(name, value)`` pairs as an IMAP server lists them,
    RFC 2231 continuations joined (some servers join them themselves).

    Values that are not text or a number (a hostile server's nested lists) are left out.
    """
    prepared: list[tuple[str, str]] = []
    for name, value in pairs:
        if isinstance(value, int):
            value = str(value)
        elif value is None:
            value = ""
        if not isinstance(name, (bytes, str)) or not isinstance(value, (bytes, str)):
            continue
        prepared.append((_latin1(name).strip().lower(), _latin1(value)))
    return _by_name(_decode_params(prepared))


def header_parameters(message: Message, name: str) -> dict[str, ParamValue]:
    """The parameters of a structured header of a parsed part (``Content-Disposition``), by
    lower-case name, RFC 2231 continuations joined; none when there is no such header."""
    data = header_octets(message, name)
    if data is None:
        return {}
    return parameters(_split_parameters(_FOLD.sub(b"", data)))


def header_octets(message: Message, name: str) -> bytes | None:
    """The first ``name`` header of a parsed part as the bytes it came in, still folded.

    Read from ``raw_items`` because compat32 replaces 8-bit bytes with U+FFFD in ``get``.
    """
    name = name.lower()
    for key, value in message.raw_items():
        if key.lower() == name:
            return octets(str(value))
    return None


def header_text(message: Message, name: str) -> str | None:
    """The first ``name`` header of a parsed part as text, unfolded, 8-bit bytes decoded."""
    data = header_octets(message, name)
    return None if data is None else decode_bytes(_FOLD.sub(b"", data)).strip()


def header_fields(raw: bytes) -> dict[str, str]:
    """The first of each header of raw mail (or of just its header block), unfolded, as text by
    lower-case name; encoded words are left for :func:`decode_words`.

    A regular expression rather than the email package: this runs for every new message. A
    fold becomes a space beside the one that follows it, as it always has here: the key of a
    message without a Message-ID hashes these texts.
    """
    block = _HEADER_END.split(raw, 1)[0].replace(b"\r\n", b"\n")
    fields: dict[str, str] = {}
    for match in _HEADER_LINE.finditer(block):
        name = match.group(1).decode("ascii").lower()
        if name not in fields:
            fields[name] = decode_bytes(match.group(2).replace(b"\n", b" ")).strip()
    return fields


def fingerprint(pieces: Sequence[str]) -> str:
    """A stable hash of identifying header texts, for a message without a Message-ID."""
    return hashlib.sha256("\x00".join(pieces).encode("utf-8", "surrogatepass")).hexdigest()


def octets(text: str) -> bytes:
    """The bytes behind text from a mail parser: compat32's surrogate escapes become the 8-bit
    bytes they stand for, other characters UTF-8; a lone surrogate is unreadable."""
    return _LONE_SURROGATES.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def _decode_word(word: bytes) -> str:
    try:
        [(payload, charset)] = decode_header(word.decode("latin-1"))
    except (HeaderParseError, ValueError):  # base64 that does not decode: show the word as it came
        return decode_bytes(word)
    if not isinstance(payload, bytes):  # not an encoded word after all
        return decode_bytes(word)
    return decode_bytes(payload, charset)


def _is_latin1(text: str) -> bool:
    return all(ord(ch) < 256 or 0xDC80 <= ord(ch) <= 0xDCFF for ch in text)


def _latin1(value: str | bytes) -> str:
    """A value as a string of byte-sized characters, as decode_params expects its octets."""
    return (value if isinstance(value, bytes) else octets(value)).decode("latin-1")


def _split_parameters(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ``name=value`` items after a structured header's first word, still quoted.

    Message.get_params would split them too, but only hands them out RFC 2231-decoded, and
    raises TypeError for ``name*`` beside ``name*0`` (losing every parameter of the header).
    """
    items = _PARAMETER_ITEM.findall(data)
    if not data.lstrip().startswith(b";"):
        items = items[1:]  # the header's own value: ``attachment``, ``application/pdf``
    pairs = []
    for item in items:
        name, equals, value = item.partition(b"=")
        if equals:
            pairs.append((name.strip(), value.strip()))
    return pairs


def _decode_params(pairs: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    if not any("*" in key for key, _value in pairs):
        # No RFC 2231 piece: decode_params would unquote each value, quote it, and _unquote
        # undo that again. Most parts' parameters are so; a message may have hundreds of parts.
        return [(key, email.utils.unquote(value)) for key, value in pairs]
    try:
        decoded = email.utils.decode_params([("", ""), *pairs])
    except TypeError:
        # decode_params sorts the pieces of a value by number and cannot order ``name*`` (no
        # number) beside ``name*0``: keep the numbered pieces, as a mailer would have meant.
        decoded = email.utils.decode_params([("", ""), *_unnumbered(pairs)])
    return [(key, _unquote(value)) for key, value in decoded[1:]]


def _unnumbered(pairs: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    numbered = {key.split("*", 1)[0] for key, _value in pairs if _NUMBERED.fullmatch(key)}
    return [(key, value) for key, value in pairs if not (key.endswith("*") and key[:-1] in numbered)]


def _unquote(value: Any) -> Any:
    # decode_params hands values back quoted, as email.message's own _unquotevalue expects.
    if isinstance(value, tuple):
        return value[0], value[1], email.utils.unquote(value[2])
    return email.utils.unquote(value)


def _by_name(pairs: Iterable[tuple[str, Any]]) -> dict[str, ParamValue]:
    """The first value of each name; an RFC 2231 value wins over a plain one, which mailers
    send beside it as a fallback for old readers."""
    found: dict[str, ParamValue] = {}
    for key, value in pairs:
        name = key.strip().lower()
        if isinstance(value, tuple):
            if not isinstance(found.get(name), tuple):
                charset, language, text = value
                found[name] = (charset or None, language or None, text.encode("latin-1"))
        elif name not in found:
            found[name] = value.encode("latin-1")
    return found
