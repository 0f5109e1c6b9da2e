"""Migrations build the schema the models describe, on SQLite and on PostgreSQL alike."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from ekpanel.extensions import db


def _drop_everything():
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_upgrade_builds_exactly_the_models_schema(app):
    _drop_everything()
    try:
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    finally:
        _drop_everything()
        db.create_all()


def test_documents_taken_before_invoice_details_wait_to_be_read(app):
    _drop_everything()
    try:
        upgrade(revision="b3e8f1a6c920")  # the revision before invoice details
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO companies (id, name, active, created_at) VALUES (1, 'Alfa', true, '2026-01-01')"
            )
            conn.exec_driver_sql(
                "INSERT INTO documents (company_id, server_label, source_folder, message_key, filename,"
                " size, sha256, status, created_at)"
                " VALUES (1, '', 'INBOX', 'k', 'f.pdf', 1, 'aa', 'new', '2026-01-01')"
            )
        upgrade()
        with db.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT extraction_status, offline_mark, warnings FROM documents"
            ).one()
        assert (row[0], bool(row[1]), row[2]) == ("pending", False, None)
    finally:
        _drop_everything()
        db.create_all()
