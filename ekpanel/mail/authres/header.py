"""Reading one Authentication-Results header field (RFC 8601) into its results.

A field names the server that checked the message (the *authserv-id*) and lists what it found,
one result per method::

    mx.google.com; dkim=pass header.i=@firma.pl header.s=s1 header.b=Ab+1/c;
        spf=pass (google.com: domain of faktury@firma.pl designates 192.0.2.1 as permitted sender)
        smtp.mailfrom=faktury@firma.pl; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=firma.pl

What is read (RFC 8601 section 2.2, with the liberties real servers take):

- ``[authserv-id [version]] *(";" resinfo) [";"]``; ``; none`` means "no results".
- ``resinfo = method["/"version] "=" result *(key "=" value)``. A key is ``ptype.property``
  (``header.d``, ``smtp.mailfrom``), ``reason``, or another keyword: Exchange Online writes
  ``action=none`` and ``compauth=pass reason=100``.
- A value is a quoted string or a run of characters up to white space, ``;`` or a comment. ``=``,
  ``/`` and ``@`` may stand inside it: Gmail writes ``header.b=Ab+1/c`` unquoted, and
  ``smtp.mailfrom="a b"@firma.pl`` has a quoted local part.
- Comments, nested, with quoted pairs, may stand between any two items, as in RFC 5322. They are
  kept per result for display (OpenDKIM's ``(2048-bit key; unprotected)``, Microsoft's
  ``(sender IP is 192.0.2.1)``), with RFC 2047 encoded words decoded.
- No authserv-id at all: Exchange Online's field opens with ``spf=...``. Such a field is read with
  ``authserv_id=None``; whose it is, is the caller's decision (see ``verdict``).
- Line breaks of folded fields count as white space.

What is refused (``AuthResError``): an unterminated comment or quoted string, comments nested
deeper than ``MAX_COMMENT_DEPTH``, a result or a key without ``=``, a method or result that is not
a keyword, a key given twice in one result, and a field longer than ``MAX_FIELD_CHARS``. The whole
field is refused, never a part of it: a field read in part could lose the ``fail`` that mattered.
The two limits keep the work per field small whatever a sender writes (``bench/authres_parse.py``).

Encoded words are decoded in comments only. Values are partly the sender's text (the local part
of ``smtp.mailfrom`` may be ``=?utf-8?q?=3Bdmarc=3Dpass?=``, a valid atom); decoding them before
parsing would let a sender write structure into the receiving server's verdict.

Why not the ``authres`` package (PyPI, 1.2.0 from 2019): it refuses Exchange Online's field
(``Expected "none" or at least one resinfo``), the one Microsoft 365 mailboxes carry, and its
errors are its own ``SyntaxError`` class shadowing the builtin. The grammar above is small enough
to own, and the scanner below takes time linear in the field's length.
"""

from __future__ import annotations

import email.header
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Our own server's field is a few hundred characters; anything this long is not a server's verdict.
MAX_FIELD_CHARS = 16_384
# Real comments nest once or twice ("(policy=reject)", Gmail's "(i=1 ...)").
MAX_COMMENT_DEPTH = 8

# Runs the scanner takes in one step (none of them can backtrack):
_BLANKS = re.compile(r"[ \t\r\n]*")
_RESULT_SEPARATORS = re.compile(r"[ \t\r\n;]*")  # ";" with empty items between
_WORD = re.compile(r'[^ \t\r\n()";=\\]*')  # a method, result, key or authserv-id
_VALUE = re.compile(r'[^ \t\r\n();"\\]*')  # an unquoted value: may hold "=", "/" and "@"
_COMMENT_TEXT = re.compile(r"(?:[^()\\]|\\.)*", re.DOTALL)
_QUOTED_TEXT = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_KEYWORD = re.compile(r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?")
_KEY = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_VERSION = re.compile(r"[0-9]+")


class AuthResError(ValueError):
    """A field that cannot be read as Authentication-Results.

    ``authserv_id`` is the field's authserv-id when the error came after it was read;
    ``has_authserv_id`` is True or False once that was known, None when the field broke before.
    """

    def __init__(self, message: str, *, authserv_id: str | None = None, has_authserv_id: bool | None = None):
        super().__init__(message)
        self.authserv_id = authserv_id
        self.has_authserv_id = has_authserv_id


@dataclass(frozen=True)
class MethodResult:
    """One ``method=result`` with its keys, e.g. dkim=pass with header.d=firma.pl."""

    method: str
    result: str
    # Lower-case keys as written: "header.d", "smtp.mailfrom", "reason", "action".
    properties: Mapping[str, str] = field(default_factory=dict, hash=False)
    comment: str = ""

    def get(self, key: str) -> str | None:
        return self.properties.get(key)


@dataclass(frozen=True)
class AuthenticationResults:
    """One field: who checked (None when the field names nobody) and what it found."""

    authserv_id: str | None
    results: tuple[MethodResult, ...]

    def methods(self) -> set[str]:
        return {result.method for result in self.results}


def normalise_authserv_id(value: str) -> str:
    """The form in which authserv-ids are compared: trimmed, lower-case, no trailing dot."""
    return value.strip().rstrip(".").lower()


def parse_header(value: str) -> AuthenticationResults:
    """Read one Authentication-Results field value (without the ``Authentication-Results:`` name)."""
    scanner = _Scanner(value)
    authserv_id = _authserv_id(scanner)
    try:
        return AuthenticationResults(authserv_id, _results(scanner))
    except AuthResError as error:
        named = authserv_id is not None
        raise AuthResError(str(error), authserv_id=authserv_id, has_authserv_id=named) from None


def read_authserv_id(value: str) -> str | None:
    """Only the field's authserv-id (None when it has none), without reading its results: how
    fields that are not ours are passed over cheaply."""
    return _authserv_id(_Scanner(value))


def _authserv_id(scanner: _Scanner) -> str | None:
    """The authserv-id and the ``;`` after it; None, with nothing consumed, when the field opens
    with a result (Exchange Online)."""
    scanner.skip_blanks()
    if scanner.at_end():
        raise AuthResError("empty field")
    start = scanner.position
    word = scanner.quoted() if scanner.peek() == '"' else scanner.run(_WORD)
    scanner.skip_blanks()
    if word and scanner.peek() == "=" and scanner.text[start] != '"':
        scanner.position = start  # "spf=pass ...": no authserv-id
        scanner.comments = []
        return None
    authserv_id = normalise_authserv_id(word)
    if not authserv_id:
        raise AuthResError("no authserv-id")
    if scanner.peek().isdigit() and not _VERSION.fullmatch(scanner.run(_WORD)):
        raise AuthResError("bad version after the authserv-id", authserv_id=authserv_id, has_authserv_id=True)
    scanner.skip_blanks()
    if not (scanner.at_end() or scanner.peek() == ";"):
        raise AuthResError("text after the authserv-id", authserv_id=authserv_id, has_authserv_id=True)
    return authserv_id


def _results(scanner: _Scanner) -> tuple[MethodResult, ...]:
    results: list[MethodResult] = []
    first = True
    while True:
        scanner.skip_blanks()
        if scanner.at_end():
            return tuple(results)
        if scanner.peek() == ";":
            scanner.run(_RESULT_SEPARATORS)
        elif not first:
            raise AuthResError("expected ';' between results")
        first = False
        scanner.comments = []
        scanner.skip_blanks()
        if scanner.at_end() or scanner.peek() == ";":
            continue  # an empty item, e.g. after a trailing ";"
        result = _method_result(scanner)
        if result is not None:
            results.append(result)


def _method_result(scanner: _Scanner) -> MethodResult | None:
    """One ``method=result key=value ...`` up to the next ``;``; None for ``none``."""
    method = scanner.run(_WORD).lower()
    scanner.skip_blanks()
    if method == "none" and (scanner.at_end() or scanner.peek() == ";"):
        return None
    method = method.partition("/")[0]  # "dkim/1": the method's version says nothing we use
    if not _KEYWORD.fullmatch(method):
        raise AuthResError("a result must start with a method name")
    scanner.expect("=")
    scanner.skip_blanks()
    outcome = scanner.run(_WORD).lower()
    if not _KEYWORD.fullmatch(outcome):
        raise AuthResError(f"no result after {method}=")
    properties: dict[str, str] = {}
    while True:
        scanner.skip_blanks()
        if scanner.at_end() or scanner.peek() == ";":
            break
        key = scanner.run(_WORD).lower()
        if not _KEY.fullmatch(key):
            raise AuthResError(f"unexpected text in the {method} result")
        scanner.skip_blanks()
        scanner.expect("=")
        scanner.skip_blanks()
        if key in properties:
            raise AuthResError(f"{key} given twice in the {method} result")
        properties[key] = scanner.value()
    comment = " ".join(_decoded(text) for text in scanner.comments)
    return MethodResult(method, outcome, properties, comment)


def _decoded(comment: str) -> str:
    """A comment with its RFC 2047 encoded words decoded, for display; as written when they are broken."""
    if "=?" not in comment:
        return comment
    try:
        return str(email.header.make_header(email.header.decode_header(comment)))
    except Exception:  # only display text depends on it: any broken encoding is shown as written
        return comment


class _Scanner:
    """One pass over the text, in runs matched by the patterns above; every step moves forward or
    raises, so the time is linear in the length, which is capped."""

    def __init__(self, text: str):
        if len(text) > MAX_FIELD_CHARS:
            raise AuthResError(f"longer than {MAX_FIELD_CHARS} characters")
        self.text = text
        self.position = 0
        self.comments: list[str] = []

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def peek(self) -> str:
        return self.text[self.position : self.position + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise AuthResError(f"expected {char!r}")
        self.position += 1

    def run(self, pattern: re.Pattern[str]) -> str:
        match = pattern.match(self.text, self.position)
        self.position = match.end()
        return match.group()

    def skip_blanks(self) -> None:
        """White space and comments; comments are kept in ``self.comments``."""
        self.run(_BLANKS)
        while self.peek() == "(":
            self.comments.append(self._comment())
            self.run(_BLANKS)

    def _comment(self) -> str:
        """A comment starting at the current ``(``, nested ones kept with their parentheses."""
        depth, parts = 0, []
        while True:
            char = self.peek()
            self.position += 1
            if char == "(":
                depth += 1
                if depth > MAX_COMMENT_DEPTH:
                    raise AuthResError("comments nested too deeply")
            elif char == ")":
                depth -= 1
            else:  # the end, or a lone "\" before it
                raise AuthResError("unterminated comment")
            if depth == 0:
                return " ".join(_QUOTED_PAIR.sub(r"\1", "".join(parts)).split())
            if char == ")" or depth > 1:
                parts.append(char)
            parts.append(self.run(_COMMENT_TEXT))

    def quoted(self) -> str:
        """A quoted string starting at the current ``"``, without its quotes and escapes."""
        self.position += 1
        text = self.run(_QUOTED_TEXT)
        if self.peek() != '"':
            raise AuthResError("unterminated quoted string")
        self.position += 1
        return _QUOTED_PAIR.sub(r"\1", text)

    def value(self) -> str:
        if self.peek() != '"':
            return self.run(_VALUE)
        start = self.position
        text = self.quoted()
        if self.peek() == "@":  # a quoted local part: keep the address as written
            return self.text[start : self.position] + self.run(_VALUE)
        return text
