"""Searching text columns with LIKE: what a person types is matched as it stands."""

from __future__ import annotations


def contains_pattern(text: str) -> str:
    """A LIKE pattern (use ``escape="\\"``) for values containing ``text``, its ``%`` and ``_`` literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
