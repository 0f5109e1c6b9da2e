"""documents: when each was first read

Revision ID: f3b8d1a6c2e4
Revises: e2c5a9d4b7f1
Create Date: 2026-12-07 09:00:00.000000

The daily digest counts the documents to look at among those first read since the digest before it,
so a document read after the digest that counted its arrival is told of in the next one.
``extracted_at`` cannot say it: reading again (``documents extract --all``) moves it. The documents
read before this revision get their arrival: the digests of their days already counted them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3b8d1a6c2e4"
down_revision = "e2c5a9d4b7f1"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases: SQLite's batch mode would copy the table and lose the search
# index's triggers on it.
def upgrade():
    op.add_column("documents", sa.Column("first_read_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE documents SET first_read_at = created_at WHERE extraction_status <> 'pending'")


def downgrade():
    op.drop_column("documents", "first_read_at")
