"""``flask --app wsgi documents extract``: read the PDFs of documents already taken.

New documents are read by a worker right after intake; this reads the ones taken before that
existed, or whose reading was never queued (Redis away during the check), in the foreground with
a progress bar. ``--all`` reads every document again (after an update of the reader).
"""

from __future__ import annotations

from collections import Counter

import click
from sqlalchemy import select

from ekpanel.companies.models import Company
from ekpanel.documents.extraction import extract_document, extraction_limits, recheck_warnings
from ekpanel.documents.models import EXTRACTION_PENDING, Document
from ekpanel.extensions import db

_ENDED = {"ok": "odczytane", "no_text": "bez tekstu (skany)", "unreadable": "nie udało się odczytać"}


@click.group("documents")
def documents_group() -> None:
    """Przekazane dokumenty: odczyt faktur z plików PDF."""


@documents_group.command("extract")
@click.option("--company", "company_id", type=int, help="Tylko dokumenty jednej firmy (ID).")
@click.option(
    "--all", "read_all", is_flag=True, help="Odczytaj ponownie wszystkie, nie tylko jeszcze nieodczytane."
)
def extract_command(company_id: int | None, read_all: bool) -> None:
    """Read the PDFs of taken documents: invoice number, NIPs, amount, accounts, KSeF; warnings."""
    query = select(Document.id).order_by(Document.id)
    if company_id is not None:
        if db.session.get(Company, company_id) is None:
            raise click.ClickException(f"Nie ma firmy o ID {company_id}.")
        query = query.where(Document.company_id == company_id)
    if not read_all:
        query = query.where(Document.extraction_status == EXTRACTION_PENDING)
    ids = list(db.session.scalars(query))
    if not ids:
        click.echo("Nie ma dokumentów do odczytania.")
        return

    limits = extraction_limits()
    ended: Counter[str] = Counter()
    companies: set[int] = set()
    # In intake order, so each document's warnings see every earlier one already read.
    with click.progressbar(ids, label="Odczyt dokumentów", show_pos=True, show_percent=True) as bar:
        for document_id in bar:
            document = db.session.get(Document, document_id)
            if document is None:  # deleted meanwhile
                continue
            ended[extract_document(document, limits, recheck_later=False)] += 1
            companies.add(document.company_id)
            db.session.commit()
    # Documents read before these (by a worker, after intake) compare with them only now.
    rechecked = recheck_warnings(companies, ids[0], set(ids))

    counts = ", ".join(f"{label}: {ended[status]}" for status, label in _ENDED.items())
    click.echo(f"Dokumenty: {sum(ended.values())} ({counts}).")
    if rechecked:
        click.echo(f"Ostrzeżenia sprawdzone ponownie dla późniejszych dokumentów: {rechecked}.")
