"""documents search index: FTS5 trigram table on SQLite, trigram GIN indexes on PostgreSQL

Revision ID: c4f1e7a2d9b3
Revises: bc341b5c619e
Create Date: 2026-12-07 01:30:00.000000

The list's search box finds a text inside the sender, subject, file name, invoice number (also
normalised) and NIPs; these serve it at 100 000 documents (ekpanel.documents.search_index says how):
on SQLite a contentless FTS5 table of trigrams, kept by triggers; on PostgreSQL a
stored lowered column and GIN indexes of trigrams.
The statements are written out here, not imported, so this revision keeps building what it built;
tests/test_migrations.py checks that they match what ``create_all`` builds today.

On SQLite the triggers belong to ``documents``: a later migration that rebuilds that table in batch
mode drops them and must create them again.
"""

import sqlite3

from alembic import op

# revision identifiers, used by Alembic.
revision = "c4f1e7a2d9b3"
down_revision = "bc341b5c619e"
branch_labels = None
depends_on = None

DOCUMENTS_COLUMNS = "sender, subject, filename, invoice_number, invoice_number_normalised, nips"
COLUMNS = f"company, {DOCUMENTS_COLUMNS}"  # company: "<12>", so that a query is one company's
NEW = ", ".join(["'<' || new.company_id || '>'", *(f"new.{name}" for name in DOCUMENTS_COLUMNS.split(", "))])
OLD = ", ".join(["'<' || old.company_id || '>'", *(f"old.{name}" for name in DOCUMENTS_COLUMNS.split(", "))])
SEPARATOR = "\x1f"  # ASCII unit separator between the columns of the searched text
HAYSTACK = f" || '{SEPARATOR}' || ".join(
    f"coalesce({name}, '')" for name in ("sender", "subject", "filename", "invoice_number")
)

SQLITE_UPGRADE = (
    f"CREATE VIRTUAL TABLE documents_search USING fts5({COLUMNS}, content='', tokenize='trigram case_sensitive 0')",
    "CREATE TRIGGER documents_search_insert AFTER INSERT ON documents BEGIN"
    f" INSERT INTO documents_search(rowid, {COLUMNS}) VALUES (new.id, {NEW}); END",
    "CREATE TRIGGER documents_search_delete AFTER DELETE ON documents BEGIN"
    f" INSERT INTO documents_search(documents_search, rowid, {COLUMNS}) VALUES ('delete', old.id, {OLD}); END",
    f"CREATE TRIGGER documents_search_update AFTER UPDATE OF id, company_id, {DOCUMENTS_COLUMNS}"
    " ON documents BEGIN"
    f" INSERT INTO documents_search(documents_search, rowid, {COLUMNS}) VALUES ('delete', old.id, {OLD});"
    f" INSERT INTO documents_search(rowid, {COLUMNS}) VALUES (new.id, {NEW}); END",
    # The documents already there.
    f"INSERT INTO documents_search(rowid, {COLUMNS})"
    f" SELECT id, '<' || company_id || '>', {DOCUMENTS_COLUMNS} FROM documents",
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER documents_search_update",
    "DROP TRIGGER documents_search_delete",
    "DROP TRIGGER documents_search_insert",
    "DROP TABLE documents_search",
)
# On PostgreSQL the haystack is kept lowered in a stored column: the search compares it with LIKE,
# as ILIKE would, without lowering each row again. Adding the column computes it for every document
# already there, and building an index reads them.
POSTGRES_UPGRADE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"ALTER TABLE documents ADD COLUMN search_text text GENERATED ALWAYS AS (lower({HAYSTACK})) STORED",
    "CREATE INDEX ix_documents_search_text ON documents USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX ix_documents_search_number ON documents USING gin (invoice_number_normalised gin_trgm_ops)",
    "CREATE INDEX ix_documents_search_nips ON documents USING gin (((nips)::text) gin_trgm_ops)",
)
# pg_trgm stays: an extension is the database's, and something else may use it.
POSTGRES_DOWNGRADE = (
    "DROP INDEX ix_documents_search_nips",
    "DROP INDEX ix_documents_search_number",
    "DROP INDEX ix_documents_search_text",
    "ALTER TABLE documents DROP COLUMN search_text",
)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite" and sqlite3.sqlite_version_info < (3, 34):
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} has no trigram tokenizer for the documents search; 3.34 or later is needed"
        )
    for statement in {"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRES_UPGRADE}.get(dialect, ()):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRES_DOWNGRADE}.get(dialect, ()):
        op.execute(statement)
