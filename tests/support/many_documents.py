"""Loading 100 000 documents in seconds: the EXPLAIN tests and bench/documents_list.py need that many
for the planners to choose as they will in an office, and row-by-row inserts take a minute."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable

from sqlalchemy import JSON, insert, text

from ekpanel.documents import search_index
from ekpanel.documents.models import Document
from ekpanel.extensions import db

_BATCH = 10_000


def insert_documents(rows: Iterable[dict]) -> None:
    """Insert the documents (dicts of column values; the models' defaults fill the rest), build the
    search index once for all of them, commit, and gather the planner's statistics."""
    connection = db.session.connection()
    with search_index.built_afterwards(connection):
        if connection.dialect.name == "postgresql":
            _copy(connection, rows)
        else:
            batch: list[dict] = []
            for row in rows:
                batch.append(row)
                if len(batch) == _BATCH:
                    db.session.execute(insert(Document), batch)
                    batch.clear()
            if batch:
                db.session.execute(insert(Document), batch)
    db.session.commit()
    db.session.execute(text("ANALYZE"))  # PostgreSQL: documents and the search index's table of pieces
    db.session.commit()


def _copy(connection, rows: Iterable[dict]) -> None:
    """PostgreSQL's COPY, in the session's own transaction, a batch at a time (the rows are made
    outside the COPY: one that reads the database meanwhile would wait for the connection forever)."""
    table = Document.__table__
    rows = iter(rows)
    while batch := list(itertools.islice(rows, _BATCH)):
        # Column defaults as the models give them (a callable one is SQLAlchemy's, taking a context).
        defaults = {
            column.name: column.default.arg
            for column in table.columns
            if column.default is not None and column.name not in batch[0]
        }
        names = [*batch[0], *defaults]
        json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
        for row in batch:
            row.update({name: arg(None) if callable(arg) else arg for name, arg in defaults.items()})
            for name in json_columns:
                if row[name] is not None:
                    row[name] = json.dumps(row[name])
        statement = f"COPY documents ({', '.join(names)}) FROM STDIN"
        with connection.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in batch:
                copy.write_row([row[name] for name in names])
