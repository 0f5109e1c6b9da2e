"""Reading the documents list: filters, keyset pages and capped counts.

Pages are keyset pages over the index ``(company_id, received_at, id)``: a page is "the next
50 after this (received_at, id)", so page 2 000 costs what page 1 costs. Documents without a date
received (a message with no usable date) come after all dated ones, on both databases: the two
groups are read by two index range scans, never by ``NULLS LAST`` (which PostgreSQL cannot serve
from the index backwards).

The search box's text is found through an index on each database (ekpanel.documents.search and
search_index); on SQLite, how many documents the FTS table finds decides how a page is read
(looked_up, _read).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, tuple_

from ekpanel.documents import search_index
from ekpanel.documents.models import STATUS_NEW, STATUS_REGISTERED, Document
from ekpanel.documents.search import TextSearch, text_search
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer
from ekpanel.timeutil import day_start_utc

PAGE_SIZE = 50
COUNT_CAP = 10_000  # beyond this the list says "more than 10 000" instead of counting every row
STATUSES = (STATUS_NEW, STATUS_REGISTERED)
# The sender's verdict a list can be filtered by (ekpanel.mail.authres.SenderVerdict), and
# "none": documents taken while the server's sender verification was off.
VERDICTS = ("confirmed", "unconfirmed", "failed")
NOT_VERIFIED = "none"
STAMP_FORMAT = "%Y%m%dT%H%M%S%f"  # a moment in a URL: list cursors, the refresh's "since"
# SQLite: a text the FTS table finds in more of a company's documents than this is read along the list
# (see looked_up and _read), through a window of the WINDOW next rows first.
FEW_FOUND = 1_000
WINDOW = 2_000


@dataclass(frozen=True)
class DocumentFilters:
    text: str = ""
    date_from: date | None = None  # inclusive, in the office's time zone
    date_to: date | None = None  # inclusive, in the office's time zone
    status: str = ""  # "" for any
    with_warnings: bool = False  # only documents with a warning (ekpanel.documents.warnings)
    verdict: str = ""  # "" for any; one of VERDICTS, or NOT_VERIFIED


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the (received_at, id) of a document."""

    received_at: datetime | None
    id: int

    def encode(self) -> str:
        stamp = self.received_at.strftime(STAMP_FORMAT) if self.received_at else ""
        return f"{stamp}~{self.id}"

    @classmethod
    def of(cls, document: Document) -> Cursor:
        return cls(document.received_at, document.id)

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """The cursor in a URL; None for anything malformed (the first page is shown then)."""
        if not value or "~" not in value:
            return None
        stamp, _, ident = value.partition("~")
        try:
            received_at = datetime.strptime(stamp, STAMP_FORMAT) if stamp else None
            return cls(received_at, int(ident))
        except ValueError:
            return None


@dataclass
class DocumentPage:
    documents: list[Document]
    newer: Cursor | None  # set when there are newer documents: the link goes "before" it
    older: Cursor | None  # set when there are older documents: the link goes "after" it
    total: int
    total_capped: bool  # True: there are more than ``total`` documents


@dataclass(frozen=True)
class Selection:
    """The documents the filters select: the company's, the conditions of the filters but the text,
    and the typed text's search."""

    company_id: int
    filters: list
    text: TextSearch | None = None
    # SQLite: the ids the FTS table found, when they are few (see looked_up).
    found: tuple[int, ...] | None = None

    @property
    def base(self) -> list:
        """Every condition but the text's."""
        return [Document.company_id == self.company_id, *self.filters]

    @property
    def text_conditions(self) -> list:
        if self.text is None:
            return []
        if self.found is not None:
            return [Document.id.in_(self.found)]
        return [self.text.condition]

    @property
    def conditions(self) -> list:
        return [*self.base, *self.text_conditions]

    @property
    def common(self) -> bool:
        """SQLite: the FTS table finds the text in more than FEW_FOUND of the company's documents."""
        return self.text is not None and bool(self.text.fts) and self.found is None


def selection(company_id: int, filters: DocumentFilters, timezone: str) -> Selection:
    conditions = []
    if filters.status in STATUSES:
        conditions.append(Document.status == filters.status)
    if filters.verdict in VERDICTS:
        conditions.append(Document.sender_verdict == filters.verdict)
    elif filters.verdict == NOT_VERIFIED:
        conditions.append(Document.sender_verdict.is_(None))
    if filters.date_from:
        conditions.append(Document.received_at >= day_start_utc(filters.date_from, timezone))
    if filters.date_to:
        conditions.append(Document.received_at < day_start_utc(filters.date_to + timedelta(days=1), timezone))
    if filters.with_warnings:
        conditions.append(Document.warnings.is_not(None))
    # A NUL cannot be typed, PostgreSQL holds none, and FTS5 would end the text there: it is left out.
    text = filters.text.replace("\x00", "").strip()
    if not text:
        return Selection(company_id, conditions)
    return Selection(
        company_id, conditions, text_search(company_id, text, db.session.get_bind().dialect.name)
    )


def filter_conditions(company_id: int, filters: DocumentFilters, timezone: str) -> list:
    """Every condition of the filters, the text's too."""
    return selection(company_id, filters, timezone).conditions


def list_query(conditions: list, limit: int = PAGE_SIZE):
    """The first page's query (dated documents, newest first); the bench and EXPLAIN tests use it."""
    return (
        select(Document)
        .where(*conditions, Document.received_at.is_not(None))
        .order_by(Document.received_at.desc(), Document.id.desc())
        .limit(limit)
    )


def looked_up(chosen: Selection) -> tuple[Selection, tuple[int, bool] | None]:
    """SQLite: ask the FTS table once which documents hold the text, for the page and its count.

    How many it finds decides how a page is read (_read), which SQLite's planner cannot know, as
    PostgreSQL's does from its statistics. Up to FEW_FOUND, their ids are the text's condition from
    here on; beyond, the page is read along the list, and the count (returned) is the FTS table's.
    """
    if chosen.text is None or not chosen.text.fts:
        return chosen, None
    ids = tuple(db.session.scalars(search_index.fts_ids(chosen.text.fts).limit(FEW_FOUND + 1)))
    if len(ids) <= FEW_FOUND:
        return replace(chosen, found=ids), None
    return chosen, capped_count(chosen)


def _read(chosen: Selection, query, keys: tuple, descending: bool, limit: int) -> list[Document]:
    """Up to ``limit`` rows of ``query`` (the base conditions and the cursor in it) that the text
    selects, in the order of ``keys``.

    When the FTS table finds the text in many documents (SQLite, see looked_up), the next ``WINDOW``
    rows of the list, read in order with LIKE, hold a page as a rule ("faktura" or a year is in every
    one); when they do not, the list is walked in its order and each row looked up among what the FTS
    table found. Sorting all it found would cost as much as there are ("faktura": 100 000).
    """
    ordered = query.order_by(*(key.desc() if descending else key.asc() for key in keys))
    if not chosen.common:
        return list(db.session.scalars(ordered.where(*chosen.text_conditions).limit(limit)))
    # The window's far end, so that the index is read no further than the window.
    last = db.session.execute(ordered.with_only_columns(*keys).offset(WINDOW - 1).limit(1)).first()
    window = ordered
    if last is not None:
        bound = tuple_(*keys) if len(keys) > 1 else keys[0]
        value = tuple(last) if len(keys) > 1 else last[0]
        window = ordered.where(bound >= value if descending else bound <= value)
    rows = list(db.session.scalars(window.where(chosen.text.like).limit(limit)))
    if len(rows) == limit or last is None:
        return rows  # a page, or the window was every row there is
    # ``+ 0``: not by id (the FTS table found too many to sort), but along the list's index.
    walked = ordered.where((Document.id + 0).in_(search_index.fts_ids(chosen.text.fts)))
    return list(db.session.scalars(walked.limit(limit)))


def _older_than(chosen: Selection, cursor: Cursor | None, limit: int) -> list[Document]:
    """Up to ``limit`` documents after ``cursor`` in list order (newest first)."""
    received, ident = Document.received_at, Document.id
    rows: list[Document] = []
    if cursor is None or cursor.received_at is not None:
        query = select(Document).where(*chosen.base, received.is_not(None))
        if cursor is not None:
            # A row-value comparison is one range of the index on both databases.
            query = query.where(tuple_(received, ident) < (cursor.received_at, cursor.id))
        rows = _read(chosen, query, (received, ident), True, limit)
    if len(rows) < limit:
        query = select(Document).where(*chosen.base, received.is_(None))
        if cursor is not None and cursor.received_at is None:
            query = query.where(ident < cursor.id)
        rows += _read(chosen, query, (ident,), True, limit - len(rows))
    return rows


def _newer_than(chosen: Selection, cursor: Cursor, limit: int) -> list[Document]:
    """Up to ``limit`` documents before ``cursor`` in list order, nearest first."""
    received, ident = Document.received_at, Document.id
    rows: list[Document] = []
    if cursor.received_at is None:
        query = select(Document).where(*chosen.base, received.is_(None), ident > cursor.id)
        rows = _read(chosen, query, (ident,), False, limit)
    if len(rows) < limit:
        query = select(Document).where(*chosen.base, received.is_not(None))
        if cursor.received_at is not None:
            query = query.where(tuple_(received, ident) > (cursor.received_at, cursor.id))
        rows += _read(chosen, query, (received, ident), False, limit - len(rows))
    return rows


def all_documents(company_id: int, filters: DocumentFilters, *, timezone: str) -> Iterator[Document]:
    """Every document the list shows with these filters, in its order (the export reads them)."""
    conditions = filter_conditions(company_id, filters, timezone)
    received, ident = Document.received_at, Document.id
    for query in (
        select(Document).where(*conditions, received.is_not(None)).order_by(received.desc(), ident.desc()),
        select(Document).where(*conditions, received.is_(None)).order_by(ident.desc()),
    ):
        yield from db.session.scalars(query.execution_options(yield_per=500))


def capped_count(chosen: Selection) -> tuple[int, bool]:
    """How many documents match, counting no further than COUNT_CAP."""
    if chosen.common and not chosen.filters:
        # The FTS table finds the company's documents by itself: no need to read them.
        found = search_index.fts_table()
        inner = select(found.c.rowid).where(search_index.fts_matches(chosen.text.fts))
    elif chosen.common:
        # Read from the FTS table as it finds them, so counting stops at the cap (not: all of them
        # first); ``+ 0`` keeps SQLite from looking the FTS table up once per document.
        found = search_index.fts_table()
        inner = select(Document.id).join_from(found, Document, Document.id == found.c.rowid + 0)
        inner = inner.where(search_index.fts_matches(chosen.text.fts), *chosen.base)
    else:
        inner = select(Document.id).where(*chosen.conditions)
    inner = inner.limit(COUNT_CAP + 1).subquery()
    count = db.session.scalar(select(func.count()).select_from(inner)) or 0
    return min(count, COUNT_CAP), count > COUNT_CAP


def document_page(
    company_id: int,
    filters: DocumentFilters,
    *,
    timezone: str,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> DocumentPage:
    """One page of the list: the first, the one ``after`` a cursor (older), or ``before`` it (newer)."""
    chosen, counted = looked_up(selection(company_id, filters, timezone))
    if before is not None:
        rows = _newer_than(chosen, before, size + 1)
        if len(rows) > size:
            documents = list(reversed(rows[:size]))
            total, capped = counted or capped_count(chosen)
            return DocumentPage(documents, Cursor.of(documents[0]), Cursor.of(documents[-1]), total, capped)
        after = None  # fewer than a page of newer documents: that is the first page
    rows = _older_than(chosen, after, size + 1)
    documents = rows[:size]
    newer = Cursor.of(documents[0]) if after is not None and documents else None
    older = Cursor.of(documents[-1]) if len(rows) > size else None
    if after is None and older is None:
        total, capped = len(documents), False  # all of it is on this page: no second scan to count
    else:
        total, capped = counted or capped_count(chosen)
    return DocumentPage(documents, newer, older, total, capped)


def same_file_elsewhere(company_id: int, documents: list[Document]) -> dict[int, list[Document]]:
    """Document id → the company's other documents with the same PDF (same SHA-256), oldest first.

    One message's PDF is one document however often it is seen; the same invoice sent again in a new
    e-mail is a second one. Both stay (they are two receipts), but whoever registers them should know.
    """
    hashes = {document.sha256 for document in documents}
    if not hashes:
        return {}
    by_hash: dict[str, list[Document]] = {}
    for row in db.session.scalars(same_file_query(company_id, hashes)):
        by_hash.setdefault(row.sha256, []).append(row)
    return {
        document.id: [other for other in by_hash.get(document.sha256, []) if other.id != document.id]
        for document in documents
        if len(by_hash.get(document.sha256, [])) > 1
    }


def same_file_query(company_id: int, hashes: set[str]):
    """The company's documents with any of these SHA-256 (index ix_documents_company_sha256)."""
    return (
        select(Document)
        .where(Document.company_id == company_id, Document.sha256.in_(sorted(hashes)))
        .order_by(Document.received_at, Document.id)
    )


def failed_sender_count(company_id: int) -> int:
    """How many of the company's *Nowy* documents came from a sender the mail server contradicted
    (*niezgodny*): the list says so above everything, so nobody books one unawares."""
    query = select(func.count()).where(
        Document.company_id == company_id,
        Document.status == STATUS_NEW,
        Document.sender_verdict == "failed",
    )
    return db.session.scalar(query) or 0


def new_counts(company_ids: list[int]) -> dict[int, int]:
    """How many documents are still *Nowy*, per company (the left-hand list shows it)."""
    if not company_ids:
        return {}
    rows = db.session.execute(
        select(Document.company_id, func.count())
        .where(Document.company_id.in_(company_ids), Document.status == STATUS_NEW)
        .group_by(Document.company_id)
    )
    return dict(rows.all())


def company_documents_by_id(company_id: int, ids: list[int]) -> list[Document]:
    """The documents among ``ids`` that belong to the company; others are silently left out."""
    if not ids:
        return []
    return list(
        db.session.scalars(select(Document).where(Document.company_id == company_id, Document.id.in_(ids)))
    )


def server_labels(company_id: int) -> dict[int, str]:
    """The company's servers by id, named as lists name them (a deleted one's name is on its documents)."""
    servers = db.session.scalars(select(MailServer).where(MailServer.company_id == company_id))
    return {server.id: server.label for server in servers}


# --- Odśwież: the moment a refresh started, carried in its URL --------------------------------------


def encode_stamp(value: datetime) -> str:
    return value.strftime(STAMP_FORMAT)


def decode_stamp(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value, STAMP_FORMAT) if value else None
    except ValueError:
        return None
