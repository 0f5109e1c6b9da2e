"""What a check writes: decisions, documents (exactly once), and the pruning of old decisions.

Writes through ``db.session``; ``commit_taken`` commits a batch's decisions and documents, in the
order ``ekpanel.checks.run`` documents. Documents are unique
per company, message key and PDF hash, so a message met again (after a crash before its move,
in a second folder, after a rescan) adds nothing and is recorded as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.models import Check, Decision
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail import vocabulary
from ekpanel.mail.decide import Verdict
from ekpanel.mail.mailbox import MessageSummary, RemoteFolder
from ekpanel.mail.texts import Note, Text, note
from ekpanel.timeutil import utcnow

_DUPLICATE = note(Text.DUPLICATE_MESSAGE)

# Statements built once: a check runs each at every batch, and building one costs more than running it.
_DECISIONS = Decision.__table__
_DOCUMENTS = Document.__table__
_RECORDED_SKIPS = select(_DECISIONS.c.message_key, _DECISIONS.c.reason).where(
    _DECISIONS.c.server_id == bindparam("server"),
    _DECISIONS.c.decision == vocabulary.Decision.SKIPPED,
    _DECISIONS.c.message_key.in_(bindparam("keys", expanding=True)),
)
_EXISTING = select(_DOCUMENTS.c.message_key, _DOCUMENTS.c.sha256).where(
    _DOCUMENTS.c.company_id == bindparam("company"),
    _DOCUMENTS.c.message_key.in_(bindparam("keys", expanding=True)),
)
_INSERT_DECISIONS = _DECISIONS.insert()
_INSERT_DOCUMENTS = _DOCUMENTS.insert().returning(_DOCUMENTS.c.id)
_PRUNE = _DECISIONS.delete().where(
    _DECISIONS.c.server_id == bindparam("server"), _DECISIONS.c.created_at < bindparam("cutoff")
)


@dataclass
class TakenMessage:
    message: MessageSummary
    key: str
    verdict: Verdict
    files: list[tuple[str, int, str]]  # (file name, size, SHA-256) of its stored PDFs
    allowed_by: int | None = None  # the user who let it in though "Wymagaj" kept it out


class Recorder:
    """Writes the rows of one check of one server.

    Decisions are queued by :meth:`record` and written with the batch's documents by
    :meth:`commit_taken`: one INSERT per table and one transaction per batch, not one ORM object
    per examined message.
    """

    def __init__(self, *, check_id: int, server_id: int, company_id: int, server_label: str) -> None:
        self.check_id = check_id
        self.server_id = server_id
        self.company_id = company_id
        self.server_label = server_label
        self._queued: list[dict] = []
        self._inserted_ids: list[int] = []  # documents of the transaction not yet committed
        self._committed_ids: list[int] = []  # committed, not yet handed on (take_new_document_ids)

    def recorded_skips(self, keys: set[str]) -> set[tuple[str, str | None]]:
        """(message key, reason) of skips already recorded for this server: not recorded again."""
        if not keys:
            return set()
        rows = db.session.execute(_RECORDED_SKIPS, {"server": self.server_id, "keys": list(keys)})
        return {(row.message_key, row.reason) for row in rows}

    def record(self, folder: RemoteFolder, message: MessageSummary, key: str, verdict: Verdict) -> None:
        """Queue the decision about one message; :meth:`commit_taken` writes it."""
        self._queued.append(self._decision(folder, message, key, verdict))

    def forget_queued(self) -> None:
        """Drop the decisions queued since the last commit (their batch was rolled back)."""
        self._queued = []

    def commit_taken(self, folder: RemoteFolder, taken: list[TakenMessage]) -> list[int]:
        """Commit the queued decisions and the documents of taken messages; per taken message,
        how many documents were new (0: duplicate).

        One transaction when nothing collides; when another check of the same company committed
        some of the same documents meanwhile, the queued decisions first, then message by message.
        """
        queued, self._queued = self._queued, []
        try:
            created = self._add(folder, taken, queued)
            self._commit()
            return created
        except IntegrityError:
            self._rollback()
        self._insert_decisions(queued)
        self._commit()
        created = []
        for item in taken:
            try:
                created += self._add(folder, [item])
                self._commit()
            except IntegrityError:
                self._rollback()
                created += self._add(folder, [item], duplicate=True)
                self._commit()
        return created

    def take_new_document_ids(self) -> list[int]:
        """The ids of the documents committed since the last call (for the follow-up reading)."""
        ids, self._committed_ids = self._committed_ids, []
        return ids

    def _commit(self) -> None:
        db.session.commit()
        self._committed_ids += self._inserted_ids
        self._inserted_ids = []

    def _rollback(self) -> None:
        db.session.rollback()
        self._inserted_ids = []

    def _add(
        self,
        folder: RemoteFolder,
        taken: list[TakenMessage],
        decisions: list[dict] | None = None,
        *,
        duplicate: bool = False,
    ) -> list[int]:
        existing = self._existing({item.key for item in taken}) if taken else set()
        decisions = list(decisions or [])
        documents = []
        created = []
        for item in taken:
            count = 0
            for filename, size, sha in item.files:
                if duplicate or (item.key, sha) in existing:
                    continue
                existing.add((item.key, sha))
                documents.append(self._document(folder, item, filename, size, sha))
                count += 1
            verdict = (
                item.verdict
                if count
                else Verdict(vocabulary.Decision.SKIPPED, vocabulary.Reason.DUPLICATE, _DUPLICATE)
            )
            decisions.append(self._decision(folder, item.message, item.key, verdict))
            created.append(count)
        self._insert_decisions(decisions)
        if documents:
            self._inserted_ids += db.session.scalars(_INSERT_DOCUMENTS, documents).all()
        return created

    @staticmethod
    def _insert_decisions(rows: list[dict]) -> None:
        if rows:
            db.session.execute(_INSERT_DECISIONS, rows)

    def _existing(self, keys: set[str]) -> set[tuple[str, str]]:
        """(message key, SHA-256) of this company's documents from these messages."""
        rows = db.session.execute(_EXISTING, {"company": self.company_id, "keys": list(keys)})
        return set(rows.tuples())

    def _decision(self, folder: RemoteFolder, message: MessageSummary, key: str, verdict: Verdict) -> dict:
        return {
            "check_id": self.check_id,
            "server_id": self.server_id,
            "folder": folder.display[:500],
            "message_ref": message.ref[:500],
            "message_key": key,
            "message_id": message.message_id,
            "sender": (message.sender or "")[:320] or None,
            "subject": message.subject,
            "received_at": naive_utc(message.received_at),
            "decision": verdict.decision,
            "reason": verdict.reason,
            "detail_note": verdict.detail.to_json() if verdict.detail else None,
        }

    def _document(self, folder: RemoteFolder, item: TakenMessage, filename: str, size: int, sha: str) -> dict:
        message, key, check = item.message, item.key, item.verdict.sender_check
        return {
            "company_id": self.company_id,
            "server_id": self.server_id,
            "server_label": self.server_label[:255],
            "check_id": self.check_id,
            "source_folder": folder.display[:500],
            "message_id": message.message_id,
            "message_key": key,
            "sender": (message.sender or "")[:320] or None,
            "subject": message.subject,
            "received_at": naive_utc(message.received_at),
            "filename": filename,
            "size": size,
            "sha256": sha,
            "sender_verdict": check.verdict if check is not None else None,
            "sender_evidence": check.to_json() if check is not None else None,
            "allowed_by_id": item.allowed_by,
        }


_CHECKS = Check.__table__
# Built once: a check runs it at each commit, and building it costs more than running it.
_UPDATE_CHECK = _CHECKS.update().where(_CHECKS.c.id == bindparam("check"))


def save_progress(check_id: int, counts: CheckCounts, warnings: list[Note]) -> None:
    """The check's counts and warnings so far, into the open transaction."""
    notes = [warning.to_json() for warning in warnings] or None
    db.session.execute(_UPDATE_CHECK, {"check": check_id, **counts.to_json(), "warning_notes": notes})


def save_end(check_id: int, outcome: str, error_code: str | None, error: Note | None) -> None:
    """How the check ended, into the open transaction."""
    db.session.execute(
        _UPDATE_CHECK,
        {
            "check": check_id,
            "finished_at": utcnow(),
            "outcome": outcome,
            "error_code": error_code[:40] if error_code else None,
            "error_note": error.to_json() if error else None,
        },
    )


def prune_decisions(server_id: int, log_days: int) -> None:
    """Forget the decisions of this server older than ``log_days`` (the check's first commit)."""
    db.session.execute(_PRUNE, {"server": server_id, "cutoff": utcnow() - timedelta(days=max(log_days, 1))})


def naive_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
