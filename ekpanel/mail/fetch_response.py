"""Reading the FETCH responses of the check: ``{uid: {b"BODYSTRUCTURE": BodyData, ...}}``.

imapclient's response parser lexes byte by byte in Python; on a check of thousands of new
messages half the time went there. :func:`parse_fetch` reads the same responses with one regular
expression and gives the same result. Anything it does not understand raises
:class:`FetchSyntaxError`; :func:`read_fetch` then falls back to imapclient's parser, and raises
FetchSyntaxError only when that cannot read the response either.

What one message's items hold is that message's problem, not the response's: a BODYSTRUCTURE
imapclient's BodyData cannot take stays as it came (the walker turns it into the message's
parse error), an INTERNALDATE that is no date becomes None (the Date header stands in).
A structure far beyond the parts bound is cut (:class:`PartialStructure`) rather than read whole.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response
from imapclient.response_types import BodyData

from ekpanel.mail.structure import (
    is_forwarded_type,
)

_TOKEN = re.compile(
    rb"""[ \t\r\n]*+  # spaces before a token are part of its match: one step less per token
    (?:   (?P<open>\()
        | (?P<close>\))
        | "(?P<quoted>(?:[^"\\]++|\\.)*+)"
        | (?P<literal>~?\{\d+\+?\})$  # ~{n}: a BINARY literal8 (RFC 3516)
        | (?P<atom>[^\s()"{\[\]]+(?:\[[^\]]*\](?:<\d+>)?)?)
        | (?P<junk>.)  # anything else is not IMAP
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
# What _TOKEN reads as spaces, atoms (without a [section]) and quoted strings, and lists of it
# nested a few deep, as possessive patterns (no backtracking): one match skips a run of whole
# parts of a structure. A run of atoms and spaces is one step: a part is a dozen, not thirty.
_PLAIN_TOKEN = rb'[^()"{\[\]\x0b\x0c]++|"(?:[^"\\]++|\\.)*+"'
_LIST = rb"\((?:" + _PLAIN_TOKEN + rb")*+\)"
for _level in range(4):
    _LIST = rb"\((?:" + _PLAIN_TOKEN + rb"|" + _LIST + rb")*+\)"
_WHOLE_ITEMS = re.compile(rb"(?:" + _PLAIN_TOKEN + rb"|" + _LIST + rb")*+", re.DOTALL)


# IMAP numbers are at most 2^64; a longer run of digits is no number (and int() refuses 4300+).
_MAX_DIGITS = 20
# BodyData.create recurses once per nesting level of multiparts, and so does imapclient's parser.
_MAX_NESTING = 100
# A BODYSTRUCTURE is cut once it opens more lists right after a parenthesis than the walk may
# examine parts: a multipart's parts follow each other so, "((" and ")(" (RFC 3501 body-type-mpart),
# and parameters, dispositions and envelopes come after a space. Only addresses in an envelope
# count wrongly, too early; the walk needs the whole only when it finds no more than its bound of
# parts in the cut one (see PartialStructure).
_PART_OPENERS = (ord("("), ord(")"))
_PART_OPENER = re.compile(rb"[()]\(")
# imapclient's parser meets a hostile response with these as well as its own ProtocolError.
_IMAPCLIENT_FAILURES = (
    ProtocolError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,
    KeyError,
    OverflowError,
    RecursionError,
)


class FetchSyntaxError(ProtocolError):
    """A FETCH response that cannot be read; a ProtocolError, as imapclient's parser raises, so
    a caller treats a response neither parser reads as it treats one imapclient refuses."""


class _Cut:
    """Where a cut BODYSTRUCTURE's lists lost the rest of their items (no IMAP value is this)."""

    def __repr__(self) -> str:
        return "<cut>"


CUT = _Cut()


class PartialStructure:
    """A BODYSTRUCTURE too big to build: ``prefix`` is its first lists, every list open at the
    cut ending in :data:`CUT`; :meth:`complete` reads all of it.

    The walk goes through parts in the order they begin, so the walk over ``prefix`` examines
    the same parts as the walk over the whole, in the same order, up to the cut (a part cut
    short examines no fewer items than before the cut, and what follows the cut only adds
    parts after). So when the walk over ``prefix`` stops (a bound, an unreadable part), the
    walk over the whole stops there the same way; only when it ends can it not tell.

    The prefix serves only that count (:func:`check_bodystructure`), so it is a sketch: a list
    that begins with two items which are no forwarded message's media type (a part that holds
    no other, its parameters, an envelope) keeps those two and then :data:`CUT`. The count reads
    of such a list only that it is one, whether it begins with a list, and those two items.
    """

    def __init__(self, prefix: Any, text: bytes, start: int, end: int) -> None:
        self.prefix = prefix
        self._text, self._start, self._end = text, start, end

    def complete(self) -> Any:
        """The whole structure, as :func:`parse_fetch` gives it uncut."""
        response = b"0 (UID 0 BODYSTRUCTURE " + self._text[self._start : self._end] + b")"
        return parse_fetch([response])[0][b"BODYSTRUCTURE"]


def read_fetch(data: list[Any], *, max_parts: int | None = None) -> dict[int, dict[bytes, Any]]:
    """:func:`parse_fetch`, falling back to imapclient's parser for what ours does not read."""
    try:
        return parse_fetch(data, max_parts=max_parts)
    except FetchSyntaxError:
        pass
    try:
        return parse_fetch_response(data, normalise_times=False, uid_is_key=True)
    except _IMAPCLIENT_FAILURES as error:
        detail = f"{type(error).__name__}: {error!s:.200}"
        raise FetchSyntaxError(f"unreadable FETCH response ({detail})") from error


def parse_fetch(data: list[Any], *, max_parts: int | None = None) -> dict[int, dict[bytes, Any]]:
    """``{uid: {item name: value}}`` from the untagged FETCH data of ``imaplib.uid("FETCH", ...)``.

    With ``max_parts``, a BODYSTRUCTURE far bigger than a walk bounded by it examines is only
    built in part: a :class:`PartialStructure` (a message of 10 000 parts is 200 000 tokens).
    """
    cut_after = None if max_parts is None else max_parts + 1
    try:
        return _fields(data, cut_after, sketch=cut_after is not None)
    except _SketchUnfinished:  # a structure sketched before a literal inside it: read again, whole
        return _fields(data, cut_after, sketch=False)


def _fields(data: list[Any], cut_after: int | None, *, sketch: bool) -> dict[int, dict[bytes, Any]]:
    result: dict[int, dict[bytes, Any]] = {}
    for seq, items, deepest in _responses(data, cut_after, sketch=sketch):
        if len(items) % 2:
            raise FetchSyntaxError(f"odd number of items in {reprlib.repr(items)}")
        fields: dict[bytes, Any] = {b"SEQ": seq}
        uid = None
        for index in range(0, len(items), 2):
            name, value = items[index], items[index + 1]
            if not isinstance(name, bytes):
                raise FetchSyntaxError(f"item name {reprlib.repr(name)}")
            name = name.upper()
            if name == b"UID":
                if not isinstance(value, int):
                    raise FetchSyntaxError(f"UID {reprlib.repr(value)}")
                uid = value  # the key, as imapclient keeps it
            elif name == b"INTERNALDATE":
                fields[name] = _internal_date(value)
            elif name == b"BODYSTRUCTURE" and isinstance(value, PartialStructure):
                value.prefix = _body_data(value.prefix, nested_safely=deepest <= _MAX_NESTING)
                fields[name] = value
            elif name == b"BODYSTRUCTURE":
                fields[name] = _body_data(value, nested_safely=deepest <= _MAX_NESTING)
            else:
                fields[name] = value
        if uid is None:
            continue  # an unsolicited update of some message's flags
        result.setdefault(uid, {}).update(fields)
    return result


# INTERNALDATE as servers send it ("24-Nov-2026 01:30:52 +0100", the day maybe space-padded);
# imapclient's general parser, through the email package, costs three times more per message.
_INTERNAL_DATE = re.compile(rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_MONTHS = {
    name: number
    for number, name in enumerate(
        [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"], 1
    )
}


def _body_data(value: Any, *, nested_safely: bool) -> Any:
    """imapclient's BodyData for a BODYSTRUCTURE, as its parser gives it, when BodyData can take
    the value (it indexes, and recurses per level, without looking); else the value as it came."""
    if not isinstance(value, tuple) or not value or not nested_safely:
        return value
    try:
        return BodyData.create(value)
    except (TypeError, IndexError, AttributeError):
        return value


def _internal_date(value: Any) -> datetime | None:
    match = _INTERNAL_DATE.fullmatch(value) if isinstance(value, bytes) else None
    month = _MONTHS.get(match.group(2).lower()) if match else None
    if month is None:
        return _any_internal_date(value)
    day, _month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes))
    try:
        return datetime(
            int(year),
            month,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == b"-" else offset),
        )
    except ValueError:  # 31-Feb and the like: let the general parser decide
        return _any_internal_date(value)


def _any_internal_date(value: Any) -> datetime | None:
    if not isinstance(value, bytes):
        return None
    try:
        return parse_to_datetime(value, normalise=False)
    except (ValueError, TypeError, IndexError, OverflowError):  # no date: the Date header stands in
        return None


class _SketchUnfinished(Exception):
    """A sketched structure goes on past its chunk (a literal in it): it cannot be read whole."""


def _responses(
    data: list[Any], cut_after: int | None = None, *, sketch: bool = False
) -> Iterator[tuple[int, list[Any], int]]:
    """(sequence number, top-level items, deepest nesting) per ``* n FETCH (...)`` response, from
    imaplib's chunks: text, or (text ending in a literal marker, the literal's bytes).

    One loop over the tokens of every chunk, building the nested tuples as it goes: a message
    with 10 000 parts is 200 000 tokens, and a generator per stage doubled their cost. With
    ``cut_after``, a BODYSTRUCTURE that opens more lists than that right after a parenthesis
    (as parts of a multipart are) becomes a PartialStructure. With ``sketch`` too, one that
    has that many ahead of it is sketched as it is read (see PartialStructure), and read again
    whole when it ends before the cut after all.
    """
    stack: list[list[Any]] = []
    seq: int | None = None
    deepest = 0
    for chunk in data:
        if chunk is None:
            continue
        text, literal = chunk if isinstance(chunk, tuple) and len(chunk) == 2 else (chunk, None)
        if not isinstance(text, bytes) or not isinstance(literal, (bytes, type(None))):
            raise FetchSyntaxError(f"a chunk that is not bytes: {reprlib.repr(chunk)}")
        structure: tuple[int, int] | None = None  # (where the BODYSTRUCTURE began, parts opened)
        sketching = False
        resume: int | None = 0
        while resume is not None:
            tokens, resume = _TOKEN.finditer(text, resume), None
            for match in tokens:
                kind = match.lastgroup
                if kind == "open":
                    if structure is not None:
                        if text[match.start(kind) - 1] in _PART_OPENERS:
                            structure = (structure[0], structure[1] + 1)
                    elif cut_after is not None and _starts_structure(stack):
                        structure = (match.start(kind), 1)
                        sketching = sketch and _parts_ahead(text, match.start(kind), cut_after)
                    stack.append([])
                    if len(stack) > deepest:
                        deepest = len(stack)
                    if structure is not None and structure[1] > cut_after:
                        resume = _cut_structure(stack, text, structure[0], match.end())
                        if resume is not None:
                            structure, sketching = None, False
                            break
                        if sketching:  # sketched lists cannot be read on
                            raise _SketchUnfinished
                        structure, cut_after = None, None  # unbalanced: read on, and let the reading say so
                    continue
                if kind == "close":
                    if not stack:
                        raise FetchSyntaxError("unbalanced parenthesis")
                    done = tuple(stack.pop())
                    if len(stack) == 1:
                        if sketching:  # it ended before the cut after all: read it whole
                            done, nested = _whole_structure(text[structure[0] : match.end()])
                            deepest = max(deepest, nested)
                        structure, sketching = None, False
                    if stack:
                        stack[-1].append(done)
                        continue
                    if seq is None:
                        raise FetchSyntaxError("a response without a sequence number")
                    yield seq, list(done), deepest
                    seq, deepest = None, 0
                    continue
                # The two kinds of nearly every value, read here rather than in a call per token.
                if kind == "quoted":
                    value = match.group(kind)
                    if b"\\" in value:
                        value = _ESCAPE.sub(rb"\1", value)
                elif kind == "atom":
                    value = match.group(kind)
                    if value.isdigit() and len(value) <= _MAX_DIGITS:
                        value = int(value)
                    elif value.upper() == b"NIL":
                        value = None
                elif kind == "literal":
                    if literal is None:
                        raise FetchSyntaxError("literal marker without a literal")
                    value, literal = literal, None
                else:
                    raise FetchSyntaxError(
                        f"cannot read {text[match.start(kind) : match.start(kind) + 40]!r}"
                    )
                if stack:
                    items = stack[-1]
                    items.append(value)
                    if sketching and len(items) == 2 and not isinstance(items[0], tuple):
                        resume = _skip_to_close(text, match.end(), items)
                        if resume is not None:
                            break
                elif seq is None and isinstance(value, int):
                    seq = value
                elif value != b"FETCH" or seq is None:  # imaplib keeps "FETCH" out; be lenient
                    raise FetchSyntaxError(f"unexpected {reprlib.repr(value)} between responses")
        if sketching:
            raise _SketchUnfinished
        if literal is not None:
            raise FetchSyntaxError("a literal that no marker asked for")
    if stack or seq is not None:
        raise FetchSyntaxError("truncated response")


def _parts_ahead(text: bytes, position: int, count: int) -> bool:
    """Whether ``text`` opens at least ``count`` lists right after a parenthesis from ``position``
    on (quoted strings not told apart: more is only a sketch read again)."""
    return any(seen >= count for seen, _match in enumerate(_PART_OPENER.finditer(text, position), 1))


def _skip_to_close(text: bytes, position: int, items: list[Any]) -> int | None:
    """For a list being sketched whose two first ``items`` were just read: where its closing
    parenthesis is, :data:`CUT` added to ``items``; None, adding nothing, when it is to be read
    on (it may be a forwarded message, or what follows is not whole lists and plain tokens)."""
    if is_forwarded_type(items[0], items[1]):
        return None
    end = _WHOLE_ITEMS.match(text, position).end()
    if text[end : end + 1] != b")":
        return None
    items.append(CUT)
    return end


def _whole_structure(text: bytes) -> tuple[Any, int]:
    """The structure ``text`` (from its opening to its closing parenthesis) read whole, and how
    deep its lists go, counted as in its response."""
    _seq, items, deepest = next(_responses([b"0 (BODYSTRUCTURE " + text + b")"]))
    return items[1], deepest


def _starts_structure(stack: list[list[Any]]) -> bool:
    """Whether a list opened now is the value of a response's BODYSTRUCTURE item."""
    if len(stack) != 1 or len(stack[0]) % 2 == 0:
        return False
    name = stack[0][-1]
    return isinstance(name, bytes) and name.upper() == b"BODYSTRUCTURE"


def _cut_structure(stack: list[list[Any]], text: bytes, start: int, position: int) -> int | None:
    """Close the BODYSTRUCTURE being built (begun at ``start``) into a PartialStructure, and
    return where it ends in ``text``; None, building nothing, when it does not end there."""
    open_lists = len(stack) - 1
    while open_lists:
        position = _WHOLE_ITEMS.match(text, position).end()
        parenthesis = text[position : position + 1]
        if parenthesis not in (b"(", b")"):
            return None  # the end of the text, or what _TOKEN would not read
        open_lists += 1 if parenthesis == b"(" else -1
        position += 1
    while len(stack) > 1:
        done = tuple([*stack.pop(), CUT])
        stack[-1].append(done)
    stack[0][-1] = PartialStructure(stack[0][-1], text, start, position)
    return position
