"""Alerts by e-mail: each event detected from the rows the checks wrote, told once, received as written.

Every message goes through a real SMTP server (aiosmtpd, STARTTLS on the test's CA, a login), and the
tests read what it received.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ekpanel.alerts import daily_events, detect
from ekpanel.alerts.jobs import evaluate_server_job
from ekpanel.alerts.models import AlertDelivery, AlertEvent
from ekpanel.alerts.recipients import choose_topics
from ekpanel.alerts.settings import alert_settings, problems
from ekpanel.alerts.topics import Topic
from ekpanel.checks.models import HELD_NEEDS_PERSON, HeldMessage
from ekpanel.extensions import db
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode, Outcome
from tests.factories import (
    make_check,
    make_company,
    make_decision,
    make_document,
    make_graph_server,
    make_imap_server,
    make_user,
)
from tests.support.alerts import BASE_URL, send_due

WAW = ZoneInfo("Europe/Warsaw")
# 12:05 in Warsaw (CET); the failing check started at 12:00.
NOW = datetime(2026, 3, 10, 11, 5)
FAILED_AT = datetime(2026, 3, 10, 11, 0)
AUTH_FAILED = note(Text.IMAP_AUTH_FAILED)


def settings(app):
    return alert_settings(app.config)


def failing_server(company_name: str = "Firma X sp. z o.o."):
    company = make_company(company_name)
    server = make_imap_server(company, host="imap.firma-x.pl", username="faktury@firma-x.pl")
    make_check(server, started_at=FAILED_AT - timedelta(hours=7), outcome=Outcome.OK)
    return server


def fail(server, at=FAILED_AT, code=ErrorCode.AUTH_FAILED, error=AUTH_FAILED):
    return make_check(server, started_at=at, outcome=Outcome.FAILED, error_code=code, error=error)


def outlook(company_name: str, mailbox: str):
    return make_graph_server(
        make_company(company_name), client_id="c", tenant="t", mailbox=mailbox, name=None
    )


def evaluate(app, server, now=NOW):
    ids = detect.evaluate_server(settings(app), server.id, now)
    send_due(now)
    return ids


# --- settings ------------------------------------------------------------------------------------


def test_alerts_are_off_until_the_smtp_server_the_sender_and_the_panels_address_are_set(app):
    config = {"SMTP_URL": "", "MAIL_FROM": "", "BASE_URL": "", "DIGEST_TIME": "07:00", "TIMEZONE": "UTC"}
    assert problems(config) == ["EKPANEL_SMTP_URL", "EKPANEL_MAIL_FROM", "EKPANEL_BASE_URL"]
    config |= {"SMTP_URL": "http://x", "MAIL_FROM": "panel", "BASE_URL": "panel.biuro.pl"}
    assert problems(config) == ["EKPANEL_SMTP_URL", "EKPANEL_MAIL_FROM", "EKPANEL_BASE_URL"]
    config |= {"SMTP_URL": "smtps://a%40b:p%3Ass@smtp.biuro.pl", "MAIL_FROM": "ekpanel <p@biuro.pl>"}
    config |= {"BASE_URL": "https://panel.biuro.pl/"}
    assert problems(config) == []
    on = alert_settings(config)
    assert (on.smtp.host, on.smtp.port, on.smtp.implicit_tls) == ("smtp.biuro.pl", 465, True)
    assert (on.smtp.username, on.smtp.password, on.sender_address) == ("a@b", "p:ss", "p@biuro.pl")
    assert on.base_url == "https://panel.biuro.pl"


def test_with_alerts_off_a_failing_server_queues_nothing(app):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = failing_server()
    fail(server)

    assert evaluate_server_job(server.id) == 0
    assert db.session.scalar(select(func.count(AlertEvent.id))) == 0


def test_panel_administratora_says_that_alerts_are_off_and_why(app, client, auth):
    make_user("admin", admin=True)
    auth.login("admin")

    page = client.get("/admin/alerts").get_data(as_text=True)

    assert "Powiadomienia e-mail są wyłączone" in page
    assert "EKPANEL_SMTP_URL, EKPANEL_MAIL_FROM, EKPANEL_BASE_URL" in page


# --- a failing server ----------------------------------------------------------------------------


def test_a_failing_mailbox_is_told_once_to_each_administrator_and_once_when_it_works_again(
    alerts_app, smtp_server
):
    admin = make_user("admin", admin=True, email="admin@biuro.example")
    make_user("bez-adresu", admin=True)  # no address: told nothing
    make_user("operator", email="operator@biuro.example")  # the digest only, by default
    server = failing_server()
    fail(server)

    evaluate(alerts_app, server)
    evaluate(alerts_app, server)  # the same check evaluated again (a retried job)
    fail(server, at=FAILED_AT + timedelta(hours=2))  # still failing
    evaluate(alerts_app, server, NOW + timedelta(hours=2))

    assert [m.recipients for m in smtp_server.received] == [["admin@biuro.example"]]
    mail = smtp_server.received[0]
    assert mail.message["Subject"] == (
        "[ekpanel] Firma X sp. z o.o.: skrzynka faktury@firma-x.pl (imap.firma-x.pl) nie działa od 12:00"
    )
    assert mail.message["From"] == "ekpanel <panel@biuro.example>"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.text().strip() == "\n".join(
        [
            "Skrzynka faktury@firma-x.pl (imap.firma-x.pl) firmy Firma X sp. z o.o. nie działa od 12:00: "
            "jej sprawdzenie kończy się błędem.",
            "",
            "Błąd: Serwer odrzucił nazwę użytkownika lub hasło.",
            "",
            "Dopóki skrzynka nie działa, nie są z niej pobierane dokumenty. Przypomnimy o tym raz dziennie "
            "i napiszemy, gdy znów zadziała.",
            "",
            f"Ustawienia serwera: {BASE_URL}/settings/email/servers/{server.id}/edit",
            f"Historia sprawdzeń: {BASE_URL}/servers/{server.id}/checks",
            "",
            "-- ",
            f"Wiadomość wysłana automatycznie przez ekpanel. Powiadomienia wybierasz na stronie Moje konto: "
            f"{BASE_URL}/account",
        ]
    )
    assert (
        f'<a href="{BASE_URL}/settings/email/servers/{server.id}/edit">Ustawienia serwera</a>' in mail.html()
    )

    make_check(server, started_at=FAILED_AT + timedelta(hours=3), outcome=Outcome.PARTIAL)
    evaluate(alerts_app, server, NOW + timedelta(hours=3))
    evaluate(alerts_app, server, NOW + timedelta(hours=3))

    assert len(smtp_server.received) == 2
    back = smtp_server.received[1]
    assert back.recipients == [admin.email]
    assert back.message["Subject"] == (
        "[ekpanel] Firma X sp. z o.o.: skrzynka faktury@firma-x.pl (imap.firma-x.pl) znów działa"
    )
    assert back.text().startswith(
        "Skrzynka faktury@firma-x.pl (imap.firma-x.pl) firmy Firma X sp. z o.o. znów działa "
        "(sprawdzenie o 15:00). Nie działała od 12:00."
    )


def test_an_operator_who_chose_failing_mailboxes_hears_of_their_companies_only_in_english(
    alerts_app, smtp_server
):
    server = failing_server()
    other = failing_server("Firma Y")
    operator = make_user("operator", email="op@biuro.example", language="en", companies=[server.company])
    choose_topics(operator, {Topic.SERVER_FAILING})
    db.session.commit()
    fail(server)
    fail(other)

    evaluate(alerts_app, server)
    evaluate(alerts_app, other)

    assert len(smtp_server.received) == 1
    mail = smtp_server.received[0]
    assert mail.message["Subject"] == (
        "[ekpanel] Firma X sp. z o.o.: mailbox faktury@firma-x.pl (imap.firma-x.pl) not working since 12:00"
    )
    text = mail.text()
    assert "Error: The server rejected the user name or password." in text
    # No right to the history: the documents page, which they can open.
    assert f"Received documents - e-mail: {BASE_URL}/companies/{server.company_id}/documents" in text
    assert "/settings/email/" not in text


def test_a_reminder_once_a_day_while_it_keeps_failing_and_none_after_it_works(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = failing_server()
    fail(server)
    evaluate(alerts_app, server)
    day_one = datetime(2026, 3, 10, 7, 0, tzinfo=WAW)

    for day in (
        day_one,
        day_one + timedelta(days=1),
        day_one + timedelta(days=1),
        day_one + timedelta(days=2),
    ):
        daily_events.daily(settings(alerts_app), day, NOW + (day - day_one))
        send_due(NOW + (day - day_one))

    subjects = [m.message["Subject"] for m in smtp_server.received]
    still = "[ekpanel] Firma X sp. z o.o.: skrzynka faktury@firma-x.pl (imap.firma-x.pl) nadal nie działa"
    assert subjects[1:] == [f"{still} (od 2026-03-10 12:00)"] * 2  # 11 and 12 March; none on the 10th
    make_check(server, started_at=FAILED_AT + timedelta(days=2, hours=5), outcome=Outcome.OK)
    daily_events.daily(settings(alerts_app), day_one + timedelta(days=3), NOW + timedelta(days=3))
    assert len(smtp_server.received) == 3


def test_withdrawn_consent_is_its_own_alert(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = outlook("Firma Z", "f@z.pl")
    server.consent_granted_at = datetime(2026, 1, 1)
    db.session.commit()
    refused = note(Text.GRAPH_CONSENT_MISSING, mailbox="f@z.pl")
    fail(server, code=ErrorCode.CONSENT_MISSING, error=refused)

    evaluate(alerts_app, server)

    assert [m.message["Subject"] for m in smtp_server.received] == [
        "[ekpanel] Firma Z: zgoda Microsoft 365 dla skrzynki f@z.pl została wycofana"
    ]
    assert "naciśnij „Udziel zgody administratora”" in smtp_server.received[0].text()


# --- secrets, held messages, forged senders ------------------------------------------------------


def test_a_client_secret_is_announced_30_7_and_1_days_ahead_once_each(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = outlook("Firma S", "f@s.pl")
    server.secret_expires_on = date(2026, 5, 1)
    db.session.commit()

    for days_before in (31, 30, 29, 8, 7, 7, 2, 1, 0):
        slot = datetime.combine(date(2026, 5, 1) - timedelta(days=days_before), datetime.min.time(), WAW)
        daily_events.expiring_secrets(settings(alerts_app), slot.date(), NOW)
    send_due(NOW)

    assert [m.message["Subject"] for m in smtp_server.received] == [
        "[ekpanel] Firma S: klucz sekretny skrzynki f@s.pl wygasa 2026-05-01"
    ] * 3
    assert ["Pozostało dni: 30." in m.text() for m in smtp_server.received] == [True, False, False]
    assert "Pozostało dni: 1." in smtp_server.received[2].text()


def test_a_secret_first_seen_five_days_ahead_gets_the_seven_day_message_only(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = outlook("Firma T", "t@t.pl")
    server.secret_expires_on = date(2026, 5, 6)
    db.session.commit()

    daily_events.expiring_secrets(settings(alerts_app), date(2026, 5, 1), NOW)
    send_due(NOW)

    assert len(smtp_server.received) == 1
    assert "Pozostało dni: 5." in smtp_server.received[0].text()


def held(server, ref: str, subject: str) -> HeldMessage:
    message = HeldMessage(
        server_id=server.id,
        folder="INBOX",
        folder_display="INBOX",
        message_ref=ref,
        sender="ktos@example.com",
        subject=subject,
        attempts=3,
        state=HELD_NEEDS_PERSON,
        error_note=note(Text.IMAP_STRUCTURE_UNREADABLE).to_json(),
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_messages_do_wyjasnienia_are_told_once_each_several_in_one_message(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = failing_server()
    held(server, "7", "Faktura 7")
    held(server, "8", "Faktura 8")

    evaluate(alerts_app, server)
    evaluate(alerts_app, server)
    held(server, "9", "Faktura 9")
    evaluate(alerts_app, server)

    subjects = [m.message["Subject"] for m in smtp_server.received]
    prefix = (
        "[ekpanel] Firma X sp. z o.o.: skrzynka faktury@firma-x.pl (imap.firma-x.pl), "
        "wiadomości do wyjaśnienia"
    )
    assert subjects == [f"{prefix}: 2", f"{prefix}: 1"]
    first, second = (m.text() for m in smtp_server.received)
    assert "INBOX · ktos@example.com · Faktura 7 — Serwer zwrócił strukturę wiadomości" in first
    assert "Faktura 8" in first and "Faktura 9" not in first
    assert "Faktura 9" in second and "Faktura 7" not in second
    assert f"{BASE_URL}/servers/{server.id}/checks" in second


def test_a_rejected_forged_sender_is_told_once(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = failing_server()
    check = make_check(server, started_at=NOW - timedelta(minutes=5))
    make_decision(
        check,
        decision="skipped",
        reason=detect.FORGED_REASON,
        sender="prezes@firma-x.pl",
        subject="Pilny przelew",
    )

    evaluate(alerts_app, server)
    evaluate(alerts_app, server)

    assert len(smtp_server.received) == 1
    assert "prezes@firma-x.pl · Pilny przelew" in smtp_server.received[0].text()


# --- the digest ----------------------------------------------------------------------------------


def test_the_digest_counts_each_operators_companies_since_the_last_one_and_is_skipped_when_nothing_is_new(
    alerts_app, smtp_server
):
    mine, theirs = make_company("Alfa"), make_company("Beta")
    operator = make_user("operator", email="op@biuro.example", companies=[mine])
    make_user("admin", admin=True, email="admin@biuro.example")  # no digest unless chosen
    day_one = datetime(2026, 3, 10, 7, 0, tzinfo=WAW)
    for hours in (-30, -20, -2):  # the first is older than a day: not in the first digest
        make_document(
            mine, created_at=day_one.astimezone(ZoneInfo("UTC")).replace(tzinfo=None) + timedelta(hours=hours)
        )
    make_document(theirs, created_at=datetime(2026, 3, 10, 5, 0))

    def digest(day):
        daily_events.digests(settings(alerts_app), day, NOW)
        send_due(NOW)

    digest(day_one)
    digest(day_one)  # a second clock, a retried job
    digest(day_one + timedelta(days=1))  # nothing new: nothing sent
    make_document(mine, created_at=datetime(2026, 3, 11, 12, 0))
    digest(day_one + timedelta(days=2))

    assert [m.recipients for m in smtp_server.received] == [[operator.email]] * 2
    first, second = smtp_server.received
    assert first.message["Subject"] == "[ekpanel] Alfa: nowe dokumenty: 2"
    assert "Nowe dokumenty od 2026-03-09 07:00 do 2026-03-10 07:00: 2." in first.text()
    assert f"Przekazane dokumenty - e-mail: {BASE_URL}/companies/{mine.id}/documents" in first.text()
    assert "Beta" not in first.text()
    # Since the last digest sent, not since yesterday.
    assert "Nowe dokumenty od 2026-03-10 07:00 do 2026-03-12 07:00: 1." in second.text()


def test_the_digest_warns_of_a_failing_mailbox_of_the_company(alerts_app, smtp_server):
    server = failing_server("Gamma")
    make_user("operator", email="op@biuro.example", companies=[server.company])
    fail(server, at=datetime(2026, 3, 9, 16, 0))
    make_document(server.company, created_at=datetime(2026, 3, 9, 10, 0))

    daily_events.digests(settings(alerts_app), datetime(2026, 3, 10, 7, 0, tzinfo=WAW), NOW)
    send_due(NOW)

    text = smtp_server.received[0].text()
    assert "- Nowe dokumenty: 1" in text
    assert "- Uwaga: skrzynka faktury@firma-x.pl (imap.firma-x.pl) nie działa od 2026-03-09 17:00." in text


def test_the_digest_counts_the_new_documents_to_look_at_and_links_to_those_with_warnings(
    alerts_app, smtp_server
):
    company = make_company("Delta")
    make_user("operator", email="op@biuro.example", companies=[company])
    same = {
        "code": "same_invoice",
        "params": {"seller_nip": "5260250274", "number": "FV/1", "document_id": 1},
    }
    same_ksef = {"code": "same_ksef_number", "params": {"ksef_number": "x", "document_id": 1}}
    changed = {"code": "changed_account", "params": {"seller_nip": "5260250274", "new": "a", "old": "b"}}
    informs = {"code": "ksef", "params": {"ksef_number": "x"}}
    created = datetime(2026, 3, 10, 5, 0)
    make_document(company, created_at=created, extraction_status="ok", warnings=[same, changed])
    make_document(company, created_at=created, extraction_status="ok", warnings=[same_ksef, same])  # once
    make_document(company, created_at=created, extraction_status="ok", warnings=[informs])  # KSeF: no line
    make_document(company, created_at=created, extraction_status="unreadable", extraction_failure="malformed")
    make_document(company, created_at=created, extraction_status="ok")
    earlier = datetime(2026, 3, 8, 5, 0)
    make_document(company, created_at=earlier, extraction_status="ok", warnings=[same])  # an earlier digest's

    daily_events.digests(settings(alerts_app), datetime(2026, 3, 10, 7, 0, tzinfo=WAW), NOW)
    send_due(NOW)

    text = smtp_server.received[0].text()
    assert "- Nowe dokumenty: 5" in text
    lines = [line for line in text.splitlines() if line.startswith("- Uwaga")]
    assert lines == [
        "- Uwaga: ta sama faktura co we wcześniejszym dokumencie: 2.",
        "- Uwaga: zmieniony rachunek sprzedawcy: 1.",
        "- Uwaga: nie udało się odczytać PDF-u: 1.",
    ]
    assert f"Dokumenty z ostrzeżeniami: {BASE_URL}/companies/{company.id}/documents?warnings=y" in text
    html = smtp_server.received[0].html()
    assert f'href="{BASE_URL}/companies/{company.id}/documents?warnings=y"' in html


def test_a_document_read_after_the_digest_that_counted_it_is_looked_at_in_the_next_one_once(
    alerts_app, smtp_server
):
    company = make_company("Zeta")
    make_user("operator", email="op@biuro.example", companies=[company])
    late = make_document(company, created_at=datetime(2026, 3, 10, 5, 0))  # not read by the digest
    changed = {"code": "changed_account", "params": {"seller_nip": "5260250274", "new": "a", "old": "b"}}

    def digest(day: int) -> None:
        daily_events.digests(settings(alerts_app), datetime(2026, 3, day, 7, 0, tzinfo=WAW), NOW)
        send_due(NOW)

    digest(10)
    late.extraction_status, late.warnings = "ok", [changed]
    late.first_read_at = late.extracted_at = datetime(2026, 3, 10, 9, 0)  # read at last
    db.session.commit()
    digest(11)
    late.extracted_at = datetime(2026, 3, 11, 9, 0)  # read again (documents extract --all)
    db.session.commit()
    digest(12)

    first, second = smtp_server.received  # nothing new on the 12th: nothing sent
    assert "- Nowe dokumenty: 1" in first.text() and "Uwaga" not in first.text()
    assert second.message["Subject"] == "[ekpanel] Dokumenty do sprawdzenia, firmy: Zeta"
    lines = [line for line in second.text().splitlines() if line.startswith("- ")]
    assert lines[:2] == ["- Nowe dokumenty: 0", "- Uwaga: zmieniony rachunek sprzedawcy: 1."]
    assert f"{BASE_URL}/companies/{company.id}/documents?warnings=y" in second.text()


def test_the_digest_looks_at_the_documents_of_the_operators_companies_only(alerts_app, smtp_server):
    mine, theirs = make_company("Eta"), make_company("Theta")
    make_user("operator", email="op@biuro.example", companies=[mine])
    make_document(mine, created_at=datetime(2026, 3, 10, 5, 0), extraction_status="ok")
    make_document(theirs, created_at=datetime(2026, 3, 10, 5, 0), extraction_status="unreadable")

    daily_events.digests(settings(alerts_app), datetime(2026, 3, 10, 7, 0, tzinfo=WAW), NOW)
    send_due(NOW)

    [sent] = smtp_server.received
    assert "Theta" not in sent.text() and "Uwaga" not in sent.text()


def test_a_digest_with_nothing_to_look_at_has_no_warning_lines_and_no_warnings_link(alerts_app, smtp_server):
    company = make_company("Epsilon")
    make_user("operator", email="op@biuro.example", companies=[company])
    make_document(company, created_at=datetime(2026, 3, 10, 5, 0), extraction_status="ok")

    daily_events.digests(settings(alerts_app), datetime(2026, 3, 10, 7, 0, tzinfo=WAW), NOW)
    send_due(NOW)

    text = smtp_server.received[0].text()
    assert "Uwaga" not in text and "ostrzeżeniami" not in text


# --- once, whoever raises it ---------------------------------------------------------------------


def test_two_workers_evaluating_the_same_failure_at_once_tell_it_once(alerts_app, smtp_server):
    make_user("admin", admin=True, email="admin@biuro.example")
    server = failing_server()
    fail(server)
    server_id, config = server.id, settings(alerts_app)  # read here: threads must not touch this session
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        with alerts_app.app_context():
            try:
                barrier.wait()
                detect.evaluate_server(config, server_id, NOW)
            except Exception as error:  # pragma: no cover - the assertion below shows it
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    send_due(NOW)

    assert errors == []
    assert db.session.scalar(select(func.count(AlertEvent.id))) == 1
    assert db.session.scalar(select(func.count(AlertDelivery.id))) == 1
    assert len(smtp_server.received) == 1
