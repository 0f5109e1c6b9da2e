"""documents: what each PDF says (invoice number, NIPs, amount, accounts, KSeF) and its warnings

Revision ID: 507a71476dc9
Revises: b3e8f1a6c920
Create Date: 2026-12-06 22:04:17.732042

Documents taken before this are "pending": ``flask --app wsgi documents extract`` reads them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "507a71476dc9"
down_revision = "b3e8f1a6c920"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extraction_status", sa.String(length=16), nullable=False, server_default="pending"))
        batch_op.add_column(sa.Column("extraction_failure", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("extracted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("invoice_number", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("invoice_number_normalised", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("invoice_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("seller_nip", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("buyer_nip", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("amount_due", sa.Numeric(precision=15, scale=2), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("issue_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ksef_number", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("offline_mark", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("bank_accounts", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("nips", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("extraction", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("warnings", sa.JSON(none_as_null=True), nullable=True))
        # "ta sama faktura" and "zmieniony rachunek" look documents up by these.
        batch_op.create_index("ix_documents_company_ksef", ["company_id", "ksef_number"], unique=False)
        batch_op.create_index("ix_documents_company_seller_number", ["company_id", "seller_nip", "invoice_number_normalised"], unique=False)


def downgrade():
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_company_seller_number")
        batch_op.drop_index("ix_documents_company_ksef")
        batch_op.drop_column("warnings")
        batch_op.drop_column("extraction")
        batch_op.drop_column("nips")
        batch_op.drop_column("bank_accounts")
        batch_op.drop_column("offline_mark")
        batch_op.drop_column("ksef_number")
        batch_op.drop_column("issue_date")
        batch_op.drop_column("currency")
        batch_op.drop_column("amount_due")
        batch_op.drop_column("buyer_nip")
        batch_op.drop_column("seller_nip")
        batch_op.drop_column("invoice_kind")
        batch_op.drop_column("invoice_number_normalised")
        batch_op.drop_column("invoice_number")
        batch_op.drop_column("extracted_at")
        batch_op.drop_column("extraction_failure")
        batch_op.drop_column("extraction_status")
