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
  itself: the results are exactly the scan's.
- **SQLite** keeps an FTS5 table with the trigram tokenizer, folding case (``case_sensitive 0``, the
  Polish capitals too): a text looked up as one quoted phrase matches where its trigrams stand one
  after another, that is where it is a substring of one column. A query is also one company's (the
  ``company`` column): the FTS table alone finds and counts a company's documents, never walking
  another's. A text shorter than three characters has no trigram, nor has an invoice number that
  normalises shorter ("0001" is "1"): it is searched by ``LIKE`` over the haystack, as before
  (``lower()`` being Python's, see ``ekpanel.extensions``), reading every document of the company.

The FTS table is *contentless* (``content=''``): it holds the index, not a second copy of the text,
and triggers on ``documents`` keep it in step, handing it each row's values as they were (FTS5's
``'delete'`` needs them). Triggers rather than the code that writes documents, because documents
are written in several places (the intake, the reading of the PDF, bulk loads of the benchmark and
the tests) and an index one of them forgets hides documents from the search without a sound; a
trigger also writes in the row's own transaction, so a crash cannot part them. (Not *external
content* over a view of ``documents``: a view that names ``documents`` makes SQLite refuse the
rename by which a batch migration rebuilds that table.)

``metadata.create_all`` builds all of this through the DDL listeners below (the tests and the
benchmarks use it); the migration ``c4f1e7a2d9b3`` builds the same for a database that migrates, and
``tests/test_migrations.py`` checks that the two agree. On SQLite a later migration that rebuilds
``documents`` in batch mode drops its triggers with the old table: it must create them again. On
PostgreSQL ``search_text`` is computed from the four text columns: changing one of their types means
dropping it (and its index) first, and adding it again after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    column,
    event,
    func,
    literal_column,
    select,
    table,
)

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
POSTGRES_INDEXES = ("ix_documents_search_text", "ix_documents_search_number", "ix_documents_search_nips")
SEARCH_TEXT_COLUMN = "search_text"  # PostgreSQL: lower(haystack), stored; not in the model

_columns = ", ".join(FTS_COLUMNS)
_documents_columns = ", ".join(FTS_COLUMNS[1:])
_new = ", ".join(["'<' || new.company_id || '>'", *(f"new.{name}" for name in FTS_COLUMNS[1:])])
_old = ", ".join(["'<' || old.company_id || '>'", *(f"old.{name}" for name in FTS_COLUMNS[1:])])
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
    f"INSERT INTO {FTS_TABLE}(rowid, {_columns})"
    f" SELECT id, '<' || company_id || '>', {_documents_columns} FROM documents",
)
SQLITE_CREATE = (SQLITE_TABLE, *SQLITE_TRIGGERS)
SQLITE_DROP = (*SQLITE_DROP_TRIGGERS, f"DROP TABLE IF EXISTS {FTS_TABLE}")

# Each index expression is the very one the search compares (PostgreSQL matches them as trees).
POSTGRES_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
POSTGRES_COLUMN = (
    f"ALTER TABLE documents ADD COLUMN {SEARCH_TEXT_COLUMN} text"
    f" GENERATED ALWAYS AS (lower({_haystack_sql})) STORED"
)
POSTGRES_INDEX_DDL = (
    f"CREATE INDEX {POSTGRES_INDEXES[0]} ON documents USING gin ({SEARCH_TEXT_COLUMN} gin_trgm_ops)",
    f"CREATE INDEX {POSTGRES_INDEXES[1]} ON documents USING gin ({NUMBER_COLUMN} gin_trgm_ops)",
    f"CREATE INDEX {POSTGRES_INDEXES[2]} ON documents USING gin ((({NIPS_COLUMN})::text) gin_trgm_ops)",
)
POSTGRES_CREATE = (POSTGRES_EXTENSION, POSTGRES_COLUMN, *POSTGRES_INDEX_DDL)
# The extension stays: it is the database's, and other things may use it. The column goes with the
# table when the table goes (migrations drop it themselves).
POSTGRES_DROP = tuple(f"DROP INDEX IF EXISTS {name}" for name in POSTGRES_INDEXES)


def attach(documents: Table) -> None:
    """Build the search indexes with the ``documents`` table (``create_all``), drop them with it."""
    event.listen(documents, "after_create", _create)
    event.listen(documents, "before_drop", _drop)


def _create(_table, connection, **_kw) -> None:
    statements = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}.get(connection.dialect.name, ())
    for statement in statements:
        connection.exec_driver_sql(statement)


def _drop(_table, connection, **_kw) -> None:
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(connection.dialect.name, ())
    for statement in statements:
        connection.exec_driver_sql(statement)


def is_search_index(name: str | None) -> bool:
    """The FTS table, its shadow tables, the trigram indexes: kept out of the models' metadata."""
    return bool(name) and (
        name in (*POSTGRES_INDEXES, SEARCH_TEXT_COLUMN, FTS_TABLE) or name.startswith(f"{FTS_TABLE}_")
    )


@contextmanager
def built_afterwards(connection: Connection) -> Iterator[None]:
    """Load many documents inside this block: the index is built once at its end, from all of them,
    instead of row by row (on SQLite the triggers cost about three times as much)."""
    dialect = connection.dialect.name
    for statement in {"sqlite": SQLITE_DROP_TRIGGERS, "postgresql": POSTGRES_DROP}.get(dialect, ()):
        connection.exec_driver_sql(statement)
    yield
    if dialect == "sqlite":
        for statement in (*SQLITE_REBUILD, *SQLITE_TRIGGERS):
            connection.exec_driver_sql(statement)
    elif dialect == "postgresql":
        for statement in POSTGRES_INDEX_DDL:
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


# --- SQLite: what the FTS table finds ---------------------------------------------------------------


def fts_can_find(*texts: str) -> bool:
    """Whether every non-empty text is long enough to have a trigram."""
    return all(len(text) >= MIN_TRIGRAM_CHARS for text in texts if text)


def fts_query(company_id: int, text: str, number: str = "", nip: str = "") -> str:
    """The FTS5 query for the company's documents whose text columns contain ``text``, whose
    normalised invoice number contains ``number``, or whose NIPs contain ``nip`` (both optional)."""
    query = f"{{{' '.join(TEXT_COLUMNS)}}} : {_phrase(text)}"
    if number:
        query += f" OR {NUMBER_COLUMN} : {_phrase(number)}"
    if nip:
        query += f" OR {NIPS_COLUMN} : {_phrase(nip)}"
    return f"{COMPANY_COLUMN} : {_phrase(f'<{company_id}>')} AND ({query})"


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
