"""What the documents list and the document page show people: a dead mailbox, sizes, long values."""

from __future__ import annotations

import re
from datetime import datetime

from ekpanel.extensions import db
from tests.factories import make_check, make_company, make_document, make_imap_server, make_user


def list_html(client, company, **headers) -> str:
    return client.get(f"/companies/{company.id}/documents", headers=headers).get_data(as_text=True)


# --- a server that stopped working -------------------------------------------------------------


def test_failing_server_is_announced_above_the_list_since_its_first_failure(client, operator, company, htmx):
    server = make_imap_server(company, host="imap.dostawca.pl", username="faktury@alfa.pl")
    make_check(server, started_at=datetime(2026, 11, 20, 4, 0))
    make_check(
        server, started_at=datetime(2026, 11, 21, 4, 0), outcome="failed", error_note={"text": "Stare hasło."}
    )
    make_check(
        server,
        started_at=datetime(2026, 11, 22, 4, 0),
        outcome="failed",
        error_note={"text": "Błędne hasło."},
    )
    make_document(company)

    html = list_html(client, company)
    banner = re.search(
        rf'<p class="[^"]*server-down[^"]*" data-failing-server="{server.id}">(.*?)</p>', html, re.S
    )
    assert banner is not None
    text = " ".join(banner.group(1).split())
    # 04:00 UTC is 05:00 in Warsaw; the reason is the last check's, without a doubled full stop.
    assert f"Serwer {server.label} nie działa od 2026-11-21 05:00: Błędne hasło." in text
    assert "Błędne hasło.." not in text
    assert "Nowe dokumenty z tej skrzynki nie są pobierane — powiadom administratora." in text
    assert html.index("data-failing-server") < html.index('id="documents"')
    # The list reloads itself after Odśwież: the warning is in that fragment too, so it goes when fixed.
    assert f'data-failing-server="{server.id}"' in list_html(client, company, **htmx)


def test_no_warning_once_the_last_check_succeeded(client, operator, company):
    server = make_imap_server(company)
    make_check(
        server,
        started_at=datetime(2026, 11, 21, 4, 0),
        outcome="failed",
        error_note={"text": "Błędne hasło."},
    )
    make_check(server, started_at=datetime(2026, 11, 22, 4, 0))
    assert "data-failing-server" not in list_html(client, company)


def test_companies_on_the_left_say_which_mailbox_is_down(client, auth):
    alfa, beta, gamma = make_company("Alfa"), make_company("Beta"), make_company("Gamma")
    make_user("anna", companies=[alfa, beta, gamma])
    auth.login("anna")
    down = make_imap_server(alfa, username="a@alfa.pl")
    make_check(down, started_at=datetime(2026, 11, 21, 4, 0))
    make_check(down, started_at=datetime(2026, 11, 22, 4, 0), outcome="failed")
    make_check(down, started_at=datetime(2026, 11, 22, 11, 0), outcome="running")  # under way: not an answer
    recovered = make_imap_server(beta, username="b@beta.pl")
    make_check(recovered, started_at=datetime(2026, 11, 21, 4, 0), outcome="failed")
    make_check(recovered, started_at=datetime(2026, 11, 22, 4, 0))
    switched_off = make_imap_server(gamma, username="c@gamma.pl")
    make_check(switched_off, outcome="failed")
    switched_off.active = False
    db.session.commit()

    html = client.get("/").get_data(as_text=True)
    assert re.findall(r'data-company-failing="(\d+)"', html) == [str(alfa.id)]


def test_no_warning_for_a_disabled_server(client, operator, company):
    server = make_imap_server(company)
    make_check(server, outcome="failed", error_note={"text": "Błędne hasło."})
    server.active = False
    db.session.commit()
    assert "data-failing-server" not in list_html(client, company)


def test_warning_without_a_message_still_reads(client, operator, company):
    server = make_imap_server(company)
    make_check(server, outcome="failed")
    html = list_html(client, company)
    assert f'data-failing-server="{server.id}"' in html
    assert "nieznany błąd." in html


# --- sizes in the user's language --------------------------------------------------------------


def sized_document(company, size: int):
    document = make_document(company)
    document.size = size
    db.session.commit()
    return document


def test_sizes_have_a_decimal_comma_in_polish_and_a_point_in_english(client, operator, company):
    small, large = sized_document(company, 3000), sized_document(company, 1_150_000)
    html = list_html(client, company)
    assert "2,9 KB" in html and "1,1 MB" in html
    assert "2,9 KB" in client.get(f"/documents/{small.id}").get_data(as_text=True)

    client.post("/account/language", data={"language": "en", "next": "/"})
    html = list_html(client, company)
    assert "2.9 KB" in html and "1.1 MB" in html
    assert "1.1 MB" in client.get(f"/documents/{large.id}").get_data(as_text=True)


# --- long values stay on one line --------------------------------------------------------------


def test_long_sender_file_and_source_are_cut_with_the_whole_value_in_the_title(client, operator, company):
    make_document(
        company,
        sender="faktury@bardzo-dlugi-dostawca.example",
        filename="faktura_bardzo_dluga_nazwa_pliku_2025_12.pdf",
        server_label="biuro@ksiegowa.example@127.0.0.1",
        source_folder="INBOX/Faktury",
    )
    html = list_html(client, company)
    assert '<span class="cut sender" title="faktury@bardzo-dlugi-dostawca.example">' in html
    assert re.search(r'<a class="cut filename" title="faktura_bardzo_dluga_nazwa_pliku_2025_12.pdf"', html)
    # The mailbox and its folder: one small line under the date received.
    received = re.search(r'<td class="received">(.*?)</td>', html, re.S).group(1)
    assert (
        '<small class="cut muted source" title="biuro@ksiegowa.example@127.0.0.1 / INBOX/Faktury">'
        "biuro@ksiegowa.example@127.0.0.1 · INBOX/Faktury</small>"
    ) in received


# --- the filter form, the document page, the progress panel, the icon -------------------------


def test_filter_trigger_has_no_selector_htmx_would_read_as_an_event_filter(client, operator, company):
    html = list_html(client, company)
    trigger = re.search(r'<form id="documents-filter"[^>]*hx-trigger="([^"]+)"', html, re.S).group(1)
    assert "[" not in trigger
    assert trigger == "submit, change from:.filter-at-once"
    for name in ("date_from", "date_to", "status"):
        assert re.search(rf'<(input|select) class="filter-at-once" id="{name}"', html), name
    assert not re.search(r'class="filter-at-once" id="q"', html)  # the text waits for Enter


def test_document_page_labels_the_checksum_and_puts_it_last(client, operator, company):
    document = make_document(company)
    html = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "Suma kontrolna (SHA-256)" in html
    assert ">SHA-256<" not in html
    details = html[html.index('class="card document-details"') : html.index("</aside>")]
    assert details.rindex(document.sha256) > details.index('name="status"')  # after the actions


def test_every_page_links_the_icon_and_the_icon_is_served(client, operator, company):
    html = list_html(client, company)
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in html
    with client.get("/static/favicon.svg") as response:
        assert response.status_code == 200
        assert b"<svg" in response.data


# --- the same PDF sent again -------------------------------------------------------------------


def test_the_same_pdf_in_another_email_is_pointed_out_on_both_and_nowhere_else(client, operator, company):
    invoice = b"%PDF-1.4 faktura FV/1/11/2026"
    first = make_document(
        company, data=invoice, sender="biuro@dostawca.pl", received_at=datetime(2026, 11, 20, 9, 0)
    )
    again = make_document(company, data=invoice, received_at=datetime(2026, 11, 23, 9, 0))
    other = make_document(company, received_at=datetime(2026, 11, 22, 9, 0))
    make_document(make_company("Beta"), data=invoice)  # another company's copy is none of Alfa's business

    html = list_html(client, company)
    rows = {int(n): row for n, row in re.findall(r'data-document-id="(\d+)"(.*?)</tr>', html, re.S)}
    assert "duplikat: 20.11 10:00" in rows[again.id]
    assert "2026-11-20 10:00 (biuro@dostawca.pl)" in rows[again.id]  # 09:00 UTC is 10:00 in Warsaw
    assert f"/documents/{first.id}?" in rows[again.id]
    assert "duplikat: 23.11 10:00" in rows[first.id]
    assert "duplikat" not in rows[other.id]

    page = client.get(f"/documents/{again.id}").get_data(as_text=True)
    assert "Ten sam plik PDF przyszedł też w innych wiadomościach:" in page
    assert f"/documents/{first.id}" in page
    assert "Ten sam plik PDF" not in client.get(f"/documents/{other.id}").get_data(as_text=True)
