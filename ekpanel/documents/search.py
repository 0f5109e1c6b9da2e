"""What the list's search box selects: the typed text as a condition, on each database.

The text is found in the sender, subject, file name and invoice number (as typed, or written
otherwise: "FV 1/2026" finds "FV/0001/2026") and, for digits, in the NIPs the document names
("526-025-02-74" finds 5260250274). How each database's index serves it: ekpanel.documents.search_index.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Text, cast, func, or_

from ekpanel.documents import search_index
from ekpanel.documents.models import Document
from ekpanel.invoices import normalise_invoice_number, normalise_nip
from ekpanel.textsearch import contains_pattern

# Fewer digits than this are part of too many things (dates, amounts) to be looked for in NIPs.
NIP_SEARCH_DIGITS = 4


@dataclass(frozen=True)
class TextSearch:
    like: ColumnElement[bool]  # the whole search by LIKE: PostgreSQL's indexes serve it, SQLite scans
    fts: str = ""  # SQLite: the same search as an FTS5 query, when the FTS table can find the text

    @property
    def condition(self) -> ColumnElement[bool]:
        if self.fts:
            return Document.id.in_(search_index.fts_ids(self.fts))
        return self.like


def text_search(company_id: int, text: str, dialect: str) -> TextSearch:
    """The search for ``text`` (stripped, not empty) among the company's documents, on the database
    named ``dialect``."""
    number = normalise_invoice_number(text)
    digits = normalise_nip(text)
    nip = digits if len(digits) >= NIP_SEARCH_DIGITS and digits.isdigit() else ""
    like = or_(*like_matches(text, number, nip, dialect))
    if dialect == "sqlite" and search_index.fts_can_find(text, number):
        return TextSearch(like, search_index.fts_query(company_id, text, number, nip))
    return TextSearch(like)


def like_matches(text: str, number: str = "", nip: str = "", dialect: str = "") -> list[ColumnElement[bool]]:
    """The text in any text column (``ILIKE``: Polish capitals fold on both databases), ``number`` in
    the normalised invoice number (both upper case), ``nip`` in the JSON list of NIPs."""
    pattern = contains_pattern(text)
    if search_index.SEPARATOR in text:
        # In the haystack such a text could match across two columns: each column on its own then.
        columns = [Document.__table__.c[name] for name in search_index.TEXT_COLUMNS]
        matches = [column.ilike(pattern, escape="\\") for column in columns]
    elif dialect == "postgresql":
        # ILIKE itself, but the haystack's side lowered once, when the document was written.
        matches = [search_index.search_text().like(func.lower(pattern), escape="\\")]
    else:
        matches = [search_index.haystack(Document.__table__).ilike(pattern, escape="\\")]
    if number:
        matches.append(Document.invoice_number_normalised.like(contains_pattern(number), escape="\\"))
    if nip:
        # The JSON list as text: '["5260250274", ...]' on both databases.
        matches.append(cast(Document.nips, Text).like(f"%{nip}%"))
    return matches
