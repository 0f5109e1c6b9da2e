"""The walk over one message's structure, whatever it was read from (ekpanel.mail.structure says
which two readers there are and how parts are numbered).

The walk has two bounds, keyword arguments of every entry point: parts examined (containers
included) and nesting depth (multiparts and forwarded messages). Beyond one it stops with
:class:`StructureBoundExceeded`, which names the bound; anything that is not a structure at all
is a :class:`StructureError`. Nothing else escapes, whatever the input.

The walk goes twice: first it only counts, reading of each part no more than the bounds need;
only a structure within them has its parts read (names decoded, sizes, dispositions). A message
beyond a bound costs its count, not 500 decoded file names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple

from ekpanel.mail.mailbox import AttachmentPart

# Bounds of the walk over one message. Real mail has a few dozen parts, nested a few levels
# (a forwarded message adds two or three); far beyond that is an attack on the reader.
DEFAULT_MAX_PARTS = 500
DEFAULT_MAX_DEPTH = 32
# Signatures of multipart/signed are not attachments a person sent.
_SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)


class StructureError(ValueError):
    """The structure could not be read at all; the caller records it as the message's parse error."""


class WalkBound(StrEnum):
    """A bound of the walk over one message's structure."""

    PARTS = "parts"  # parts examined, containers included
    DEPTH = "depth"  # containers (multiparts, forwarded messages) within containers


Found = tuple[list[AttachmentPart], bool]  # the parts, and whether the message has attachments


class StructureBoundExceeded(StructureError):
    """The structure is bigger than a bound of the walk: ``bound`` says which, ``limit`` is its
    value, and ``parts`` / ``has_attachments`` are what the walk had found when it stopped
    (the caller decides by the bound; the parts found are not all the message has). Those are
    read only when asked for: the caller deciding by the bound never pays for them."""

    def __init__(
        self, bound: WalkBound, limit: int, found: Callable[[], Found] = lambda: ([], False)
    ) -> None:
        super().__init__(f"the message's structure is beyond the {bound} bound ({limit})")
        self.bound = bound
        self.limit = limit
        self._find = found

    @cached_property
    def _found(self) -> Found:
        return self._find()

    @property
    def parts(self) -> list[AttachmentPart]:
        return self._found[0]

    @property
    def has_attachments(self) -> bool:
        return self._found[1]


class Leaf(NamedTuple):
    """A leaf of a structure, found by the count before anything of it is read."""

    node: Any
    section: str
    forwarded: bool  # inside a forwarded message
    has_body: bool  # a forwarded message whose body the walk looks inside


class Walk:
    """One walk over a message's structure in document order, within its bounds.

    A loop over pending nodes rather than recursion, so no bound is limited by Python's stack.
    Subclasses say how their kind of node is read.
    """

    def __init__(self, max_parts: int, max_depth: int) -> None:
        self.max_parts, self.max_depth = max_parts, max_depth

    def run(self, body: Any) -> Found:
        return self.read(self.outline(body))

    def outline(self, body: Any) -> list[Leaf]:
        """The leaves of the structure in document order, reading of each node only whether it
        is a container and what it contains; beyond a bound, StructureBoundExceeded."""
        leaves: list[Leaf] = []
        # (node, section, inside a forwarded message, depth)
        pending = [(body, self.body_section(body, ""), False, 0)]
        examined = 0
        while pending:
            node, section, forwarded, depth = pending.pop()
            self.check(node, section)
            examined += 1
            if examined > self.max_parts:
                raise self.beyond(WalkBound.PARTS, self.max_parts, leaves)
            if depth > self.max_depth:
                raise self.beyond(WalkBound.DEPTH, self.max_depth, leaves)
            if self.is_multipart(node):
                children = list(enumerate(self.children(node), start=1))
                pending += [
                    (child, join_section(section, n), forwarded, depth + 1) for n, child in reversed(children)
                ]
                continue
            inner = self.inner(node)
            leaves.append(Leaf(node, section, forwarded, inner is not None))
            if inner is not None:
                pending.append((inner, self.body_section(inner, section), True, depth + 1))
        return leaves

    def read(self, leaves: list[Leaf]) -> Found:
        """The parts the leaves are (text bodies and forwarded messages looked inside are not),
        and whether any of them looks attached."""
        parts: list[AttachmentPart] = []
        has_attachments = False
        for leaf in leaves:
            part = self.leaf(leaf)
            # A multipart without a usable boundary is read as one body, like text.
            is_text = part.content_type.startswith(("text/", "multipart/"))
            looks_attached = part.disposition == "attachment" or part.filename or not is_text
            if looks_attached and part.content_type not in _SIGNATURE_TYPES:
                has_attachments = True
            # A forwarded message we can look inside is a container, not a leaf.
            if not is_text and not leaf.has_body:
                parts.append(part)
        return parts, has_attachments

    def body_section(self, body: Any, prefix: str) -> str:
        """Where a message's body is numbered: a multipart's children under the message's own
        section, a single part as its first (RFC 3501 6.4.5)."""
        return prefix if self.is_multipart(body) else join_section(prefix, 1)

    def beyond(self, bound: WalkBound, limit: int, leaves: list[Leaf]) -> StructureBoundExceeded:
        return StructureBoundExceeded(bound, limit, lambda: self.read(leaves))

    def check(self, node: Any, section: str) -> None:
        raise NotImplementedError

    def is_multipart(self, node: Any) -> bool:
        raise NotImplementedError

    def children(self, node: Any) -> Sequence[Any]:
        raise NotImplementedError

    def inner(self, node: Any) -> Any:
        """The body of the message inside a leaf that is a forwarded one; None for any other."""
        raise NotImplementedError

    def leaf(self, leaf: Leaf) -> AttachmentPart:
        """The part a leaf is."""
        raise NotImplementedError


# A forwarded message: the one kind of part whose inside the walk looks at too.
FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})


def join_section(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)


_SECTION = re.compile(r"[0-9]+(\.[0-9]+)*")  # ASCII digits: \d would take any script's too


def is_section(text: str) -> bool:
    """``text`` is a part's section as ``join_section`` writes it ("1", "2.1.3"): a reference read
    back from storage may go into an IMAP command, or pick a part, only then."""
    return _SECTION.fullmatch(text) is not None
