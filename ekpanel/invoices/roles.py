"""Whose NIP is it: the seller's or the buyer's, where the layout says so.

Two ways an invoice says it:
- in words before the number on its own line and cell: "NIP sprzedawcy: …", "Nabywca: Beta,
  NIP …";
- by a heading above it: "Sprzedawca" / "Nabywca" (or "Wystawca", "Dostawca" / "Odbiorca")
  heading a block, the blocks stacked or side by side. The heading that counts is the nearest
  one above the number within the heading's column, which runs from the heading to the next
  heading on its row. That reads side-by-side blocks right whatever order the PDF wrote them in.

Other parties' headings ("Podmiot trzeci", "Płatnik", …) close a block too, and give no role:
a NIP under them is no one's in particular. A NIP with no heading near enough above it gets no
role either.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ekpanel.invoices.details import Role
from ekpanel.invoices.text import Segment, TextLayer

_SELLER = r"sprzedawc[aey]|sprzedając[yego]*|wystawc[aey]|dostawc[aey]"
_BUYER = r"nabywc[aey]|kupując[yego]*"
_RECIPIENT = r"odbiorc[aey]"
_OTHER = r"podmiot\s+(?:trzeci|upoważniony|inny)|płatnik|faktor|jednostka\s+podrzędna"
_WORDS = re.compile(
    rf"\b(?:(?P<seller>{_SELLER})|(?P<buyer>{_BUYER})|(?P<recipient>{_RECIPIENT})|(?P<other>{_OTHER}))\b",
    re.IGNORECASE,
)
# A heading is a segment that starts with the word, alone or followed by ":", "/" (a translation)
# or "(": "Sprzedawca zastrzega sobie…" in the small print is no heading.
_HEADING = re.compile(rf"^\s*(?:dane\s+)?{_WORDS.pattern}\s*(?:$|[:/(])", re.IGNORECASE)
# How far below its heading a block's NIP may stand (points): a dozen lines.
MAX_BLOCK_HEIGHT = 200.0
# An invoice has a handful of headings; a text with more is no layout to read roles from.
MAX_HEADINGS = 100


@dataclass(frozen=True)
class Heading:
    segment: Segment
    role: Role | None
    words: str


def _role_of(match: re.Match, recipient_role: Role) -> Role | None:
    if match["seller"]:
        return Role.SELLER
    if match["buyer"]:
        return Role.BUYER
    if match["recipient"]:
        return recipient_role
    return None


class RoleReader:
    def __init__(self, layer: TextLayer):
        self.layer = layer
        # "Odbiorca" is the buyer on invoices that name no "Nabywca"; beside one, someone else.
        has_buyer = any(match["buyer"] for match in _WORDS.finditer(layer.text))
        self.recipient_role = Role.RECIPIENT if has_buyer else Role.BUYER
        headings = []
        for placed in layer.placed:
            match = _HEADING.match(placed.segment.text)
            if match:
                role = _role_of(match, self.recipient_role)
                headings.append(Heading(placed.segment, role, match.group().strip(" :/(")))
        if len(headings) > MAX_HEADINGS:
            headings = []
        headings.sort(key=lambda heading: (heading.segment.page, heading.segment.top))
        self.headings = headings
        self._keys = [(heading.segment.page, heading.segment.top) for heading in headings]
        self._column_ends = [self._column_end(index) for index in range(len(headings))]

    def role_at(self, start: int, end: int) -> tuple[Role | None, str]:
        """The role of the party whose number is at ``start:end`` and the words that say so."""
        placed = self.layer.segment_at(start)
        if placed is None:
            return None, ""
        words = list(_WORDS.finditer(placed.segment.text, 0, start - placed.start))
        if words:
            return _role_of(words[-1], self.recipient_role), words[-1].group()
        heading = self._heading_above(placed.segment, start - placed.start, end - placed.start)
        if heading is None:
            return None, ""
        return heading.role, heading.words if heading.role else ""

    def _heading_above(self, segment: Segment, start: int, end: int) -> Heading | None:
        # Where the number stands across its segment, by the share of characters before it.
        width = segment.x1 - segment.x0
        length = max(len(segment.text), 1)
        x = segment.x0 + width * (start + end) / 2 / length
        nearest: list[Heading] = []
        distance = MAX_BLOCK_HEIGHT
        first = bisect.bisect_left(self._keys, (segment.page, segment.top - MAX_BLOCK_HEIGHT))
        last = bisect.bisect_right(self._keys, (segment.page, segment.top + 1))
        for index in range(first, last):
            heading = self.headings[index]
            head = heading.segment
            if not head.x0 - 2 <= x < self._column_ends[index]:
                continue
            gap = segment.top - head.top
            if gap < distance - 0.5:
                nearest, distance = [heading], gap
            elif abs(gap - distance) <= 0.5:
                nearest.append(heading)
        if len({heading.role for heading in nearest}) != 1:
            return None
        return nearest[0]

    def _column_end(self, index: int) -> float:
        """Where a heading's column ends: at the next heading to its right on its row."""
        head = self.headings[index].segment
        ends = []
        # Headings are sorted by top; those sharing the row lie close before and after this one.
        for step in (-1, 1):
            other_index = index + step
            while 0 <= other_index < len(self.headings):
                other = self.headings[other_index].segment
                if other.page != head.page or (
                    other.bottom < head.top if step < 0 else other.top > head.bottom
                ):
                    break
                if other.x0 > head.x1 and other.top < head.bottom and head.top < other.bottom:
                    ends.append(other.x0)
                other_index += step
        return min(ends, default=float("inf"))
