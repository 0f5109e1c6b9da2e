"""documents sha256 index

Revision ID: 5c371ac9aada
Revises: 329be2a227c1
Create Date: 2026-11-24 03:38:48.417490

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5c371ac9aada"
down_revision = "329be2a227c1"
branch_labels = None
depends_on = None


def upgrade():
    # Finding the same PDF sent again in another e-mail (ekpanel.documents.queries.same_file_elsewhere).
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_company_sha256", ["company_id", "sha256"], unique=False)



def downgrade():
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_company_sha256")
