"""What the list's search box selects: the typed text as a condition, on each database.

The text is found in the sender, subject, file name and invoice number (as typed, or written
otherwise: "FV 1/2026" finds "FV/0001/2026") and, for digits, in the NIPs the document names
("526-025-02-74" finds 5260250274). How each database's index serves it: ekpanel.documents.search_index.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Text, and_, cast, false, func, or_, select

from ekpanel.documents import search_index
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.invoices import normalise_invoice_number, normalise_nip
from ekpanel.textsearch import FOLDED_INTO_ASCII, case_forms, contains_pattern, folded

# Fewer digits than this are part of too many things (dates, amounts) to be looked for in NIPs.
NIP_SEARCH_DIGITS = 4
# SQLite: a short text in this share of the SAMPLE newest documents is in nearly all of them.
SAMPLE = 200
COMMON_SHARE = 0.9


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
    matches = like_matches(text, number, nip, dialect)
    like = or_(*matches)
    if search_index.SEPARATOR in text:
        return TextSearch(like)
    if dialect == "postgresql":
        return TextSearch(or_(*_narrowed_by_pieces(company_id, text, number, matches)))
    if dialect == "sqlite":
        return _fts_search(company_id, text, number, nip, like)
    return TextSearch(like)


def _fts_search(company_id: int, text: str, number: str, nip: str, like: ColumnElement[bool]) -> TextSearch:
    """SQLite: the search as an FTS5 query. A text (or number) of one or two characters is any of the
    trigrams that begin with it. When it is in nearly every recent document, or very many trigrams
    begin with it, the list finds a page of it at once by ``like``, reading along its index, and
    counting that way costs less than gathering what the FTS table holds of it."""
    parts = [(search_index.TEXT_COLUMNS, text), ((search_index.NUMBER_COLUMN,), number)]
    short = [(columns, wanted) for columns, wanted in parts if wanted and search_index.is_short(wanted)]
    if short and _share_of_newest(company_id, like) >= COMMON_SHARE:
        return TextSearch(like)
    found: list[tuple[str, str]] = []
    if short:
        every_column = tuple(name for columns, _wanted in short for name in columns)
        lookup = search_index.starting_terms({w for _c, w in short}, every_column)
        # A term's row costs as many steps as there are documents holding it: read no more than needed.
        most = search_index.MAX_SHORT_TERMS * len(every_column)
        found = list(db.session.execute(lookup.limit(most + 1)))
        if len(found) > most:
            return TextSearch(like)
    wanted_in: list[tuple[tuple[str, ...], str | list[str]]] = []
    for columns, wanted in parts:
        if not wanted:
            continue
        if not search_index.is_short(wanted):
            wanted_in.append((columns, wanted))
            continue
        start = folded(wanted)
        terms = list(dict.fromkeys(t for t, name in found if name in columns and t.startswith(start)))
        if len(terms) > search_index.MAX_SHORT_TERMS:
            return TextSearch(like)
        if terms:
            wanted_in.append((columns, terms))
    if nip:
        wanted_in.append(((search_index.NIPS_COLUMN,), nip))
    if not wanted_in:
        return TextSearch(false())  # no trigram begins with it: no document holds it
    return TextSearch(like, search_index.fts_query(company_id, wanted_in))


def _share_of_newest(company_id: int, like: ColumnElement[bool]) -> float:
    """The share of the company's SAMPLE newest documents that ``like`` selects (0 without any)."""
    newest = (
        select(like.label("found"))
        .where(Document.company_id == company_id)
        .order_by(Document.received_at.desc(), Document.id.desc())
        .limit(SAMPLE)
        .subquery()
    )
    sampled, found = db.session.execute(select(func.count(), func.count().filter(newest.c.found))).one()
    return (found or 0) / sampled if sampled else 0.0


def _narrowed_by_pieces(
    company_id: int, text: str, number: str, matches: list[ColumnElement[bool]]
) -> list[ColumnElement[bool]]:
    """PostgreSQL: the trigram indexes serve the matches of a text (or number) of three characters or
    more. One of one or two characters has no trigram: the table of pieces is asked which documents
    hold it (once for the text and its number), and when they are few, the match is narrowed to
    their ids; when they are many, it is in so many documents that the list finds a page of them at
    once, reading along its index."""
    short_text = text if search_index.is_short(text) else ""
    short_number = number if number and search_index.is_short(number) else ""
    if not short_text and not short_number:
        return matches
    ids = list(db.session.scalars(search_index.with_pieces(company_id, short_text, short_number)))
    if len(ids) > search_index.MAX_PIECE_IDS:
        return matches
    # The ids hold either piece: each match still tests its own.
    narrowed = list(matches)
    for position, short in enumerate((short_text, short_number)):
        if short:
            narrowed[position] = and_(Document.id.in_(ids), matches[position])
    return narrowed


def like_matches(text: str, number: str = "", nip: str = "", dialect: str = "") -> list[ColumnElement[bool]]:
    """The text in any text column (``ILIKE``: Polish capitals fold on both databases), ``number`` in
    the normalised invoice number (both upper case), ``nip`` in the JSON list of NIPs."""
    pattern = contains_pattern(text)
    short_on_sqlite = dialect == "sqlite" and search_index.is_short(text)
    if search_index.SEPARATOR in text or short_on_sqlite:
        # In the haystack such a text could match across two columns: each column on its own then.
        # SQLite reads a short text this way only when it is common: the first column holding it
        # ends the row's test, and the columns are read off an index of their own (search_index).
        columns = [Document.__table__.c[name] for name in search_index.TEXT_COLUMNS]
        forms = case_forms(text) if short_on_sqlite else None
        if forms is None:
            matches = [column.ilike(pattern, escape="\\") for column in columns]
        else:
            matches = [_sqlite_contains(column, text, forms) for column in columns]
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


def _sqlite_contains(column, text: str, forms: list[str]) -> ColumnElement[bool]:
    """SQLite: ``column`` holds ``text`` whatever its case, by SQLite's own LIKE (``case_forms``),
    not lower() called from SQL on every row: the count of "a" in 100 000 documents 13 -> 2 ms."""
    found = or_(*(column.like(contains_pattern(form), escape="\\") for form in forms))
    capitals = [FOLDED_INTO_ASCII[small] for small in sorted(set(folded(text)) & FOLDED_INTO_ASCII.keys())]
    if not capitals:
        return found
    # A value holding such a capital is compared lowered too: "Kelvin" spelt with the sign holds "ke".
    holds_capital = or_(*(func.instr(column, capital) > 0 for capital in capitals))
    return or_(found, and_(holds_capital, column.ilike(contains_pattern(text), escape="\\")))
