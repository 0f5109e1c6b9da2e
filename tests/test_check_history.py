"""Check history: who may see it, what a check shows, "why was this message not taken?", server rows."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from ekpanel.checks.models import TRIGGER_REFRESH
from ekpanel.checks.queries import last_check_summary
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import Decision, Outcome, Reason
from tests.factories import make_check, make_company, make_decision, make_imap_server, make_user


@pytest.fixture
def server(company):
    return make_imap_server(company, host="imap.alfa.example", username="faktury")


def test_server_history_lists_checks_with_trigger_who_outcome_and_counts(client, auth, server):
    ewa = make_user("ewa", companies=[server.company], can_refresh=True)
    make_check(
        server, started_at=datetime(2026, 11, 20, 4, 0), examined=12, taken=2, documents=3, skipped_sender=10
    )
    make_check(
        server,
        started_at=datetime(2026, 11, 21, 11, 0),
        trigger=TRIGGER_REFRESH,
        user_id=ewa.id,
        outcome=Outcome.FAILED,
        error_code="auth_failed",
        error=note(Text.IMAP_AUTH_FAILED),
    )
    auth.login("ewa")
    html = client.get(f"/servers/{server.id}/checks").get_data(as_text=True)
    rows = re.findall(r'<tr data-check-id="\d+">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    newest, oldest = (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows)
    assert newest.startswith(
        "2026-11-21 12:00 odświeżenie ewa błąd Serwer odrzucił nazwę użytkownika lub hasło."
    )
    assert oldest.startswith("2026-11-20 05:00 harmonogram poprawnie")
    assert "sprawdzone: 12 · pobrane: 2 · dokumenty: 3 · pominięte: 10" in oldest


def test_server_history_links_back_to_the_company_history_by_that_name(client, auth, server):
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")
    html = client.get(f"/servers/{server.id}/checks").get_data(as_text=True)
    link = f'<a href="/companies/{server.company_id}/checks">« Historia sprawdzeń firmy Alfa sp. z o.o.</a>'
    assert link in html


def test_one_check_shows_every_message_with_its_decision_and_reason(client, auth, server):
    make_user("szef", admin=True)
    check = make_check(server)
    make_decision(check, decision=Decision.TAKEN, sender="faktury@dostawca.pl", subject="FV 1/11")
    make_decision(check, decision=Decision.SKIPPED, reason=Reason.SENDER, sender="spam@obcy.example")
    make_decision(check, decision=Decision.SKIPPED, reason=Reason.NO_PDF, subject="Faktura w treści")
    auth.login("szef")
    html = client.get(f"/checks/{check.id}").get_data(as_text=True)
    decisions = re.findall(r'<tr data-decision="(\w+)">', html)
    assert decisions == ["taken", "skipped", "skipped"]
    assert "nadawca spoza listy" in html and "brak pliku PDF" in html


def test_one_check_shows_its_own_warnings(client, auth, server):
    make_user("szef", admin=True)
    check = make_check(
        server,
        outcome="partial",
        warnings=(
            note(Text.FOLDER_NOT_FOUND, name="Faktury"),
            note(Text.NOT_MOVED, ref="7", folder="INBOX", reason=note(Text.IMAP_CANNOT_MOVE)),
        ),
    )
    quiet = make_check(server)
    auth.login("szef")
    html = client.get(f"/checks/{check.id}").get_data(as_text=True)
    assert re.findall(r'<li class="warning">(.*?)</li>', html) == [
        "Folder „Faktury” nie istnieje na serwerze; pozostałe foldery sprawdzono.",
        "Wiadomość 7 w folderze INBOX nie została przeniesiona: Serwer nie umie przenosić wiadomości "
        "(brak MOVE i UIDPLUS); wiadomość została w folderze.",
    ]
    assert "Ostrzeżenia" not in client.get(f"/checks/{quiet.id}").get_data(as_text=True)


def test_a_stored_failure_reads_in_english_for_an_english_user(client, auth, server):
    make_user("john", admin=True)
    check = make_check(server, outcome="failed", error=note(Text.IMAP_AUTH_FAILED))
    auth.login("john")
    client.post("/account/language", data={"language": "en", "next": "/"})
    html = client.get(f"/checks/{check.id}").get_data(as_text=True)
    assert "The server rejected the user name or password." in html
    assert "Serwer odrzucił" not in html


@pytest.mark.parametrize(
    ("query", "expected"), [("OBCY.example", ["spam@obcy.example"]), ("w treści", [None])]
)
def test_a_check_decisions_are_searched_by_sender_or_subject(client, auth, server, query, expected, htmx):
    make_user("szef", admin=True)
    check = make_check(server)
    make_decision(check, decision=Decision.TAKEN, sender="faktury@dostawca.pl", subject="FV 1/11")
    make_decision(check, decision=Decision.SKIPPED, reason=Reason.SENDER, sender="spam@obcy.example")
    make_decision(
        check, decision=Decision.SKIPPED, reason=Reason.NO_PDF, sender=None, subject="Faktura w treści"
    )
    auth.login("szef")
    response = client.get(f"/checks/{check.id}", query_string={"q": query}, headers=htmx)
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="check-decisions"' in html
    senders = [s or None for s in re.findall(r'<td class="nowrap">[^<]*</td><td>([^<]*)</td>', html)]
    assert senders == expected


def test_why_was_it_not_taken_finds_the_check_that_first_skipped_it(client, auth, server):
    """A skipped message is recorded once, by the first check that saw it; later checks do not repeat it."""
    make_user("szef", admin=True)
    first = make_check(server, started_at=datetime(2026, 11, 1, 4, 0))
    make_decision(
        first, decision=Decision.SKIPPED, reason=Reason.SENDER, sender="nowy@kontrahent.pl", subject="FV 7"
    )
    make_check(server, started_at=datetime(2026, 11, 2, 4, 0))
    auth.login("szef")
    html = client.get(f"/servers/{server.id}/checks", query_string={"q": "kontrahent"}).get_data(as_text=True)
    found = html.split('id="decision-search"')[1].split("</section>")[0]
    assert "nowy@kontrahent.pl" in found and "nadawca spoza listy" in found


def test_operator_of_the_company_without_the_right_is_refused(client, auth, server):
    check = make_check(server)
    make_user("anna", companies=[server.company])
    auth.login("anna")
    assert client.get(f"/companies/{server.company_id}/checks").status_code == 403
    assert client.get(f"/servers/{server.id}/checks").status_code == 403
    assert client.get(f"/checks/{check.id}").status_code == 403


def test_operator_of_another_company_gets_404(client, auth, server):
    check = make_check(server)
    make_user("obcy", companies=[make_company("Gamma")], can_refresh=True)
    auth.login("obcy")
    assert client.get(f"/companies/{server.company_id}/checks").status_code == 404
    assert client.get(f"/servers/{server.id}/checks").status_code == 404
    assert client.get(f"/checks/{check.id}").status_code == 404
    assert client.get("/checks/999999").status_code == 404


def test_company_history_lists_its_servers_with_their_last_check(client, auth, server):
    make_check(server, documents=4, taken=2, examined=5)
    make_user("ewa", companies=[server.company], can_refresh=True)
    auth.login("ewa")
    html = client.get(f"/companies/{server.company_id}/checks").get_data(as_text=True)
    assert "faktury (imap.alfa.example)" in html
    assert "dokumenty: 4" in html
    assert f'href="/servers/{server.id}/checks"' in html


def test_summary_of_a_server_never_checked(server):
    summary = last_check_summary(server.id)
    assert (summary["check"], summary["outcome"], summary["failing_since"], summary["running"]) == (
        None,
        None,
        None,
        False,
    )


def test_summary_says_since_when_the_checks_fail(server):
    start = datetime(2026, 11, 20, 4, 0)
    make_check(server, started_at=start, outcome=Outcome.FAILED)
    make_check(server, started_at=start + timedelta(hours=7), outcome=Outcome.PARTIAL)
    first_failure = make_check(server, started_at=start + timedelta(hours=9), outcome=Outcome.FAILED)
    last = make_check(
        server,
        started_at=start + timedelta(days=1),
        outcome=Outcome.FAILED,
        error=note(Text.IMAP_CONNECTION_LOST, host="imap.example.pl"),
    )
    make_check(
        server, started_at=start + timedelta(days=1, hours=7), outcome=Outcome.RUNNING, finished_at=None
    )
    summary = last_check_summary(server.id)
    assert summary["check"].id == last.id
    assert summary["outcome"] == Outcome.FAILED
    assert summary["error"] == note(Text.IMAP_CONNECTION_LOST, host="imap.example.pl")
    assert summary["failing_since"] == first_failure.started_at
    assert summary["running"] is True


def test_summary_after_a_good_check_has_no_failing_since(server):
    make_check(server, started_at=datetime(2026, 11, 20, 4, 0), outcome=Outcome.FAILED)
    ok = make_check(server, started_at=datetime(2026, 11, 20, 11, 0), outcome=Outcome.OK, documents=2)
    summary = last_check_summary(server.id)
    assert (summary["check"].id, summary["failing_since"], summary["counts"].documents) == (ok.id, None, 2)
    assert summary["finished_at"] == ok.finished_at
