"""Searching text columns with LIKE: what a person types is matched as it stands."""

from __future__ import annotations


def contains_pattern(text: str) -> str:
    """A LIKE pattern (use ``escape="\\"``) for values containing ``text``, its ``%`` and ``_`` literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def folded(text: str) -> str:
    """``text`` as SQLite's FTS table folds it: every character its small letter, one for one. The one
    capital that lower() makes two characters stays itself ("İ", "i" and a combining dot)."""
    return "".join(small if len(small := character.lower()) == 1 else character for character in text)


# Small letters whose capital is one character, and which lower() makes of nothing but themselves and
# that capital: a LIKE for each of the two forms finds what folding finds.
POLISH_LETTERS = "ąćęłńóśźż"
# A capital outside ASCII that folds into an ASCII letter, which a LIKE for the letter misses: the
# Kelvin sign. (tests/test_textsearch.py checks both lists against every code point.)
FOLDED_INTO_ASCII = {"k": "\u212a"}


def case_forms(text: str) -> list[str] | None:
    """The forms of ``text`` a case-sensitive match must look for to find what comparing ``folded``
    values finds, when LIKE folds ASCII letters itself (as SQLite's does, and only those): one form
    a Polish letter, capital or small; ``None`` when ``text`` holds another letter outside ASCII.
    A value holding a capital of FOLDED_INTO_ASCII needs comparing lowered too. Meant for short
    texts: the forms double with every Polish letter."""
    forms = [""]
    for character in text:
        small = character.lower()
        if character.isascii():
            choices = [character]
        elif small in POLISH_LETTERS:
            choices = [small, small.upper()]
        else:
            return None
        forms = [form + choice for form in forms for choice in choices]
    return forms
