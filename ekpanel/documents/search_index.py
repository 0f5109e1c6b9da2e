"""The indexes behind the documents list's search box, on each database.

The search box finds a typed text anywhere inside a document's sender, subject, file name or invoice
number, whatever the case, Polish letters included ("łódź" finds "ŁÓDŹ"); its invoice number also
written otherwise ("FV 1/2026" finds "FV/0001/2026", through ``invoice_number_normalised``); and, for
digits, the NIPs it names. A substring, not a word: "dostaw" finds "faktury@dostawca.pl".

- **PostgreSQL** reads it with ``LIKE '%…%'``, served by GIN indexes of trigrams (``pg_trgm``). The
  four text columns are searched as one *haystack*, joined by a separator no search text holds
  (``ekpanel.documents.search`` checks): one comparison per row instead of four, and one index
  instead of four, whose scans the planner adds up as one, not four. The haystack is kept lowered
  in the stored column ``search_text`` and compared with the lowered text: that is what ``ILIKE``
  does, without lowering every row it looks at again (``ILIKE`` on a haystack cost the count of a
  common text twice as much). The planner rechecks every row an index gives with the operator
  itself: the results are exactly the scan's. A text of one or two characters has no trigram: the
  table ``documents_search_pieces`` holds, for each document, every piece of one or two characters
  of its lowered haystack (and, after a ``PIECE_MARK``, of its lowered normalised invoice number)
  as an array, under a GIN index; the text is in the haystack exactly when it is one of the pieces.
  A table of its own, kept by a trigger, because the arrays are long (a hundred pieces): in the
  rows of ``documents`` they made every walk along the list a third slower. A search asks it first
  (``with_pieces``) for up to ``MAX_PIECE_IDS`` documents: their ids then select the page; a text
  in more documents than that is in so many that LIKE finds a page along the list at once.
- **SQLite** keeps an FTS5 table with the trigram tokenizer, folding case (``case_sensitive 0``, the
  Polish capitals too): a text looked up as one quoted phrase matches where its trigrams stand one
  after another, that is where it is a substring of one column. A query is also one company's (the
  ``company`` column): the FTS table alone finds and counts a company's documents, never walking
  another's. A text of one or two characters has no trigram of its own, nor has an invoice number
  that normalises that short ("0001" is "1"), but it stands at the start of the trigram that begins
  where it does: every text column is indexed with two separators after it (``PADDING``), so that
  this holds at a column's end too, and the trigrams that begin with the text are read off the FTS
  table's vocabulary (``documents_search_terms``, an ``fts5vocab`` table, its terms in order). The
  query is then those trigrams, any of them ("ł": "łód" or "łą " ...). A text with more such
  trigrams than ``MAX_SHORT_TERMS`` (a digit), or found in nearly every recent document ("a", see
  ``ekpanel.documents.search``), is in so many documents that the list finds a page of it at once
  by ``LIKE``: it is searched so, as is a text holding the separator. That LIKE looks for the text's
  forms in each case (``ekpanel.textsearch.case_forms``) with SQLite's own LIKE, not lowering every
  row in Python, and reads the searched columns off an index of their own
  (``documents_search_columns``), not the whole rows. The FTS table folds one character into one,
  and so does the search: "İ", which Python's lower() makes "i" and a combining dot, stays itself
  ("ki" does not find "KİLİM").

The FTS table is *contentless* (``content=''``): it holds the index, not a second copy of the text,
and triggers on ``documents`` keep it in step, handing it each row's values as they were (FTS5's
``'delete'`` needs them). Triggers rather than the code that writes documents, because documents
are written in several places (the intake, the reading of the PDF, bulk loads of the benchmark and
the tests) and an index one of them forgets hides documents from the search without a sound; a
trigger also writes in the row's own transaction, so a crash cannot part them. (Not *external
content* over a view of ``documents``: a view that names ``documents`` makes SQLite refuse the
rename by which a batch migration rebuilds that table.)

``metadata.create_all`` builds all of this through the DDL listeners below (the tests and the
benchmarks use it); the migrations from ``c4f1e7a2d9b3`` on build the same for a database that
migrates, and ``tests/test_migrations.py`` checks that the two agree. On SQLite a later migration
that rebuilds ``documents`` in batch mode drops its triggers with the old table: it must create
them again (and check that the index ``documents_search_columns`` came along). On PostgreSQL
``search_text`` is computed from the four text columns: changing one of their types means dropping
it (and its index) first, and adding it again after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    Table,
    Text,
    cast,
    column,
    event,
    func,
    literal,
    literal_column,
    select,
    table,
    union_all,
)
from sqlalchemy.dialects.postgresql import array

from ekpanel.textsearch import folded

FTS_TABLE = "documents_search"
TEXT_COLUMNS = ("sender", "subject", "filename", "invoice_number")
NUMBER_COLUMN = "invoice_number_normalised"
NIPS_COLUMN = "nips"  # a JSON list, searched as its text: '["5260250274", ...]'
# The company as a text of three characters or more, "<12>", so that a query is one company's: its
# trigrams are found in that order in no other company's ("<1>" is not in "<12>").
COMPANY_COLUMN = "company"
FTS_COLUMNS = (COMPANY_COLUMN, *TEXT_COLUMNS, NUMBER_COLUMN, NIPS_COLUMN)
MIN_TRIGRAM_CHARS = 3
SEPARATOR = "\x1f"  # between the haystack's columns (ASCII unit separator)
# After each text column in the FTS table: a text of one or two characters at the column's end is
# then the start of a trigram too. A search text holding the separator never reaches the FTS table.
PADDED_COLUMNS = (*TEXT_COLUMNS, NUMBER_COLUMN)
PADDING = "char(31, 31)"
VOCABULARY_TABLE = f"{FTS_TABLE}_terms"
# More trigrams than this begin with a short text ("7"): it is common, and LIKE finds its page at once
# (an FTS query of many alternatives costs more than reading along the list).
MAX_SHORT_TERMS = 40
POSTGRES_INDEXES = (
    "ix_documents_search_text",
    "ix_documents_search_number",
    "ix_documents_search_nips",
    "ix_documents_search_pieces",  # on PIECES_TABLE
)
SEARCH_TEXT_COLUMN = "search_text"  # PostgreSQL: lower(haystack), stored; not in the model
PIECES_TABLE = f"{FTS_TABLE}_pieces"  # PostgreSQL: each document's pieces of one or two characters
PIECES_FUNCTION = "ekpanel_search_pieces"
PIECE_MARK = "\x1e"  # before a piece of the invoice number (ASCII record separator)
MAX_PIECE_IDS = 1_000

_columns = ", ".join(FTS_COLUMNS)
_documents_columns = ", ".join(FTS_COLUMNS[1:])


def _values(row: str) -> str:
    """The FTS table's values for a ``documents`` row (``new``, ``old``, or the table itself)."""
    prefix = f"{row}." if row else ""
    values = [f"'<' || {prefix}company_id || '>'"]
    for name in FTS_COLUMNS[1:]:
        values.append(f"{prefix}{name} || {PADDING}" if name in PADDED_COLUMNS else f"{prefix}{name}")
    return ", ".join(values)


_new, _old = _values("new"), _values("old")
_haystack_sql = f" || '{SEPARATOR}' || ".join(f"coalesce({name}, '')" for name in TEXT_COLUMNS)

SQLITE_TABLE = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_columns},"
    " content='', tokenize='trigram case_sensitive 0')"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON documents BEGIN"
    f" INSERT INTO {FTS_TABLE}(rowid, {_columns}) VALUES (new.id, {_new}); END",
    f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON documents BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_columns}) VALUES ('delete', old.id, {_old}); END",
    # Only when an indexed column changes: marking a document Zarejestrowany leaves the index alone.
    f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF id, company_id, {_documents_columns}"
    " ON documents BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_columns}) VALUES ('delete', old.id, {_old});"
    f" INSERT INTO {FTS_TABLE}(rowid, {_columns}) VALUES (new.id, {_new}); END",
)
SQLITE_DROP_TRIGGERS = tuple(
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{name}" for name in ("update", "delete", "insert")
)
# The whole index again, from ``documents`` as they are.
SQLITE_REBUILD = (
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('delete-all')",
    f"INSERT INTO {FTS_TABLE}(rowid, {_columns}) SELECT id, {_values('')} FROM documents",
)
# The FTS table's terms (trigrams), one row per term and column, in order: a range of them is a seek.
SQLITE_VOCABULARY = f"CREATE VIRTUAL TABLE {VOCABULARY_TABLE} USING fts5vocab({FTS_TABLE}, 'col')"
# The searched columns by company, so that a common short text, searched by LIKE (see above), is
# tested against them without reading the whole rows: counting "7" in 100 000 documents read 24 000
# rows, 45 -> 18 ms.
SQLITE_COLUMNS_INDEX_NAME = f"{FTS_TABLE}_columns"
SQLITE_COLUMNS_INDEX = (
    f"CREATE INDEX {SQLITE_COLUMNS_INDEX_NAME} ON documents (company_id, {', '.join(PADDED_COLUMNS)})"
)
SQLITE_DROP_COLUMNS_INDEX = f"DROP INDEX IF EXISTS {SQLITE_COLUMNS_INDEX_NAME}"
SQLITE_CREATE = (SQLITE_TABLE, SQLITE_VOCABULARY, *SQLITE_TRIGGERS, SQLITE_COLUMNS_INDEX)
SQLITE_DROP = (
    SQLITE_DROP_COLUMNS_INDEX,
    *SQLITE_DROP_TRIGGERS,
    f"DROP TABLE IF EXISTS {VOCABULARY_TABLE}",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)

# Each index expression is the very one the search compares (PostgreSQL matches them as trees).
POSTGRES_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
POSTGRES_COLUMN = (
    f"ALTER TABLE documents ADD COLUMN {SEARCH_TEXT_COLUMN} text"
    f" GENERATED ALWAYS AS (lower({_haystack_sql})) STORED"
)
# The planner's guess of how many documents hold a text comes from a sample of this column: the
# default (30 000 rows) left it guessing 1 000 documents for a text in 20, and walking the list.
POSTGRES_STATISTICS = f"ALTER TABLE documents ALTER COLUMN {SEARCH_TEXT_COLUMN} SET STATISTICS 1000"
# Every piece of one or two characters of the haystack, and of the number after PIECE_MARK.
POSTGRES_FUNCTION = (
    f"CREATE FUNCTION {PIECES_FUNCTION}(haystack text, number text) RETURNS text[]"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array("
    " SELECT substr(haystack, i, n) FROM generate_series(1, length(haystack)) AS i,"
    " generate_series(1, 2) AS n WHERE i + n <= length(haystack) + 1"
    f" UNION SELECT chr({ord(PIECE_MARK)}) || substr(number, i, n)"
    " FROM generate_series(1, length(number)) AS i,"
    " generate_series(1, 2) AS n WHERE i + n <= length(number) + 1) $$"
)
_pieces_of_new = f"{PIECES_FUNCTION}(NEW.{SEARCH_TEXT_COLUMN}, lower(NEW.{NUMBER_COLUMN}))"
POSTGRES_PIECES_TRIGGER = f"{PIECES_TABLE}_write"  # the trigger, and the function it runs
POSTGRES_PIECES = (
    f"CREATE TABLE {PIECES_TABLE} (document_id integer PRIMARY KEY REFERENCES documents (id)"
    " ON DELETE CASCADE, company_id integer NOT NULL, pieces text[] NOT NULL)",
    # A document's row, written as the document is (in its transaction), deleted with it.
    f"CREATE FUNCTION {POSTGRES_PIECES_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" INSERT INTO {PIECES_TABLE} (document_id, company_id, pieces)"
    f" VALUES (NEW.id, NEW.company_id, {_pieces_of_new}) ON CONFLICT (document_id) DO UPDATE"
    " SET company_id = excluded.company_id, pieces = excluded.pieces; RETURN NULL; END $$",
    f"CREATE TRIGGER {POSTGRES_PIECES_TRIGGER} AFTER INSERT OR UPDATE OF company_id,"
    f" {', '.join(PADDED_COLUMNS)} ON documents FOR EACH ROW EXECUTE FUNCTION {POSTGRES_PIECES_TRIGGER}()",
)
POSTGRES_PIECES_REBUILD = (
    f"DELETE FROM {PIECES_TABLE}",
    f"INSERT INTO {PIECES_TABLE} (document_id, company_id, pieces) SELECT id, company_id,"
    f" {PIECES_FUNCTION}({SEARCH_TEXT_COLUMN}, lower({NUMBER_COLUMN})) FROM documents",
)
POSTGRES_INDEX_DDL = (
    f"CREATE INDEX {POSTGRES_INDEXES[0]} ON documents USING gin ({SEARCH_TEXT_COLUMN} gin_trgm_ops)",
    f"CREATE INDEX {POSTGRES_INDEXES[1]} ON documents USING gin ({NUMBER_COLUMN} gin_trgm_ops)",
    f"CREATE INDEX {POSTGRES_INDEXES[2]} ON documents USING gin ((({NIPS_COLUMN})::text) gin_trgm_ops)",
    f"CREATE INDEX {POSTGRES_INDEXES[3]} ON {PIECES_TABLE} USING gin (pieces)",
)
POSTGRES_CREATE = (
    POSTGRES_EXTENSION,
    POSTGRES_COLUMN,
    POSTGRES_STATISTICS,
    POSTGRES_FUNCTION,
    *POSTGRES_PIECES,
    *POSTGRES_INDEX_DDL,
)
# The extension stays: it is the database's, and other things may use it. The column goes with the
# table when the table goes (migrations drop it themselves), and the functions after it.
POSTGRES_DROP = tuple(f"DROP INDEX IF EXISTS {name}" for name in POSTGRES_INDEXES)
POSTGRES_DROP_ALL = (*POSTGRES_DROP, f"DROP TABLE IF EXISTS {PIECES_TABLE}")
POSTGRES_DROP_FUNCTIONS = (
    f"DROP FUNCTION IF EXISTS {POSTGRES_PIECES_TRIGGER}()",
    f"DROP FUNCTION IF EXISTS {PIECES_FUNCTION}(text, text)",
)


def attach(documents: Table) -> None:
    """Build the search indexes with the ``documents`` table (``create_all``), drop them with it."""
    event.listen(documents, "after_create", _create)
    event.listen(documents, "before_drop", _drop)
    event.listen(documents, "after_drop", _drop_functions)


def _create(_table, connection, **_kw) -> None:
    statements = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}.get(connection.dialect.name, ())
    for statement in statements:
        connection.exec_driver_sql(statement)


def _drop(_table, connection, **_kw) -> None:
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP_ALL}.get(connection.dialect.name, ())
    for statement in statements:
        connection.exec_driver_sql(statement)


def _drop_functions(_table, connection, **_kw) -> None:
    for statement in {"postgresql": POSTGRES_DROP_FUNCTIONS}.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


def is_search_index(name: str | None) -> bool:
    """The FTS table, its shadow tables, the trigram indexes: kept out of the models' metadata."""
    return bool(name) and (
        name in (*POSTGRES_INDEXES, SEARCH_TEXT_COLUMN, PIECES_FUNCTION, FTS_TABLE)
        or name.startswith(f"{FTS_TABLE}_")
    )


@contextmanager
def built_afterwards(connection: Connection) -> Iterator[None]:
    """Load many documents inside this block: the index is built once at its end, from all of them,
    instead of row by row (on SQLite the triggers cost about three times as much)."""
    dialect = connection.dialect.name
    postgres_off = (*POSTGRES_DROP, f"ALTER TABLE documents DISABLE TRIGGER {POSTGRES_PIECES_TRIGGER}")
    sqlite_off = (*SQLITE_DROP_TRIGGERS, SQLITE_DROP_COLUMNS_INDEX)
    for statement in {"sqlite": sqlite_off, "postgresql": postgres_off}.get(dialect, ()):
        connection.exec_driver_sql(statement)
    yield
    if dialect == "sqlite":
        for statement in (*SQLITE_REBUILD, *SQLITE_TRIGGERS, SQLITE_COLUMNS_INDEX):
            connection.exec_driver_sql(statement)
    elif dialect == "postgresql":
        enable = f"ALTER TABLE documents ENABLE TRIGGER {POSTGRES_PIECES_TRIGGER}"
        for statement in (*POSTGRES_PIECES_REBUILD, *POSTGRES_INDEX_DDL, enable):
            connection.exec_driver_sql(statement)


def haystack(documents: Table) -> ColumnElement[str]:
    """The four text columns as one string (PostgreSQL keeps it lowered in ``search_text``)."""
    empty, separator = literal_column("''"), literal_column(f"'{SEPARATOR}'")
    parts = [func.coalesce(documents.c[name], empty) for name in TEXT_COLUMNS]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(separator).op("||")(part)
    return joined


def search_text() -> ColumnElement[str]:
    """PostgreSQL's stored ``lower(haystack)``."""
    return literal_column(f"documents.{SEARCH_TEXT_COLUMN}")


def is_short(text: str) -> bool:
    """Too short to be a trigram: found through the trigrams it begins (SQLite, ``starting_terms``)
    or through its pieces (PostgreSQL, ``with_pieces``)."""
    return len(text) < MIN_TRIGRAM_CHARS


def with_pieces(company_id: int, text: str = "", number: str = "") -> Select:
    """PostgreSQL: the ids of the company's documents whose lowered haystack holds ``text``, or whose
    normalised invoice number holds ``number`` (lowered: recheck its case), each of one or two
    characters or empty; at most one more than MAX_PIECE_IDS, to know whether there are more."""
    pieces = table(PIECES_TABLE, column("document_id"), column("company_id"), column("pieces"))
    wanted = [func.lower(literal(text, Text))] if text else []
    if number:
        wanted.append(literal(PIECE_MARK, Text).op("||")(func.lower(literal(number, Text))))
    return (
        select(pieces.c.document_id)
        .where(pieces.c.company_id == company_id, pieces.c.pieces.op("&&")(cast(array(wanted), ARRAY(Text))))
        .limit(MAX_PIECE_IDS + 1)
    )


# --- SQLite: what the FTS table finds ---------------------------------------------------------------


def starting_terms(texts: set[str], columns: tuple[str, ...]) -> CompoundSelect:
    """``(term, column)`` of the FTS table's trigrams that begin with any of ``texts`` (``folded`` as
    the table folds them) in any of ``columns``. Reading a term's row costs as many steps as
    the documents holding it: one lookup serves the text and its invoice number together."""
    vocabulary = table(VOCABULARY_TABLE, column("term"), column("col"))
    lookups = []
    for start in sorted({folded(text) for text in texts}):
        # One range a SELECT: fts5vocab seeks one range, and given two joined by OR it read only one.
        lookup = select(vocabulary.c.term, vocabulary.c.col).where(
            vocabulary.c.term >= start, vocabulary.c.col.in_(columns)
        )
        if ord(start[-1]) < 0x10FFFF:
            # Terms compare as UTF-8 bytes, in the order of code points: those that begin with the
            # text lie before the text with its last character the next one.
            lookup = lookup.where(vocabulary.c.term < start[:-1] + chr(ord(start[-1]) + 1))
        lookups.append(lookup)
    return union_all(*lookups)


def fts_query(company_id: int, matches: list[tuple[tuple[str, ...], str | list[str]]]) -> str:
    """The FTS5 query for the company's documents where any of ``matches`` holds: ``(columns, text)``,
    the text a phrase in one of the columns; or ``(columns, terms)``, any of those trigrams in one."""
    found = []
    for columns, wanted in matches:
        phrase = _phrase(wanted) if isinstance(wanted, str) else f"({' OR '.join(map(_phrase, wanted))})"
        found.append(f"{{{' '.join(columns)}}} : {phrase}")
    return f"{COMPANY_COLUMN} : {_phrase(f'<{company_id}>')} AND ({' OR '.join(found)})"


def fts_table():
    """The FTS table as a FROM clause; its ``rowid`` is the document's id."""
    return table(FTS_TABLE, column("rowid"))


def fts_matches(query: str) -> ColumnElement[bool]:
    return literal_column(FTS_TABLE).op("MATCH")(query)


def fts_ids(query: str) -> Select:
    """The ids of the documents the FTS table finds for ``query``."""
    fts = fts_table()
    return select(fts.c.rowid).where(fts_matches(query))


def _phrase(text: str) -> str:
    """An FTS5 string: every character in it is literal (``%``, ``_``, ``*``, ``:``), ``"`` doubled."""
    return '"' + text.replace('"', '""') + '"'
