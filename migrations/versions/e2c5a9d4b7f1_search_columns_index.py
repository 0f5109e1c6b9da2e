"""documents search, SQLite: an index of the searched columns by company

Revision ID: e2c5a9d4b7f1
Revises: d8a3b6e1f4c7
Create Date: 2026-12-07 07:00:00.000000

A short text in nearly every document is searched by LIKE along the list (ekpanel.documents.search
says when). Its count tests up to tens of thousands of documents: from this index it reads their
searched columns alone, not every whole row. PostgreSQL reads such a text through its own indexes.
The statement is written out here, not imported; tests/test_migrations.py checks that it matches
what ``create_all`` builds today.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "e2c5a9d4b7f1"
down_revision = "d8a3b6e1f4c7"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE INDEX documents_search_columns ON documents"
            " (company_id, sender, subject, filename, invoice_number, invoice_number_normalised)"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX documents_search_columns")
