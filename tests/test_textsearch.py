"""``folded`` and ``case_forms``: which forms of a short text a LIKE that folds only ASCII must look
for, so that it finds what comparing folded values (as SQLite's FTS table does) finds."""

from __future__ import annotations

import string
import sys

import pytest

from ekpanel.textsearch import FOLDED_INTO_ASCII, POLISH_LETTERS, case_forms, folded


def test_only_the_listed_capitals_fold_into_ascii_or_polish_letters():
    """Every code point that folds into an ASCII or Polish small letter is that letter, its one
    capital, or one of FOLDED_INTO_ASCII: the forms miss nothing folding finds, but for those."""
    wanted = set(string.ascii_lowercase + POLISH_LETTERS)
    others = {}
    for code_point in range(sys.maxunicode + 1):
        character = chr(code_point)
        small = folded(character)
        if small in wanted and character not in (small, small.upper()):
            others.setdefault(small, set()).add(character)
    assert others == {letter: {capital} for letter, capital in FOLDED_INTO_ASCII.items()}
    for small in POLISH_LETTERS:
        assert len(small.upper()) == 1 and small.upper().lower() == small, small


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        ("a", ["a"]),  # LIKE folds ASCII itself
        ("FV", ["FV"]),
        ("7", ["7"]),
        ("%_", ["%_"]),
        ("ł", ["ł", "Ł"]),
        ("Ż", ["ż", "Ż"]),
        ("Łó", ["łó", "łÓ", "Łó", "ŁÓ"]),
        ("ła", ["ła", "Ła"]),
        ("ü", None),  # another alphabet: compared lowered
        ("aé", None),
        ("€", None),
    ],
)
def test_case_forms(text, forms):
    assert case_forms(text) == forms


def test_folding_is_one_character_for_one():
    assert folded("ŁÓDŹ \u212aelvin") == "łódź kelvin"
    assert folded("KİLİM") == "kİlİm"  # lower() would make "İ" an "i" and a combining dot
