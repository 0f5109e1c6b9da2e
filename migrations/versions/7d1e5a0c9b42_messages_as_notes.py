"""check messages stored as notes (a code and parameters), not as Polish text

Revision ID: 7d1e5a0c9b42
Revises: 5c371ac9aada
Create Date: 2026-12-06 22:30:00

A check's error, its warnings and a decision's detail were stored as Polish text rendered in the
worker. They become notes, ``{"code": ..., "params": {...}}``, rendered in the reader's language.
Each stored text is matched against the msgids of ekpanel.mail.texts; a text no msgid matches is
kept as ``{"text": ...}`` and shown as it was stored.
"""

import json
import re

import sqlalchemy as sa
from alembic import op

from ekpanel.mail.texts import MSGIDS, Note

# revision identifiers, used by Alembic.
revision = "7d1e5a0c9b42"
down_revision = "5c371ac9aada"
branch_labels = None
depends_on = None

BATCH = 1000
_PLACEHOLDER = re.compile(r"%\\\((\w+)\\\)[sr]")
# Before notes, the unexpected error was written with %(error)r; the same text either way.
_PATTERNS = sorted(
    (
        (code, re.compile(_PLACEHOLDER.sub(r"(?P<\1>.*?)", re.escape(msgid)), re.DOTALL))
        for code, msgid in MSGIDS.items()
    ),
    key=lambda item: -len(item[1].pattern),
)


def text_to_note(text: str) -> dict:
    """The note a stored Polish text was rendered from; ``{"text": text}`` when none matches."""
    for code, pattern in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            params = {}
            for name, value in match.groupdict().items():
                inner = text_to_note(value)  # a reason may itself be a message ("not moved: <why>")
                params[name] = inner if "code" in inner else value
            return {"code": str(code), "params": params}
    return {"text": text}


def note_to_text(value) -> str | None:
    if not value:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    if "code" in value:
        found = Note.from_json(value)
        return found.polish() if found is not None else str(value.get("code"))
    return value.get("text")


def _convert(table: str, old: str, new: str, convert) -> None:
    bind = op.get_bind()
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(old, sa.Text), sa.column(new, sa.JSON))
    last_id = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, rows.c[old])
            .where(rows.c.id > last_id, rows.c[old].is_not(None))
            .order_by(rows.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        for row_id, value in batch:
            bind.execute(rows.update().where(rows.c.id == row_id).values({new: convert(value)}))
        last_id = batch[-1][0]


def upgrade():
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_note", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("warning_notes", sa.JSON(), nullable=True))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail_note", sa.JSON(), nullable=True))

    _convert("checks", "error_message", "error_note", text_to_note)
    _convert(
        "checks",
        "warnings",
        "warning_notes",
        lambda text: [text_to_note(line) for line in text.splitlines() if line.strip()] or None,
    )
    _convert("decisions", "detail", "detail_note", text_to_note)

    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_column("error_message")
        batch_op.drop_column("warnings")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("detail")


def downgrade():
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("warnings", sa.Text(), nullable=True))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))

    bind = op.get_bind()
    checks = sa.table(
        "checks",
        sa.column("id", sa.Integer),
        sa.column("error_note", sa.JSON),
        sa.column("warning_notes", sa.JSON),
        sa.column("error_message", sa.Text),
        sa.column("warnings", sa.Text),
    )
    for row_id, error, warnings in bind.execute(
        sa.select(checks.c.id, checks.c.error_note, checks.c.warning_notes)
    ):
        if isinstance(warnings, str):
            warnings = json.loads(warnings)
        lines = [note_to_text(item) for item in warnings or []]
        bind.execute(
            checks.update()
            .where(checks.c.id == row_id)
            .values(error_message=note_to_text(error), warnings="\n".join(filter(None, lines)) or None)
        )
    decisions = sa.table(
        "decisions",
        sa.column("id", sa.Integer),
        sa.column("detail_note", sa.JSON),
        sa.column("detail", sa.Text),
    )
    for row_id, detail in bind.execute(
        sa.select(decisions.c.id, decisions.c.detail_note).where(decisions.c.detail_note.is_not(None))
    ):
        bind.execute(decisions.update().where(decisions.c.id == row_id).values(detail=note_to_text(detail)))

    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_column("error_note")
        batch_op.drop_column("warning_notes")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("detail_note")

