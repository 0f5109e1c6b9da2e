"""The check on an "API Outlook 365" server, against the Microsoft emulator: what only Graph has.
Tokens, delta links, throttling, Graph's own errors, and the requests a check costs.

What every kind of mailbox must do is in test_mailbox_contract.py. Request counts come from the
emulator's log, so they are what really went over the wire.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ekpanel.checks.mailboxes import mailbox_access
from ekpanel.checks.models import HELD_RETRYING, Check, Decision, HeldMessage
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.connect import list_folders
from ekpanel.mail.folders import year_folder_name
from ekpanel.mail.mailbox import MailboxError
from ekpanel.mail.texts import Text
from tests.factories import make_graph_server
from tests.support import messages as m
from tests.support.ms_account import CLIENT_ID, MAILBOX

PROJECT_DIR = Path(__file__).resolve().parent.parent
TOKEN = r"/oauth2/v2\.0/token$"
DISCOVERY = r"/openid-configuration$"
ATTACHMENT_LIST = r"/attachments$"
ATTACHMENT_DOWNLOAD = r"/attachments/[^/]+/\$value$"
MOVE = r"/move$"


def documents() -> list[Document]:
    return list(db.session.scalars(select(Document).order_by(Document.id)))


def decisions(**where) -> list[Decision]:
    return list(db.session.scalars(select(Decision).filter_by(**where).order_by(Decision.id)))


def year_folder() -> str:
    return year_folder_name(datetime.now(ZoneInfo("Europe/Warsaw")).year)


def deliver(emulator, raw: bytes, folder: str = "inbox") -> str:
    """Put a message built by tests.support.messages into the mailbox, as Exchange would store it."""
    return emulator.add_raw_message(MAILBOX, folder, raw)


def in_folder(emulator, folder: str) -> list[dict]:
    try:
        return emulator.messages(MAILBOX, folder)
    except KeyError:  # the folder does not exist
        return []


# -- taken vs skipped ------------------------------------------------------------------------


def test_inline_pdf_is_taken_although_graph_reports_no_attachments(graph_app, ms_emulator):
    server = make_graph_server()
    msg = m.message()
    m.add_inline(msg, m.pdf_bytes())
    deliver(ms_emulator, m.as_bytes(msg))
    assert in_folder(ms_emulator, "inbox")[0]["hasAttachments"] is False

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.documents) == (1, 1)


# -- the delta link --------------------------------------------------------------------------


def test_expired_delta_link_rescans_without_duplicates(graph_app, ms_emulator):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf())
    deliver(ms_emulator, m.with_pdf(sender=m.STRANGER))
    run_check(server.id, trigger="cli")
    ms_emulator.expire_delta_links()
    deliver(ms_emulator, m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken) == ("ok", 1)
    assert len(documents()) == 2
    assert len(decisions(server_id=server.id, reason="sender not on the list")) == 1  # recorded once


# -- what it costs ---------------------------------------------------------------------------


def test_year_folder_costs_one_request_across_checks(graph_app, ms_emulator):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf())
    run_check(server.id, trigger="cli")
    deliver(ms_emulator, m.with_pdf())

    second = run_check(server.id, trigger="cli")

    assert second.counts.taken == 1
    assert ms_emulator.count("POST", r"/mailFolders$") == 1
    assert len(in_folder(ms_emulator, year_folder())) == 2


def test_one_token_request_per_check_and_none_for_the_next_check_in_the_same_worker(graph_app, ms_emulator):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf())

    run_check(server.id, trigger="cli")
    assert (ms_emulator.count("GET", DISCOVERY), ms_emulator.count("POST", TOKEN)) == (1, 1)

    deliver(ms_emulator, m.with_pdf())
    run_check(server.id, trigger="cli")
    assert (ms_emulator.count("GET", DISCOVERY), ms_emulator.count("POST", TOKEN)) == (1, 1)


def test_two_servers_of_the_same_application_keep_their_own_tokens(graph_app, ms_emulator):
    other_mailbox = "druga@biuro-rachunkowe.onmicrosoft.com"
    ms_emulator.add_mailbox(other_mailbox)
    first, second = make_graph_server(), make_graph_server(mailbox=other_mailbox)

    for _ in range(2):
        assert run_check(first.id, trigger="cli").outcome == "ok"
        assert run_check(second.id, trigger="cli").outcome == "ok"

    assert (ms_emulator.count("GET", DISCOVERY), ms_emulator.count("POST", TOKEN)) == (2, 2)


def test_second_check_without_new_mail_costs_five_requests_and_no_token(graph_app, ms_emulator):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf())
    deliver(ms_emulator, m.with_pdf(sender=m.STRANGER))
    deliver(ms_emulator, m.as_bytes(m.message()), folder="junkemail")
    run_check(server.id, trigger="cli")
    ms_emulator.reset_counts()

    result = run_check(server.id, trigger="cli")

    assert result.outcome == "ok"
    paths = [request.path.rsplit("/v1.0", 1)[-1] for request in ms_emulator.requests]
    # The well-known ids (2), the folder list (1), one delta per configured folder (2); no token.
    assert len(paths) == 5, paths
    assert sum(path.endswith("/messages/delta") for path in paths) == 2
    assert ms_emulator.count(None, r"/attachments") == 0
    assert ms_emulator.count("POST", TOKEN) == 0


def test_skipped_messages_cost_no_attachment_request_and_taken_ones_only_their_pdf(graph_app, ms_emulator):
    server = make_graph_server()
    for _ in range(3):
        deliver(ms_emulator, m.with_pdf(sender=m.STRANGER))
    msg = m.message()
    m.add_pdf(msg, m.pdf_bytes())
    m.with_png(msg)
    deliver(ms_emulator, m.as_bytes(msg))

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.skipped) == (1, 3)
    assert ms_emulator.count("GET", ATTACHMENT_LIST) == 1  # the admitted message only
    assert ms_emulator.count("GET", ATTACHMENT_DOWNLOAD) == 1  # its PDF, not its PNG


@pytest.mark.parametrize(
    "build",
    [lambda: m.message(), lambda: m.with_png(m.message())],
    ids=["plain text", "only a PNG"],
)
def test_whitelisted_message_without_a_pdf_costs_no_download(graph_app, ms_emulator, build):
    server = make_graph_server()
    deliver(ms_emulator, m.as_bytes(build()))

    result = run_check(server.id, trigger="cli")

    assert (result.counts.taken, result.counts.skipped) == (0, 1)
    assert ms_emulator.count("GET", ATTACHMENT_DOWNLOAD) == 0


# -- throttling and faults -------------------------------------------------------------------


def test_throttled_move_succeeds_after_retry_after(graph_app, ms_emulator):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf())
    ms_emulator.fail_next(MOVE, 429, retry_after=1, method="POST")

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken) == ("ok", 1)
    assert ms_emulator.count("POST", MOVE) == 2
    assert in_folder(ms_emulator, "inbox") == [] and len(in_folder(ms_emulator, year_folder())) == 1


def test_throttling_that_does_not_end_fails_the_check_and_the_next_check_finishes_the_job(
    graph_app, ms_emulator
):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf())
    ms_emulator.fail_next(MOVE, 429, retry_after=3600, method="POST")  # longer than we ever wait

    first = run_check(server.id, trigger="schedule")

    assert (first.outcome, first.error_code, first.transient) == ("failed", "throttled", True)
    assert len(documents()) == 1 and len(in_folder(ms_emulator, "inbox")) == 1

    second = run_check(server.id, trigger="schedule")

    assert (second.outcome, second.counts.duplicates) == ("ok", 1)
    assert len(documents()) == 1 and in_folder(ms_emulator, "inbox") == []


def test_message_graph_refuses_to_describe_is_an_error_and_the_check_goes_on(graph_app, ms_emulator):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf(subject="pierwsza"))
    deliver(ms_emulator, m.with_pdf(subject="druga"))
    ms_emulator.fail_next(ATTACHMENT_LIST, 400, code="ErrorInvalidRequest")

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.errors, result.counts.taken) == ("partial", 1, 1)
    [error] = decisions(server_id=server.id, decision="error")
    assert error.subject == "pierwsza" and "ErrorInvalidRequest" in error.detail.polish()


def test_message_whose_attachments_graph_cannot_read_is_an_error_and_the_check_goes_on(
    graph_app, ms_emulator
):
    server = make_graph_server()
    deliver(ms_emulator, m.with_pdf(subject="pierwsza"))
    broken = deliver(ms_emulator, m.with_pdf(subject="zepsuta"))
    deliver(ms_emulator, m.with_pdf(subject="trzecia"))
    ms_emulator.fail_attachments(MAILBOX, broken, status=500)  # its list, its files: every time

    result = run_check(server.id, trigger="schedule")

    assert (result.outcome, result.counts.taken, result.counts.errors) == ("partial", 2, 1)
    [error] = decisions(server_id=server.id, decision="error")
    assert error.subject == "zepsuta" and "HTTP 500" in error.detail.polish()
    assert sorted(d.subject for d in documents()) == ["pierwsza", "trzecia"]
    [left] = in_folder(ms_emulator, "inbox")
    assert (left["id"], left["isRead"]) == (broken, False)  # untouched, where it was


def test_graph_failing_message_after_message_is_an_outage_and_the_next_check_reads_them_again(
    graph_app, ms_emulator
):
    server = make_graph_server()
    refs = [deliver(ms_emulator, m.with_pdf(subject=f"FV {number}")) for number in range(3)]
    for ref in refs:
        ms_emulator.fail_attachments(MAILBOX, ref, status=500)

    first = run_check(server.id, trigger="schedule")

    assert (first.outcome, first.error_code, first.transient) == ("failed", "graph_unavailable", True)
    assert decisions(server_id=server.id) == [] and documents() == []
    ms_emulator.clear_faults()

    second = run_check(server.id, trigger="schedule")

    assert (second.outcome, second.counts.taken) == ("ok", 3)
    assert in_folder(ms_emulator, "inbox") == []


def one_message(ref: str) -> str:
    """The path of the GET that reads one message by its id (a held one, for instance)."""
    return rf"/messages/{re.escape(ref)}$"


def held_back(server_id: int) -> list[HeldMessage]:
    rows = select(HeldMessage).filter_by(server_id=server_id).order_by(HeldMessage.id)
    return list(db.session.scalars(rows))


def test_held_message_graph_fails_to_read_again_stays_held_and_the_check_goes_on(graph_app, ms_emulator):
    server = make_graph_server()
    broken = deliver(ms_emulator, m.with_pdf(subject="zepsuta"))
    ms_emulator.fail_attachments(MAILBOX, broken, status=500, times=1)
    assert run_check(server.id, trigger="schedule").counts.errors == 1
    deliver(ms_emulator, m.with_pdf(subject="nowa"))
    ms_emulator.fail_next(one_message(broken), 500, method="GET")  # its read by id, this once

    second = run_check(server.id, trigger="schedule")

    assert (second.outcome, second.counts.taken) == ("partial", 1)
    [warning] = second.warnings
    assert warning.code == Text.NOT_READ_AGAIN and warning.params["ref"] == broken
    assert "HTTP 500" in warning.polish()
    [held] = held_back(server.id)
    assert (held.message_ref, held.subject, held.attempts) == (broken, "zepsuta", 2)
    assert held.state == HELD_RETRYING
    assert "HTTP 500" in held.error.polish()

    third = run_check(server.id, trigger="schedule")

    assert (third.outcome, third.counts.taken) == ("ok", 1)
    assert sorted(d.subject for d in documents()) == ["nowa", "zepsuta"] and held_back(server.id) == []


def test_graph_failing_to_read_every_held_message_is_an_outage_and_they_stay_held(graph_app, ms_emulator):
    server = make_graph_server()
    refs = []
    for number in range(3):  # each failing one between two read fine: each the message's own error
        refs.append(deliver(ms_emulator, m.with_pdf(subject=f"FV {number}")))
        ms_emulator.fail_attachments(MAILBOX, refs[-1], status=500, times=1)
        deliver(ms_emulator, m.with_pdf(subject=f"dobra {number}"))
    assert run_check(server.id, trigger="schedule").counts.errors == 3
    for ref in refs:
        ms_emulator.fail_next(one_message(ref), 500, method="GET")

    result = run_check(server.id, trigger="schedule")

    assert (result.outcome, result.error_code, result.transient) == ("failed", "graph_unavailable", True)
    assert [(h.message_ref, h.attempts) for h in held_back(server.id)] == [(ref, 1) for ref in refs]
    assert run_check(server.id, trigger="schedule").counts.taken == 3
    assert held_back(server.id) == [] and len(documents()) == 6


def test_forwarded_message_over_the_bound_is_an_error_naming_it_and_is_not_downloaded(graph_app, ms_emulator):
    graph_app.config.update(MAX_PDF_MB=1, MAX_FORWARDED_MULTIPLE=2)
    server = make_graph_server()
    inner = m.message(subject="Faktura przekazana")
    m.add_pdf(inner, m.pdf_bytes(2 * 1024 * 1024))
    outer = m.message(subject="Fwd: Faktura")
    m.add_forwarded(outer, inner)
    deliver(ms_emulator, m.as_bytes(outer))

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.errors) == ("partial", 1)
    [error] = decisions(server_id=server.id, decision="error")
    assert "2 MB" in error.detail.polish() and "Faktura przekazana" in error.detail.polish()
    assert ms_emulator.count("GET", ATTACHMENT_DOWNLOAD) == 0
    assert len(in_folder(ms_emulator, "inbox")) == 1


def test_folder_list_refused_fails_the_check_with_graph_code(graph_app, ms_emulator):
    server = make_graph_server()
    ms_emulator.fail_next(r"/mailFolders$", 400, code="ErrorInvalidRequest", method="GET")

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.error_code) == ("failed", "graph_error")
    assert "ErrorInvalidRequest" in result.error.polish()


def test_missing_consent_gives_a_classified_failed_check(graph_app, ms_emulator):
    server = make_graph_server()
    ms_emulator.set_consent(CLIENT_ID, False)

    result = run_check(server.id, trigger="cli")

    check = db.session.get(Check, result.check_id)
    assert (check.outcome, check.error_code) == ("failed", "consent_missing")
    assert "nie udzielił zgody" in check.error.polish() and MAILBOX in check.error.polish()


def test_wrong_secret_gives_a_classified_failed_check(graph_app, ms_emulator):
    server = make_graph_server(secret="to-nie-jest-ten-klucz")

    result = run_check(server.id, trigger="cli")

    check = db.session.get(Check, result.check_id)
    assert (check.outcome, check.error_code) == ("failed", "secret_invalid")
    assert "AADSTS7000215" in check.error.polish()
    assert ms_emulator.count(None, r"^/v1\.0/") == 0


def test_unknown_tenant_gives_a_classified_failed_check(graph_app, ms_emulator):
    server = make_graph_server(tenant="contoso-nieznany.onmicrosoft.com")

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.error_code) == ("failed", "tenant_unknown")


def test_token_revoked_between_checks_is_renewed(graph_app, ms_emulator):
    server = make_graph_server()
    run_check(server.id, trigger="cli")
    ms_emulator.expire_tokens()  # msal still holds it as valid
    deliver(ms_emulator, m.with_pdf())

    result = run_check(server.id, trigger="cli")

    assert (result.outcome, result.counts.taken) == ("ok", 1)
    assert ms_emulator.count("POST", TOKEN) == 2


# -- the server dialog's folder list ---------------------------------------------------------


def test_server_dialog_lists_the_outlook_folders_with_child_folders(graph_app, ms_emulator, graph_settings):
    ms_emulator.add_folder(MAILBOX, "Faktury", "inbox")
    server = make_graph_server()

    folders = list_folders(mailbox_access(server), graph_settings)

    names = [folder.display for folder in folders]
    assert names[0] == "Inbox" and "Inbox/Faktury" in names and "Junk Email" in names
    assert "Conversation Action Settings" not in names  # hidden


def test_server_dialog_explains_a_wrong_secret(graph_app, ms_emulator, graph_settings):
    server = make_graph_server(secret="zly-klucz")

    with pytest.raises(MailboxError) as raised:
        list_folders(mailbox_access(server), graph_settings)

    assert raised.value.code == "secret_invalid"
    assert "klucz sekretny" in str(raised.value).lower()


# -- the command line ------------------------------------------------------------------------


def test_fetch_command_checks_an_outlook_server(graph_app, ms_emulator, redis_url):
    server_id = make_graph_server().id
    deliver(ms_emulator, m.with_pdf(subject="Faktura z CLI"))
    deliver(ms_emulator, m.with_pdf(sender=m.STRANGER))
    config = graph_app.config
    env = {
        **os.environ,
        "EKPANEL_INSTANCE_DIR": config["INSTANCE_DIR"],
        "EKPANEL_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "EKPANEL_STORAGE_DIR": config["STORAGE_DIR"],
        "EKPANEL_SECRET_KEY": config["SECRET_KEY"],
        "EKPANEL_MS_LOGIN_URL": ms_emulator.login_url,
        "EKPANEL_GRAPH_URL": ms_emulator.graph_url,
        "EKPANEL_CA_BUNDLE": ms_emulator.ca_path,
        "EKPANEL_REDIS_URL": redis_url,  # never the machine's own Redis
    }
    db.session.remove()  # the command opens the same SQLite file

    completed = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "fetch", "--server", str(server_id)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert "ok; pobrane wiadomości 1, dokumenty 1, pominięte 1" in completed.stdout
    assert [d.subject for d in documents()] == ["Faktura z CLI"]
    assert len(in_folder(ms_emulator, year_folder())) == 1
