"""The shared corpus of real-world messages (``shared/corpus`` beside the checkout) and its index."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus_rows() -> list:
    """One ``pytest.param`` per row of ``INDEX.tsv``; a skipped one when the corpus is not there."""
    index = CORPUS / "INDEX.tsv"
    if not index.is_file():
        return [
            pytest.param(None, id="corpus-missing", marks=pytest.mark.skip(reason=f"no corpus at {CORPUS}"))
        ]
    with index.open(newline="", encoding="utf-8") as handle:
        return [pytest.param(row, id=row["file"]) for row in csv.DictReader(handle, delimiter="\t")]
