"""Where the last check of each folder stopped: read as a folder is opened, advanced after each move,
written with the check's next commit (``ekpanel.checks.run``).

Kept here between commits rather than in the session: an ORM row changed in the session is flushed by
the next query, and on SQLite that write would hold the database's write lock while the check waits
for its mail server. The statements are built once; a check runs each a few times, and building one
costs more than running it.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from ekpanel.checks.models import FolderState
from ekpanel.extensions import db
from ekpanel.mail.mailbox import FolderCursor, RemoteFolder

_TABLE = FolderState.__table__
_WHERE = (_TABLE.c.server_id == bindparam("server"), _TABLE.c.folder == bindparam("ref"))
_SELECT = select(_TABLE.c.uidvalidity, _TABLE.c.last_uid, _TABLE.c.delta_link, _TABLE.c.config_hash).where(
    *_WHERE
)
_UPDATE = _TABLE.update().where(*_WHERE)
_INSERT = _TABLE.insert()


class FolderCursors:
    """One check's view of its server's folder cursors."""

    def __init__(self, server_id: int) -> None:
        self.server_id = server_id
        self._advanced: dict[str, dict] = {}  # folder ref -> the cursor after its last move
        self._rows: set[str] = set()  # folders whose row exists

    def saved(self, folder: RemoteFolder) -> tuple[FolderCursor, str | None] | None:
        """The folder's cursor and the configuration it was made under; None before its first check."""
        row = db.session.execute(_SELECT, {"server": self.server_id, "ref": folder.ref}).first()
        if row is None:
            return None
        self._rows.add(folder.ref)
        return FolderCursor(row.uidvalidity, row.last_uid, row.delta_link), row.config_hash

    def advance(self, folder: RemoteFolder, cursor: FolderCursor, config_hash: str) -> None:
        """The folder's messages up to ``cursor`` are decided and the taken ones moved."""
        self._advanced[folder.ref] = {
            "uidvalidity": cursor.uidvalidity,
            "last_uid": cursor.last_uid,
            "delta_link": cursor.delta_link,
            "config_hash": config_hash,
        }

    def write(self) -> None:
        """Into the open transaction: every advanced cursor (again, should an earlier commit have failed)."""
        for ref, values in self._advanced.items():
            if ref not in self._rows:
                self._rows.add(ref)
                try:
                    with db.session.begin_nested():
                        db.session.execute(_INSERT, {"server_id": self.server_id, "folder": ref, **values})
                    continue
                except IntegrityError:  # another check of this server wrote it just now
                    pass
            db.session.execute(_UPDATE, {"server": self.server_id, "ref": ref, **values})
