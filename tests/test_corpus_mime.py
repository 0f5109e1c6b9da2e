"""Real-world mail from other projects' fixtures: the PDFs we find are the PDFs there are.

``INDEX.tsv`` in the shared corpus says, per message, how many parts are both declared a PDF
and a PDF by their bytes (what the intake turns into documents), and the *From* addr-spec.
"""

from __future__ import annotations

import pytest

from ekpanel.mail.headers import header_fields
from ekpanel.mail.pdf import is_pdf_candidate, looks_like_pdf
from ekpanel.mail.structure import mime_part_bytes, parts_from_mime
from ekpanel.mail.whitelist import sender_address
from tests.support.corpus import CORPUS, corpus_rows


@pytest.mark.parametrize("row", corpus_rows())
def test_pdfs_found_in_corpus_message_match_the_index(row):
    raw = (CORPUS / row["file"]).read_bytes()
    pdfs = [
        part
        for part in parts_from_mime(raw)
        if is_pdf_candidate(part) and looks_like_pdf(mime_part_bytes(raw, part.ref))
    ]
    assert len(pdfs) == int(row["pdf_declared_and_magic"])


@pytest.mark.parametrize("row", corpus_rows())
def test_sender_of_corpus_message_matches_the_index(row):
    raw = (CORPUS / row["file"]).read_bytes()
    # An empty column: the message has no From at all, and no sender must be made up for it.
    assert sender_address(header_fields(raw).get("from")) == (row["from"] or None)
