"""documents search: texts of one or two characters through the index too

Revision ID: d8a3b6e1f4c7
Revises: c4f1e7a2d9b3
Create Date: 2026-12-07 04:30:00.000000

A text of one or two characters has no trigram; it is found through the trigrams that begin with it
(ekpanel.documents.search_index says how).
- SQLite: every text column goes into the FTS table with two separators after it (so that such a
  text at a column's end begins a trigram too), and an ``fts5vocab`` table lists the FTS table's
  terms in order. The triggers are made again with the padding, and the index rebuilt.
- PostgreSQL: the pieces of one and two characters of the lowered haystack and of the normalised
  invoice number, an array for each document in the table ``documents_search_pieces`` under a GIN
  index, written by a trigger on ``documents``.
The statements are written out here, not imported, so this revision keeps building what it built;
tests/test_migrations.py checks that they match what ``create_all`` builds today.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "d8a3b6e1f4c7"
down_revision = "c4f1e7a2d9b3"
branch_labels = None
depends_on = None

DOCUMENTS_COLUMNS = ("sender", "subject", "filename", "invoice_number", "invoice_number_normalised", "nips")
COLUMNS = ", ".join(("company", *DOCUMENTS_COLUMNS))
UPDATED_COLUMNS = ", ".join(DOCUMENTS_COLUMNS)


def _values(row: str, padded: bool) -> str:
    prefix = f"{row}." if row else ""
    values = [f"'<' || {prefix}company_id || '>'"]
    for name in DOCUMENTS_COLUMNS:
        pad = padded and name != "nips"
        values.append(f"{prefix}{name} || char(31, 31)" if pad else f"{prefix}{name}")
    return ", ".join(values)


def _sqlite_index(padded: bool) -> tuple[str, ...]:
    """The triggers and the index's rows, with or without the padding."""
    new, old = _values("new", padded), _values("old", padded)
    return (
        "DROP TRIGGER documents_search_update",
        "DROP TRIGGER documents_search_delete",
        "DROP TRIGGER documents_search_insert",
        "CREATE TRIGGER documents_search_insert AFTER INSERT ON documents BEGIN"
        f" INSERT INTO documents_search(rowid, {COLUMNS}) VALUES (new.id, {new}); END",
        "CREATE TRIGGER documents_search_delete AFTER DELETE ON documents BEGIN"
        f" INSERT INTO documents_search(documents_search, rowid, {COLUMNS}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER documents_search_update AFTER UPDATE OF id, company_id, {UPDATED_COLUMNS}"
        " ON documents BEGIN"
        f" INSERT INTO documents_search(documents_search, rowid, {COLUMNS}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO documents_search(rowid, {COLUMNS}) VALUES (new.id, {new}); END",
        "INSERT INTO documents_search(documents_search) VALUES ('delete-all')",
        f"INSERT INTO documents_search(rowid, {COLUMNS}) SELECT id, {_values('', padded)} FROM documents",
    )


SQLITE_UPGRADE = (
    "CREATE VIRTUAL TABLE documents_search_terms USING fts5vocab(documents_search, 'col')",
    *_sqlite_index(padded=True),
)
SQLITE_DOWNGRADE = (*_sqlite_index(padded=False), "DROP TABLE documents_search_terms")

# Each document's pieces in a table of their own (a hundred to a document: in ``documents`` they would
# slow every walk along the list), kept by a trigger; filled here for the documents already there.
POSTGRES_UPGRADE = (
    # A larger sample of the searched text: the planner's guess of how many documents hold a text.
    "ALTER TABLE documents ALTER COLUMN search_text SET STATISTICS 1000",
    "CREATE FUNCTION ekpanel_search_pieces(haystack text, number text) RETURNS text[]"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array("
    " SELECT substr(haystack, i, n) FROM generate_series(1, length(haystack)) AS i,"
    " generate_series(1, 2) AS n WHERE i + n <= length(haystack) + 1"
    " UNION SELECT chr(30) || substr(number, i, n)"
    " FROM generate_series(1, length(number)) AS i,"
    " generate_series(1, 2) AS n WHERE i + n <= length(number) + 1) $$",
    "CREATE TABLE documents_search_pieces (document_id integer PRIMARY KEY REFERENCES documents (id)"
    " ON DELETE CASCADE, company_id integer NOT NULL, pieces text[] NOT NULL)",
    "CREATE FUNCTION documents_search_pieces_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO documents_search_pieces (document_id, company_id, pieces)"
    " VALUES (NEW.id, NEW.company_id, ekpanel_search_pieces(NEW.search_text, lower(NEW.invoice_number_normalised)))"
    " ON CONFLICT (document_id) DO UPDATE"
    " SET company_id = excluded.company_id, pieces = excluded.pieces; RETURN NULL; END $$",
    "CREATE TRIGGER documents_search_pieces_write AFTER INSERT OR UPDATE OF company_id, sender, subject,"
    " filename, invoice_number, invoice_number_normalised"
    " ON documents FOR EACH ROW EXECUTE FUNCTION documents_search_pieces_write()",
    "INSERT INTO documents_search_pieces (document_id, company_id, pieces) SELECT id, company_id,"
    " ekpanel_search_pieces(search_text, lower(invoice_number_normalised)) FROM documents",
    "CREATE INDEX ix_documents_search_pieces ON documents_search_pieces USING gin (pieces)",
)
POSTGRES_DOWNGRADE = (
    "DROP TRIGGER documents_search_pieces_write ON documents",
    "DROP TABLE documents_search_pieces",
    "DROP FUNCTION documents_search_pieces_write()",
    "DROP FUNCTION ekpanel_search_pieces(text, text)",
    "ALTER TABLE documents ALTER COLUMN search_text SET STATISTICS -1",
)


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRES_UPGRADE}.get(dialect, ()):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRES_DOWNGRADE}.get(dialect, ()):
        op.execute(statement)
