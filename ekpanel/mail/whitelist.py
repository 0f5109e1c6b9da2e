"""The sender whitelist: which *From* addresses may deliver documents.

An entry is an address (``faktury@firma.pl``) or a pattern in which ``*`` stands for any run of
characters (``*@helpoffice.pl``, ``faktury*@*.pl``). Nothing else is special: ``?`` and ``[``
are ordinary characters, unlike in shell globs. A bare ``*`` is accepted and stored as ``*@*``
(everyone). Entries are stored normalised: trimmed, lower-case, the domain in Unicode
(``xn--`` labels decoded), so ``faktury@mächine.example`` and ``faktury@xn--mchine-hra.example``
are the same entry and admit the same senders.

A ``*`` never crosses the ``@``: local part and domain are matched separately, at the address's
last ``@``, so a quoted local part such as ``"faktury@firma.pl"@evil.example`` cannot pass for
``faktury@firma.pl``.

A sender is admitted only when its *From* names exactly one address (:func:`read_sender`): a
From showing two, or a group, is ambiguous and admitted by no entry, not even ``*@*``.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ekpanel.mail.headers import decode_bytes

# RFC 5321's limit for an address; a longer entry is a paste gone wrong (and costs the matcher).
MAX_ENTRY_LENGTH = 254
# A From value longer than this is not a mailbox anyone writes; the address parsers take time
# that grows faster than its length, so it is not read at all.
MAX_FROM_LENGTH = 2000

_SEPARATORS = re.compile(r"[\s,;]+")
# "Jan Kowalski <jan@firma.pl>", as a mail client copies a recipient: the address is in brackets, the
# display name runs back to the previous comma, semicolon or line break (a quoted name may hold them).
_BRACKETED = re.compile(r"<([^<>\n]*)>")
_ITEMS = re.compile(r"[,;\n]+")
# Printable characters that cannot start or end an address in a list; ``[`` and ``?`` are allowed.
_ENTRY_LOCAL_PART = re.compile(r'[^\s@,;<>()"\\\x00-\x1f\x7f]+')
_ENTRY_DOMAIN = re.compile(r"[\w*-]+(?:\.[\w*-]+)*")
# ``jan@firma.pl`` or ``Name <jan@firma.pl>`` with no quotes, commas, groups or second address.
_SIMPLE_FROM = re.compile(
    r'(?P<bare>[^\s<>"(),;:@\\]+@[^\s<>"(),;:@\\]+)'
    r'|[^"<>,;:@\\]*<\s*(?P<angled>[^\s<>"(),;:@\\]+@[^\s<>"(),;:@\\]+)\s*>'
)
# A From value's tokens; every character belongs to one. An unclosed quote, comment or angle
# bracket runs to the end (nested comments read as more text, which can only add addresses).
_FROM_TOKEN = re.compile(
    r"""(?P<quoted>"(?:[^"\\]|\\.)*(?P<quote_end>")?)
      | (?P<comment>\((?:[^()\\]|\\.)*(?P<comment_end>\))?)
      | (?P<angle><[^<>]*>?)
      | (?P<space>\s+)
      | (?P<colon>:)
      | (?P<separator>[,;>)])
      | (?P<text>[^\s"(<>,;:)]+)""",
    re.VERBOSE | re.DOTALL,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_entries(text: str) -> tuple[list[str], list[str]]:
    """Split the form's text into (normalised unique entries, invalid entries as typed).

    Entries are separated by newlines, commas, semicolons or spaces; order is kept. A recipient
    pasted from a mail client, ``Jan Kowalski <jan@firma.pl>``, is its address.
    """
    entries: dict[str, None] = {}  # a dict keeps the order and finds duplicates in one step
    invalid: dict[str, None] = {}
    for token in _SEPARATORS.split(_without_display_names(text or "")):
        if not token:
            continue
        entry = normalise_entry(token)
        if entry is None:
            invalid[token] = None
        else:
            entries[entry] = None
    return list(entries), list(invalid)


def invalid_entry_has_spaces(text: str, invalid: Iterable[str]) -> bool:
    """Whether an invalid fragment is only spaces away from another one, as in ``faktury dostawca.pl``:
    probably one entry with a space typed into it, which the form should point out."""
    invalid = set(invalid)
    for item in _ITEMS.split(_without_display_names(text or "")):
        words = item.split()
        if len(words) > 1 and invalid.intersection(words):
            return True
    return False


def _without_display_names(text: str) -> str:
    """The text with each ``Display Name <address>`` replaced by the address.

    Address-like words of the name are kept as entries of their own: in ``jan@a.pl ewa@b.pl <c@d.pl>``
    they were typed as a list, not a name, and an entry must not vanish unseen. One pass over the
    text (no regular expression that backtracks: the form takes whatever is pasted).
    """
    parts: list[str] = []
    position = 0
    for match in _BRACKETED.finditer(text):
        before = text[position : match.start()]
        name_starts = _after_last_separator(before)
        kept = [word.strip("\"'") for word in before[name_starts:].split() if "@" in word]
        parts += [before[:name_starts], " ".join([*kept, match.group(1).strip()]), " "]
        position = match.end()
    parts.append(text[position:])
    return "".join(parts)


def _after_last_separator(segment: str) -> int:
    """Where the last item of ``segment`` begins: after its last comma, semicolon or line break
    outside double quotes (a line break ends any quote)."""
    start, quoted = 0, False
    for index, char in enumerate(segment):
        if char == '"':
            quoted = not quoted
        elif char == "\n" or (char in ",;" and not quoted):
            start, quoted = index + 1, False
    return start


def normalise_entry(entry: str) -> str | None:
    """The stored form of one entry, or None when it is neither an address nor a pattern."""
    text = entry.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if _collapse_stars(text) == "*":
        return "*@*"
    if len(text) > MAX_ENTRY_LENGTH or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    local = _collapse_stars(_normalise_local(local))
    domain = _collapse_stars(_normalise_domain(domain.rstrip(".")))
    if not _ENTRY_LOCAL_PART.fullmatch(local) or not _ENTRY_DOMAIN.fullmatch(domain):
        return None
    # ``jan@firma`` is almost always a typo; a pattern may still leave the dot to ``*``.
    if "." not in domain and "*" not in domain:
        return None
    return f"{local}@{domain}"


class SenderProblem(StrEnum):
    """Why a *From* header names no single sender."""

    MISSING = "missing"  # no From header, or an empty one
    UNREADABLE = "unreadable"  # no address in it (``Jan Kowalski``, ``<>``), or garbled or too long
    AMBIGUOUS = "ambiguous"  # more than one address, or a group: which one sent it is a guess


@dataclass(frozen=True)
class Sender:
    """Who a *From* header says sent the message: one address, or why there is not one."""

    address: str | None  # the addr-spec, case kept as written; None exactly when there is a problem
    problem: SenderProblem | None = None


def read_sender(from_value: str | bytes | None) -> Sender:
    """The one address of a *From* header value (display names, comments, encoded words), or
    the problem that there is not one.

    Every address-like word counts, wherever it stands (a display name ``faktury@firma.pl``
    beside ``<evil@example.com>``, a second mailbox after a comma, in angle brackets or not), and
    two different ones make the sender ambiguous: mail clients show one, SMTP used another, and
    a whitelist must not pick the one it likes. Quoted display names and comments are not
    addresses (``"Kowalski, Jan" <jan@firma.pl>`` is one mailbox), and group syntax
    (``Faktury: a@firma.pl;``) is ambiguous whatever its members: From is a list of mailboxes.
    The email package's parser is not used: it drops whatever follows a first mailbox it can
    read (``faktury@firma.pl <evil@example.com>`` gives faktury@firma.pl, with a defect).
    """
    if from_value is None:
        return Sender(None, SenderProblem.MISSING)
    if isinstance(from_value, bytes):
        from_value = decode_bytes(from_value)
    # A control character ends a word as a space does (a mail client may cut the text at a NUL).
    value = " ".join(_CONTROL.sub(" ", from_value).split())
    if not value:
        return Sender(None, SenderProblem.MISSING)
    if len(value) > MAX_FROM_LENGTH:
        return Sender(None, SenderProblem.UNREADABLE)
    simple = _SIMPLE_FROM.fullmatch(value)
    if simple:  # most mail, read without the word-by-word pass (this runs for every message)
        return Sender(simple.group("bare") or simple.group("angled"))
    addresses = _addresses_in(value)
    if addresses is None:
        return Sender(None, SenderProblem.AMBIGUOUS)
    distinct = {address.lower() for address in addresses}
    if len(distinct) > 1:
        return Sender(None, SenderProblem.AMBIGUOUS)
    if not distinct:
        return Sender(None, SenderProblem.UNREADABLE)
    return Sender(addresses[0])


def sender_address(from_value: str | bytes | None) -> str | None:
    """The one address of a *From* header value, or None (see :func:`read_sender` for why)."""
    return read_sender(from_value).address


def _addresses_in(value: str) -> list[str] | None:
    """The address-like words of a From value in order; None when it is no list of mailboxes:
    group syntax, or a quote or comment left open with an ``@`` in it (another reader may end it
    sooner and find an address there).

    An address-like word has an ``@`` outside quotes with something on both sides; a quoted
    string joins the word it touches (``"jan kowalski"@firma.pl``); comments are skipped.
    """
    addresses: list[str] = []
    word: list[str] = []
    at_outside_quotes = False
    for match in _FROM_TOKEN.finditer(value):
        kind, text = match.lastgroup, match.group()
        unclosed = (kind == "quoted" and not match.group("quote_end")) or (
            kind == "comment" and not match.group("comment_end")
        )
        if (unclosed and "@" in text) or kind == "colon":
            return None
        if kind in ("quoted", "text"):
            word.append(text)
            at_outside_quotes = at_outside_quotes or (kind == "text" and "@" in text)
            continue
        if at_outside_quotes:
            addresses.append("".join(word))
        word, at_outside_quotes = [], False
        if kind == "angle":
            inside = text[1:].removesuffix(">").strip()
            # An obsolete source route (``<@relay:jan@firma.pl>``) is not part of the address.
            addresses.append(inside.split(":", 1)[1] if inside.startswith("@") and ":" in inside else inside)
    if at_outside_quotes:
        addresses.append("".join(word))
    return [address for address in addresses if _has_both_sides(address)]


def _has_both_sides(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local.strip() and domain.strip())


class SenderWhitelist:
    """The entries of one mail server, ready to decide about senders."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        # Stored entries are validated by the form; one that is not is ignored, not fatal.
        normalised = (normalise_entry(typed) for typed in entries)
        self._entries = tuple(dict.fromkeys(entry for entry in normalised if entry))
        self._patterns = [
            (entry, _Glob(entry.rpartition("@")[0]), _Glob(entry.rpartition("@")[2]))
            for entry in self._entries
        ]

    @property
    def entries(self) -> tuple[str, ...]:
        return self._entries

    def admits(self, address: str | None) -> bool:
        """Whether mail from ``address`` (an addr-spec or a whole *From* value) may be taken; never
        for a From without exactly one address."""
        return bool(self.matching_entries(address))

    def matching_entries(self, address: str | None) -> list[str]:
        """The entries that admit ``address``, for the check's log."""
        split = _split_address(address)
        if split is None:
            return []
        local, domain = split
        return [
            entry
            for entry, local_glob, domain_glob in self._patterns
            if local_glob.matches(local) and domain_glob.matches(domain)
        ]

    def __repr__(self) -> str:
        return f"SenderWhitelist({list(self._entries)!r})"


def entries_overlap(a: str, b: str) -> bool:
    """Whether some address is admitted by both entries (for the collision warning).

    An entry that is not valid admits nobody, so it overlaps nothing.
    """
    first, second = normalise_entry(a), normalise_entry(b)
    if first is None or second is None:
        return False
    local_a, _, domain_a = first.rpartition("@")
    local_b, _, domain_b = second.rpartition("@")
    return _globs_intersect(local_a, local_b) and _globs_intersect(domain_a, domain_b)


def _globs_intersect(p: str, q: str) -> bool:
    """Whether two ``*``-patterns match a common string.

    A search over pairs of positions (i in p, j in q): a ``*`` may end (skip it) or swallow the
    next character the other pattern produces, literal or ``*``; two literals must agree.
    Linear in the number of position pairs, with no recursion.
    """
    n, m = len(p), len(q)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == n and j == m:
            return True
        pi = p[i] if i < n else None
        qj = q[j] if j < m else None
        if pi == "*":
            stack.append((i + 1, j))
            if qj is not None:
                stack.append((i, j + 1))
        if qj == "*":
            stack.append((i, j + 1))
            if pi is not None:
                stack.append((i + 1, j))
        if pi is not None and pi != "*" and pi == qj:
            stack.append((i + 1, j + 1))
    return False


class _Glob:
    """A ``*``-pattern of a normalised entry, matched against normalised text.

    Only ``*`` is a wildcard. The literal pieces between stars are found left to right with
    ``str.find``: for star-only patterns the leftmost place of each piece is always a right one,
    so there is no backtracking (a regular expression ``.*a.*a.*a`` against a long run of ``a``
    from a hostile From takes exponential time).
    """

    def __init__(self, pattern: str) -> None:
        self._pieces = pattern.split("*")

    def matches(self, text: str) -> bool:
        if len(self._pieces) == 1:
            return text == self._pieces[0]
        first, *middle, last = self._pieces
        end = len(text) - len(last)
        if end < len(first) or not text.startswith(first) or not text.endswith(last):
            return False
        position = len(first)
        for piece in middle:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


def _split_address(address: str | None) -> tuple[str, str] | None:
    spec = sender_address(address)
    if not spec or "@" not in spec:
        return None
    local, _, domain = spec.rpartition("@")
    if not local or not domain:
        return None
    return _normalise_local(local), _normalise_domain(domain.rstrip("."))


def _normalise_local(local: str) -> str:
    return unicodedata.normalize("NFC", local.strip()).lower()


def _normalise_domain(domain: str) -> str:
    """Lower-case Unicode, with ``xn--`` labels decoded; a label that will not decode stays as is."""
    labels = []
    for label in domain.strip().split("."):
        if label[:4].lower() == "xn--" and "*" not in label:
            with contextlib.suppress(UnicodeError):  # not punycode after all: compare it as typed
                label = label.lower().encode("ascii").decode("idna")
        labels.append(unicodedata.normalize("NFC", label).lower())
    return ".".join(labels)


def _collapse_stars(text: str) -> str:
    return re.sub(r"\*{2,}", "*", text)
