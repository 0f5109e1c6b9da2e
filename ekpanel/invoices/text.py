"""The text layer of a PDF: segments of text with their place on the page, read as lines.

The sandboxed child (``child.py``) reports each page as segments: a run of text on one line,
with its box. Here they become lines (segments whose middles share a height), and the lines one
text, so that the parsers work on a string while anything found in it can still be placed on
its page: a NIP belongs to the seller when it stands in the seller's column, wherever the PDF
put it in its content stream.

Within a line, segments far apart (table cells, side-by-side columns) are joined by a tab, close
ones by a space: parsers let a label reach its value across one tab, but no number is read
across it.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

# Fewer letters and digits than this in the whole document: there is no text layer to read.
MIN_TEXT_CHARS = 16
# Line height (points) given to plain text, so that it can be placed like a page.
_PLAIN_LINE_HEIGHT = 12.0
# PDFium's marker for a hyphen it took for a soft one at the end of a line (U+FFFE) and soft
# hyphens are hyphens here; NULs go, and a line break inside a segment is a space.
_SOFT_HYPHENS = str.maketrans({"\ufffe": "-", "\u00ad": "-", "\x00": None, "\r": " ", "\n": " "})


@dataclass(frozen=True)
class Segment:
    page: int
    x0: float
    top: float
    x1: float
    bottom: float
    text: str

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Placed:
    """A segment and where its text starts in the layer's text."""

    segment: Segment
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.segment.text)


def clean(text: str) -> str:
    """Compatibility forms (ligatures, full-width digits, no-break spaces) and PDFium's hyphens."""
    return unicodedata.normalize("NFKC", text.translate(_SOFT_HYPHENS))


class TextLayer:
    """A document's text as one string, each part of which knows its segment on the page."""

    def __init__(self, pages: list[list[Segment]]):
        self.page_count = len(pages)
        parts: list[str] = []
        self.placed: list[Placed] = []
        self.line_starts: list[int] = []
        offset = 0
        for segments in pages:
            for line in _lines(segments):
                if parts:
                    parts.append("\n")
                    offset += 1
                self.line_starts.append(offset)
                previous = None
                for segment in line:
                    if previous is not None:
                        joint = _joint(previous, segment)
                        parts.append(joint)
                        offset += len(joint)
                    self.placed.append(Placed(segment, offset))
                    parts.append(segment.text)
                    offset += len(segment.text)
                    previous = segment
        self.text = "".join(parts)
        self._placed_starts = [placed.start for placed in self.placed]

    @classmethod
    def from_pages(cls, pages: list[dict]) -> TextLayer:
        """From the child's JSON: ``[{"segments": [[x0, top, x1, bottom, text], ...]}, ...]``."""
        return cls(
            [
                [
                    Segment(number, x0, top, x1, bottom, clean(text))
                    for x0, top, x1, bottom, text in page["segments"]
                ]
                for number, page in enumerate(pages, 1)
            ]
        )

    @classmethod
    def from_plain_text(cls, text: str) -> TextLayer:
        """Text without a page: each line a segment, one below the other, tabs splitting cells."""
        segments = []
        for row, line in enumerate(clean_lines(text)):
            x = 0.0
            for cell in line.split("\t"):
                if cell.strip():
                    top = row * _PLAIN_LINE_HEIGHT
                    width = len(cell) * _PLAIN_LINE_HEIGHT / 2
                    segments.append(Segment(1, x, top, x + width, top + _PLAIN_LINE_HEIGHT * 0.8, cell))
                x += (len(cell) + 4) * _PLAIN_LINE_HEIGHT / 2
        return cls([segments])

    @property
    def has_text(self) -> bool:
        return sum(char.isalnum() for char in self.text) >= MIN_TEXT_CHARS

    def segment_at(self, offset: int) -> Placed | None:
        """The segment whose text holds ``offset`` (None for a joint between segments)."""
        index = bisect.bisect_right(self._placed_starts, offset) - 1
        if index < 0:
            return None
        placed = self.placed[index]
        return placed if offset < placed.end else None

    def line_span(self, start: int, end: int) -> tuple[int, int]:
        """From the start of the line holding ``start`` to the end of the line holding ``end``."""
        first = self.line_starts[max(bisect.bisect_right(self.line_starts, start) - 1, 0)]
        last = self.text.find("\n", max(end - 1, first))
        return first, len(self.text) if last < 0 else last

    def snippet(self, start: int, end: int, limit: int = 160) -> str:
        """The text a match was read from: its segments (its cells, not the whole row), whitespace
        collapsed, cut to ``limit`` characters around the match."""
        line_first, line_last = self.line_span(start, end)
        head, tail = self.segment_at(start), self.segment_at(max(end - 1, start))
        first = head.start if head else line_first
        last = tail.end if tail else line_last
        if last - first > limit:
            middle = (start + end) // 2
            first = max(first, min(middle - limit // 2, last - limit))
            last = min(last, first + limit)
        return re.sub(r"\s+", " ", self.text[first:last]).strip()


def clean_lines(text: str) -> list[str]:
    return clean(text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\x1e")).split("\x1e")


def _lines(segments: list[Segment]) -> list[list[Segment]]:
    """Segments grouped into lines, top to bottom, each line left to right.

    A segment joins a line when its middle lies within the line's height: the loose boxes PDFium
    gives share a height per font, so a bold label and the smaller text beside it still meet.
    """
    lines: list[list[Segment]] = []
    top = bottom = 0.0
    for segment in sorted(segments, key=lambda s: (s.middle, s.x0)):
        if lines and top <= segment.middle <= bottom:
            lines[-1].append(segment)
            top, bottom = min(top, segment.top), max(bottom, segment.bottom)
        else:
            lines.append([segment])
            top, bottom = segment.top, segment.bottom
    return [sorted(line, key=lambda s: s.x0) for line in lines]


def _joint(left: Segment, right: Segment) -> str:
    height = max(min(left.bottom - left.top, right.bottom - right.top), 1.0)
    gap = right.x0 - left.x1
    if gap > 0.9 * height:
        return "\t"
    if left.text[-1:].isspace() or right.text[:1].isspace() or gap < 0.1 * height:
        return ""
    return " "
