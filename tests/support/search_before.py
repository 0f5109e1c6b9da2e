"""The documents list's search as it was before its indexes (ekpanel/documents/queries.py at 0c02696):
a LIKE over every column of every document. The test of the indexes compares their results with it,
and bench/documents_list.py their times."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Text, cast, or_

from ekpanel.documents.models import Document
from ekpanel.documents.search import TextSearch
from ekpanel.invoices import normalise_invoice_number, normalise_nip
from ekpanel.textsearch import contains_pattern


def like_before(text: str) -> ColumnElement[bool]:
    pattern = contains_pattern(text)
    matches = [
        Document.sender.ilike(pattern, escape="\\"),
        Document.subject.ilike(pattern, escape="\\"),
        Document.filename.ilike(pattern, escape="\\"),
        Document.invoice_number.ilike(pattern, escape="\\"),
    ]
    number = normalise_invoice_number(text)
    if number:
        matches.append(Document.invoice_number_normalised.like(contains_pattern(number), escape="\\"))
    digits = normalise_nip(text)
    if len(digits) >= 4 and digits.isdigit():
        matches.append(cast(Document.nips, Text).like(f"%{digits}%"))
    return or_(*matches)


def text_search_before(_company_id: int, text: str, _dialect: str) -> TextSearch:
    """In place of ekpanel.documents.search.text_search: the old LIKE, no index to serve it."""
    return TextSearch(like_before(text))
