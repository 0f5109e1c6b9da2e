"""Migrations build the schema the models describe, on SQLite and on PostgreSQL alike."""

import re
from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from ekpanel.documents.queries import DocumentFilters, document_page
from ekpanel.documents.search_index import is_search_index
from ekpanel.extensions import db

BEFORE_SEARCH = "bc341b5c619e"  # the revision before the documents search index
BEFORE_FIRST_READ = "e2c5a9d4b7f1"  # the revision before documents.first_read_at


def _not_search_index(object_, name, type_, reflected, compare_to):
    return not is_search_index(name)  # built by statements of its own, not from the metadata


def _search_schema() -> set[tuple[str, str]]:
    """The search index's objects as the database describes them (whitespace aside)."""
    if db.engine.dialect.name == "postgresql":
        queries = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE starts_with(tablename, 'documents')",
            "SELECT column_name, generation_expression FROM information_schema.columns"
            " WHERE table_name = 'documents' AND is_generated = 'ALWAYS'",
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
            "SELECT proname, pg_get_functiondef(oid) FROM pg_proc"
            " WHERE pronamespace = 'public'::regnamespace",
            "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)"
            " FROM information_schema.columns WHERE starts_with(table_name, 'documents_search')"
            " GROUP BY table_name",
        )
    else:
        queries = ("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL",)
    with db.engine.connect() as conn:
        rows = [row for query in queries for row in conn.exec_driver_sql(query)]
    return {(name, re.sub(r"\s+", " ", sql)) for name, sql in rows if is_search_index(name)}


def _drop_everything():
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_upgrade_builds_exactly_the_models_schema(app):
    built_by_create_all = _search_schema()
    assert built_by_create_all, "create_all built no search index"
    _drop_everything()
    try:
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _not_search_index})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert _search_schema() == built_by_create_all
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


def test_the_search_index_takes_the_documents_already_there_and_goes_down_cleanly(app):
    _drop_everything()
    try:
        upgrade(revision=BEFORE_SEARCH)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO companies (id, name, active, created_at) VALUES (1, 'Alfa', true, '2026-01-01')"
            )
            for n, sender in enumerate(("Hurtownia ŁÓDŹ <biuro@lodz.example>", "faktury@dostawca.pl")):
                conn.execute(
                    text(
                        "INSERT INTO documents (company_id, server_label, source_folder, message_key, sender,"
                        " received_at, filename, size, sha256, status, created_at, extraction_status,"
                        " offline_mark) VALUES (1, '', 'INBOX', :key, :sender, :received_at, 'f.pdf', 1,"
                        " 'aa', 'new', '2026-01-01', 'pending', false)"
                    ),
                    {"key": f"k{n}", "sender": sender, "received_at": datetime(2026, 1, 1 + n)},
                )
        upgrade()
        # On SQLite a text is looked up in the FTS table only (a short one through its vocabulary).
        for typed in ("łódź", "ł", "E>"):  # and one or two characters ("E>" at the very end)
            page = document_page(1, DocumentFilters(text=typed), timezone="Europe/Warsaw")
            assert [document.sender for document in page.documents] == ["Hurtownia ŁÓDŹ <biuro@lodz.example>"]
        db.session.remove()

        downgrade(revision=BEFORE_SEARCH)
        assert _search_schema() == set()
        assert not any(is_search_index(name) for name in inspect(db.engine).get_table_names())
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM documents").scalar() == 2
        upgrade()  # and up again, over the same documents
        assert _search_schema()
    finally:
        db.session.remove()
        _drop_everything()
        db.create_all()


def test_documents_read_before_first_read_at_count_as_read_when_they_came(app):
    _drop_everything()
    try:
        upgrade(revision=BEFORE_FIRST_READ)
        search_schema = _search_schema()
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO companies (id, name, active, created_at) VALUES (1, 'Alfa', true, '2026-01-01')"
            )
            for n, status in enumerate(("ok", "pending")):
                conn.execute(
                    text(
                        "INSERT INTO documents (company_id, server_label, source_folder, message_key, sender,"
                        " filename, size, sha256, status, created_at, extraction_status, offline_mark)"
                        " VALUES (1, '', 'INBOX', :key, 'faktury@dostawca.pl', 'f.pdf', 1, 'aa', 'new',"
                        " :created_at, :status, false)"
                    ),
                    {"key": f"k{n}", "created_at": datetime(2026, 1, 1 + n), "status": status},
                )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT extraction_status, first_read_at = created_at, first_read_at IS NULL"
                " FROM documents ORDER BY id"
            )
            assert [(status, bool(same), bool(unread)) for status, same, unread in rows] == [
                ("ok", True, False),
                ("pending", False, True),
            ]
        assert _search_schema() == search_schema  # the column came without touching the search index
        page = document_page(1, DocumentFilters(text="dostawca"), timezone="Europe/Warsaw")
        assert len(page.documents) == 2
        db.session.remove()

        downgrade(revision=BEFORE_FIRST_READ)
        columns = {column["name"] for column in inspect(db.engine).get_columns("documents")}
        assert "first_read_at" not in columns
        assert _search_schema() == search_schema
    finally:
        db.session.remove()
        _drop_everything()
        db.create_all()
