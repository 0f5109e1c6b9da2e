"""Przekazane dokumenty - e-mail: list, filters, pages, the PDF and statuses, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from ekpanel.documents.models import Document
from ekpanel.documents.routes import content_disposition
from ekpanel.extensions import db
from tests.factories import make_company, make_document, make_user, pdf_bytes

COLUMNS = [
    "Data otrzymania",
    "Nadawca / temat",
    "Plik",
    "Nr faktury",
    "Sprzedawca (NIP)",
    "Kwota",
    "Ostrzeżenia",
    "Status",
]


def listed_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-document-id="(\d+)"', response.get_data(as_text=True))]


def link(response, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', response.get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def test_list_has_the_polish_columns_and_newest_first(client, operator, company):
    older = make_document(company, received_at=datetime(2026, 11, 1, 9, 0))
    newer = make_document(company, received_at=datetime(2026, 11, 2, 9, 0))
    response = client.get(f"/companies/{company.id}/documents")
    html = response.get_data(as_text=True)
    assert re.findall(r"<th[^>]*>([^<]+)</th>", html) == COLUMNS
    assert listed_ids(response) == [newer.id, older.id]


def test_list_is_a_fragment_for_htmx_and_says_so_to_caches(client, operator, company, htmx):
    make_document(company)
    response = client.get(f"/companies/{company.id}/documents", headers=htmx)
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert 'id="documents-view"' in html
    assert "HX-Request" in response.headers["Vary"]
    restore = client.get(
        f"/companies/{company.id}/documents",
        headers=htmx | {"HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "ksiegowosc@"}, ["sender"]),
        ({"q": "korekta"}, ["subject"]),
        ({"q": "ZAKUP_2026"}, ["filename"]),
        ({"q": "100%"}, ["percent"]),
        ({"q": "łódź"}, ["polish"]),  # Polish capitals fold on SQLite too
        ({"q": "ŻÓŁTA"}, ["polish"]),
        ({"status": "registered"}, ["subject"]),
        ({"date_from": "2026-11-05", "date_to": "2026-11-05"}, ["filename"]),
    ],
)
def test_filters_select_by_text_status_and_date(client, operator, company, query, expected):
    docs = {
        "sender": make_document(
            company, sender="ksiegowosc@beta.example", received_at=datetime(2026, 11, 3, 12)
        ),
        "subject": make_document(
            company, subject="Korekta faktury", status="registered", received_at=datetime(2026, 11, 4, 12)
        ),
        # 2026-11-05 00:30 in Warsaw is 2026-11-04 23:30 UTC: the date filter is in the office's time zone.
        "filename": make_document(
            company, filename="zakup_2026_11.pdf", received_at=datetime(2026, 11, 4, 23, 30)
        ),
        "percent": make_document(
            company, subject="Rabat 100% na usługę", received_at=datetime(2026, 11, 6, 12)
        ),
        "polish": make_document(
            company,
            sender="Hurtownia ŁÓDŹ <biuro@lodz.example>",
            filename="Żółta_faktura.pdf",
            received_at=datetime(2026, 11, 7, 12),
        ),
    }
    response = client.get(f"/companies/{company.id}/documents", query_string=query)
    assert listed_ids(response) == [docs[name].id for name in expected]


def test_invalid_date_range_is_explained_and_not_applied(client, operator, company):
    document = make_document(company)
    response = client.get(
        f"/companies/{company.id}/documents",
        query_string={"date_from": "2026-11-10", "date_to": "2026-11-01"},
    )
    assert response.status_code == 200
    assert "Data końcowa jest wcześniejsza niż początkowa." in response.get_data(as_text=True)
    assert listed_ids(response) == [document.id]


def test_pages_walk_every_document_once_in_order_and_back(client, operator, company):
    start = datetime(2026, 1, 1, 8, 0)
    # Pairs with the same time (the id breaks the tie) and a few without a date, which come last.
    for n in range(110):
        make_document(company, received_at=start + timedelta(hours=n // 2), commit=False)
    for _ in range(3):
        make_document(company, received_at=None, commit=False)
    db.session.commit()
    expected = list(
        db.session.scalars(
            select(Document.id)
            .where(Document.received_at.is_not(None))
            .order_by(Document.received_at.desc(), Document.id.desc())
        )
    ) + list(
        db.session.scalars(
            select(Document.id).where(Document.received_at.is_(None)).order_by(Document.id.desc())
        )
    )

    url, pages, seen = f"/companies/{company.id}/documents", [], []
    while url:
        response = client.get(url)
        pages.append((url, listed_ids(response)))
        seen += pages[-1][1]
        url = link(response, "next")
    assert seen == expected
    assert [len(ids) for _, ids in pages] == [50, 50, 13]

    back = client.get(link(client.get(pages[2][0]), "prev"))
    assert listed_ids(back) == pages[1][1]
    first = client.get(link(back, "prev"))
    assert listed_ids(first) == pages[0][1]
    assert link(first, "prev") is None


def test_count_is_capped_for_huge_lists(app, client, operator, company, monkeypatch):
    monkeypatch.setattr("ekpanel.documents.queries.COUNT_CAP", 3)
    for _ in range(51):  # more than a page, so the list has to count
        make_document(company, commit=False, data=b"%PDF-1.4 same")
    db.session.commit()
    html = client.get(f"/companies/{company.id}/documents").get_data(as_text=True)
    assert "Dokumentów: ponad 3" in html


def test_company_list_shows_new_document_counts(client, auth, company):
    other = make_company("Beta S.A.")
    make_user("anna", companies=[company, other])
    make_document(company)
    make_document(company)
    make_document(company, status="registered")
    auth.login("anna")
    html = client.get(f"/companies/{company.id}/documents").get_data(as_text=True)
    counts = dict(re.findall(r'>([^<]+)</a>\s*<span class="badge new"[^>]*data-new-count="(\d+)"', html))
    assert counts == {"Alfa sp. z o.o.": "2"}


def test_pdf_opens_inline_as_a_pdf_and_nothing_else(client, operator, company):
    data = pdf_bytes("podgląd")
    document = make_document(company, data=data, filename="Faktura_VAT_ąęśćżł.pdf")
    with client.get(f"/documents/{document.id}/pdf") as response:
        assert response.status_code == 200
        assert response.data == data
        assert response.mimetype == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline;")


def test_pdf_downloads_under_its_polish_name_with_an_ascii_fallback(client, operator, company):
    document = make_document(company, filename="Faktura_VAT_ąęśćżł.pdf")
    with client.get(f"/documents/{document.id}/pdf?download=1") as response:
        disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="Faktura_VAT_aesczl.pdf"' in disposition
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    assert unquote(encoded) == "Faktura_VAT_ąęśćżł.pdf"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("faktura.pdf", 'attachment; filename="faktura.pdf"'),
        (
            'zła "nazwa";.pdf',
            "attachment; filename=\"zla _nazwa__.pdf\"; filename*=UTF-8''z%C5%82a%20%22nazwa%22%3B.pdf",
        ),
        ("../../etc/passwd", 'attachment; filename=".._.._etc_passwd"'),
    ],
)
def test_content_disposition_quotes_what_a_header_cannot_carry(name, expected):
    assert content_disposition(name, "attachment") == expected


def test_document_page_shows_details_beside_the_pdf(client, operator, company):
    document = make_document(company, filename="Faktura_VAT_ąęśćżł.pdf", subject="Faktura za listopad")
    html = client.get(f"/documents/{document.id}").get_data(as_text=True)
    iframe = re.search(r"<iframe [^>]*>", html).group(0)
    assert 'title="Faktura_VAT_ąęśćżł.pdf"' in iframe
    assert f'src="/documents/{document.id}/pdf"' in iframe
    assert "Faktura za listopad" in html
    assert f"/documents/{document.id}/pdf?download=1" in html


def test_operator_of_another_company_gets_404_everywhere(client, auth, company):
    document = make_document(company)
    make_user("obcy", companies=[make_company("Gamma")], can_refresh=True)
    auth.login("obcy")
    assert client.get(f"/companies/{company.id}/documents").status_code == 404
    assert client.get(f"/documents/{document.id}").status_code == 404
    assert client.get(f"/documents/{document.id}/pdf").status_code == 404
    assert client.get(f"/documents/{document.id}/pdf?download=1").status_code == 404
    assert (
        client.post(f"/companies/{company.id}/documents/status", data={"ids": document.id}).status_code == 404
    )
    assert client.post(f"/companies/{company.id}/refresh").status_code == 404
    assert client.get("/documents/999999/pdf").status_code == 404


def test_marking_one_document_records_who_and_when(client, operator, company, htmx):
    document = make_document(company)
    response = client.post(
        f"/companies/{company.id}/documents/status",
        data={"ids": document.id, "status": "registered"},
        headers=htmx,
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert document.status == "registered"
    assert document.status_changed_by_id == operator.id
    assert document.status_changed_at is not None
    assert "Oznaczono jako zarejestrowane: 1." in response.get_data(as_text=True)


def test_bulk_marking_is_undone_for_exactly_the_documents_it_changed(client, operator, company, htmx):
    already = make_document(company, status="registered")
    fresh = [make_document(company) for _ in range(3)]
    other_company_document = make_document(make_company("Obca"))
    ids = [d.id for d in [already, *fresh, other_company_document]]

    response = client.post(
        f"/companies/{company.id}/documents/status",
        data={"ids": ids, "status": "registered"},
        headers=htmx,
    )
    html = response.get_data(as_text=True)
    assert "Oznaczono jako zarejestrowane: 3." in html
    undo_ids = [
        int(i) for i in re.findall(r'<input type="hidden" name="ids" value="(\d+)">', html.split("Cofnij")[0])
    ]
    db.session.expire_all()
    assert all(d.status == "registered" for d in fresh)
    assert other_company_document.status == "new"  # not this company's: left alone

    # "Cofnij" sends back exactly the three it changed, so the one registered before stays registered.
    client.post(
        f"/companies/{company.id}/documents/status",
        data={"ids": undo_ids[-3:], "status": "new"},
        headers=htmx,
    )
    db.session.expire_all()
    assert sorted(undo_ids[-3:]) == sorted(d.id for d in fresh)
    assert [d.status for d in fresh] == ["new"] * 3
    assert already.status == "registered"


def test_status_change_updates_the_new_counts_out_of_band(client, operator, company, htmx):
    document = make_document(company)
    make_document(company)
    html = client.post(
        f"/companies/{company.id}/documents/status",
        data={"ids": document.id, "status": "registered"},
        headers=htmx,
    ).get_data(as_text=True)
    assert 'id="documents-companies" aria-label="Firmy" hx-swap-oob="true"' in html
    assert 'data-new-count="1"' in html


def test_status_change_without_javascript_redirects_back_to_the_same_view(client, operator, company):
    document = make_document(company)
    response = client.post(
        f"/companies/{company.id}/documents/status?q=faktura&status=new",
        data={"ids": document.id, "status": "registered"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/companies/{company.id}/documents?q=faktura&status=new"


def test_nothing_selected_says_so(client, operator, company, htmx):
    make_document(company)
    html = client.post(
        f"/companies/{company.id}/documents/status",
        data={"status": "registered"},
        headers=htmx,
    ).get_data(as_text=True)
    assert "Nie zaznaczono żadnego dokumentu." in html


def test_operator_without_the_right_has_no_refresh_button_and_is_refused(client, operator, company):
    html = client.get(f"/companies/{company.id}/documents").get_data(as_text=True)
    assert "Odśwież" not in html
    assert client.post(f"/companies/{company.id}/refresh").status_code == 403
    assert client.get(f"/companies/{company.id}/refresh/progress").status_code == 403


def test_operator_with_the_right_sees_the_refresh_button(client, auth, company):
    make_user("ewa", companies=[company], can_refresh=True)
    auth.login("ewa")
    html = client.get(f"/companies/{company.id}/documents").get_data(as_text=True)
    assert 'id="refresh-button"' in html
