"""The Graph mailbox against the emulator: folders, delta, attachments, moves, tokens and faults."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc

import pytest

from ekpanel.mail.decide import decide_all
from ekpanel.mail.folders import resolve_folder
from ekpanel.mail.graph_auth import AppCredentials, acquire_token
from ekpanel.mail.graph_http import RetryPolicy
from ekpanel.mail.mailbox import FolderCursor, MailboxError
from ekpanel.mail.vocabulary import ErrorCode
from ekpanel.mail.whitelist import SenderWhitelist
from tests.support import messages as m
from tests.support.ms_fixtures import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT_ID
from tests.support.ports import free_port

TOKEN_PATH = r"/oauth2/v2\.0/token$"
DISCOVERY_PATH = r"/openid-configuration$"
ATTACHMENTS_PATH = r"/attachments"


def inbox_of(mailbox):
    return resolve_folder("inbox", mailbox.list_folders())


def all_messages(mailbox, folder, cursor=None):
    """Every summary the delta yields, and the last cursor."""
    found, last = [], cursor or FolderCursor()
    for batch, after in mailbox.new_messages(folder, last):
        found += batch
        last = after
    return found, last


def add_pdf_message(emulator, folder="inbox", sender=m.WHITELISTED, **fields):
    return emulator.add_message(
        MAILBOX,
        folder,
        sender=sender,
        subject=fields.pop("subject", "Faktura"),
        attachments=[{"name": "faktura.pdf", "content_type": "application/pdf", "content": m.pdf_bytes()}],
        **fields,
    )


# -- folders ---------------------------------------------------------------------------------


def test_folders_include_child_folders_as_paths_and_flag_inbox_and_junk(ms_emulator, graph_mailbox):
    ms_emulator.add_folder(MAILBOX, "Faktury", "inbox")
    ms_emulator.add_folder(MAILBOX, "2026", "Inbox/Faktury")
    ms_emulator.add_folder(MAILBOX, "Wiadomości-śmieci stare")

    with graph_mailbox() as mailbox:
        folders = {folder.display: folder for folder in mailbox.list_folders()}

    assert {"Inbox", "Inbox/Faktury", "Inbox/Faktury/2026", "Junk Email", "Wiadomości-śmieci stare"} <= set(
        folders
    )
    assert folders["Inbox"].flags == {"\\Inbox"} and folders["Junk Email"].flags == {"\\Junk"}
    assert folders["Inbox/Faktury/2026"].ref == ms_emulator.folder_id(MAILBOX, "Inbox/Faktury/2026")


def test_hidden_folders_are_listed_only_when_asked(ms_emulator, graph_mailbox):
    ms_emulator.add_folder(MAILBOX, "Ukryty", hidden=True)

    with graph_mailbox() as mailbox:
        shown = {folder.display for folder in mailbox.list_folders()}
        with_hidden = {folder.display for folder in mailbox.list_folders(include_hidden=True)}

    assert "Ukryty" not in shown and "Conversation Action Settings" not in shown
    assert {"Ukryty", "Conversation Action Settings"} <= with_hidden


def test_spam_and_inbox_resolve_to_the_well_known_folders(graph_mailbox):
    with graph_mailbox() as mailbox:
        folders = mailbox.list_folders()

    assert resolve_folder("spam", folders).display == "Junk Email"
    assert resolve_folder("junk", folders).display == "Junk Email"
    assert resolve_folder("INBOX", folders).display == "Inbox"


def test_year_folder_is_created_under_the_root_once(ms_emulator, graph_mailbox):
    with graph_mailbox() as mailbox:
        first = mailbox.ensure_folder("eksiegowy2026")
        again = mailbox.ensure_folder("eksiegowy2026")
    with graph_mailbox() as mailbox:
        next_session = mailbox.ensure_folder("eksiegowy2026")

    assert first.ref == again.ref == next_session.ref
    [created] = [f for f in ms_emulator.folders(MAILBOX) if f["displayName"] == "eksiegowy2026"]
    assert created["path"] == "eksiegowy2026"  # directly under the root, beside Inbox
    assert ms_emulator.count("POST", r"/mailFolders$") == 1


def test_year_folder_created_meanwhile_is_looked_up_after_a_conflict(ms_emulator, graph_mailbox):
    with graph_mailbox() as mailbox:
        mailbox.list_folders()
        existing = ms_emulator.add_folder(MAILBOX, "eksiegowy2026")  # another check was quicker
        folder = mailbox.ensure_folder("eksiegowy2026")

    assert folder.ref == existing
    assert ms_emulator.count("POST", r"/mailFolders$") == 1  # answered 409 ErrorFolderExists


# -- messages --------------------------------------------------------------------------------


def test_first_delta_lists_the_folder_page_by_page_and_the_cursor_moves_only_at_the_end(
    ms_emulator, graph_mailbox
):
    refs = [add_pdf_message(ms_emulator, subject=f"Faktura {n}") for n in range(5)]

    with graph_mailbox(page_size=2) as mailbox:
        inbox = inbox_of(mailbox)
        pages = list(mailbox.new_messages(inbox, FolderCursor()))

    assert [len(batch) for batch, _ in pages] == [2, 2, 1]
    assert [cursor.delta_link for _, cursor in pages[:-1]] == [None, None]
    assert pages[-1][1].delta_link and "$deltatoken=" in pages[-1][1].delta_link
    assert [message.ref for batch, _ in pages for message in batch] == refs
    delta_queries = [r.query for r in ms_emulator.requests if r.path.endswith("/messages/delta")]
    assert ["$select" in query for query in delta_queries] == [True, False, False]  # links as given
    assert set(delta_queries[0]["$select"].split(",")) == {
        "id",
        "internetMessageId",
        "from",
        "subject",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
    }


def test_next_delta_gives_only_the_messages_that_arrived_since(ms_emulator, graph_mailbox):
    gone = add_pdf_message(ms_emulator, subject="stara")
    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        _, cursor = all_messages(mailbox, inbox)
        ms_emulator.move_message(MAILBOX, gone, "archive")
        new = add_pdf_message(ms_emulator, subject="nowa")
        found, _ = all_messages(mailbox, inbox, cursor)

    assert [message.ref for message in found] == [new]


def test_removed_entries_of_a_delta_round_are_ignored(ms_emulator, graph_mailbox, monkeypatch):
    gone = add_pdf_message(ms_emulator, subject="stara")
    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        # A delta link asked for every change (as another client would): tombstones come back.
        url = f"{ms_emulator.graph_url}/users/{MAILBOX}/mailFolders/{inbox.ref}/messages/delta"
        cursor = FolderCursor(delta_link=mailbox._graph.request("GET", url).json()["@odata.deltaLink"])
        ms_emulator.move_message(MAILBOX, gone, "archive")
        new = add_pdf_message(ms_emulator, subject="nowa")
        answers = []
        request = mailbox._graph.request

        def recorded(*args, **kwargs):
            response = request(*args, **kwargs)
            answers.extend(response.json().get("value") or [])
            return response

        monkeypatch.setattr(mailbox._graph, "request", recorded)
        found, _ = all_messages(mailbox, inbox, cursor)

    assert [item["id"] for item in answers if "@removed" in item] == [gone]
    assert [message.ref for message in found] == [new]


def test_delta_link_of_another_folder_is_not_followed(ms_emulator, graph_mailbox):
    add_pdf_message(ms_emulator, "junkemail", subject="w spamie")
    with graph_mailbox() as mailbox:
        folders = mailbox.list_folders()
        _, junk_cursor = all_messages(mailbox, resolve_folder("spam", folders))
        mine = add_pdf_message(ms_emulator, subject="w odebranych")
        found, _ = all_messages(mailbox, resolve_folder("inbox", folders), junk_cursor)

    assert [message.ref for message in found] == [mine]


def test_stored_delta_link_to_another_host_is_never_sent_our_token(ms_emulator, graph_mailbox):
    ref = add_pdf_message(ms_emulator)
    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        foreign = f"https://graph.example.invalid/v1.0/users/x/mailFolders('{inbox.ref}')/messages/delta?$deltatoken=1"
        found, _ = all_messages(mailbox, inbox, FolderCursor(delta_link=foreign))

    assert [message.ref for message in found] == [ref]  # a full read of our own folder instead


def test_expired_delta_link_means_the_folder_is_read_again(ms_emulator, graph_mailbox):
    ref = add_pdf_message(ms_emulator)
    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        _, cursor = all_messages(mailbox, inbox)
        ms_emulator.expire_delta_links()
        found, after = all_messages(mailbox, inbox, cursor)

    assert [message.ref for message in found] == [ref]
    assert after.delta_link and after.delta_link != cursor.delta_link


def test_summary_carries_sender_subject_message_id_and_date(ms_emulator, graph_mailbox):
    raw = m.with_pdf(sender="Jan Nowak <Faktury@Dostawca.pl>", subject="Faktura 7/2026 – zażółć")
    ms_emulator.add_raw_message(MAILBOX, "inbox", raw, received="2026-03-01T10:00:00Z")

    with graph_mailbox() as mailbox:
        [message], _ = all_messages(mailbox, inbox_of(mailbox))

    assert message.sender == "Faktury@Dostawca.pl"
    assert message.subject == "Faktura 7/2026 – zażółć"
    assert (
        message.message_id and "<" not in message.message_id and message.message_id.endswith("@dostawca.pl")
    )
    assert message.received_at.isoformat() == "2026-03-01T10:00:00+00:00"
    assert message.parse_error is None


def test_attachments_are_listed_only_when_looked_at_and_never_with_their_content(ms_emulator, graph_mailbox):
    add_pdf_message(ms_emulator)
    with graph_mailbox() as mailbox:
        [message], _ = all_messages(mailbox, inbox_of(mailbox))
        listed_before = ms_emulator.count("GET", ATTACHMENTS_PATH)
        parts = message.parts

    assert listed_before == 0
    assert [(p.filename, p.content_type, p.disposition) for p in parts] == [
        ("faktura.pdf", "application/pdf", "attachment")
    ]
    [listing] = [r for r in ms_emulator.requests if r.path.endswith("/attachments")]
    assert "contentBytes" not in listing.query["$select"]


def test_inline_pdf_is_a_part_although_graph_says_no_attachments(ms_emulator, graph_mailbox):
    raw = m.message()
    m.add_inline(raw, pdf := m.pdf_bytes())
    ref = ms_emulator.add_raw_message(MAILBOX, "inbox", m.as_bytes(raw))
    assert ms_emulator.messages(MAILBOX, "inbox")[0]["hasAttachments"] is False

    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        [message], _ = all_messages(mailbox, inbox)
        [part] = message.parts
        data = mailbox.fetch_part(inbox, message, part)

    assert message.ref == ref and message.graph_has_attachments is False and message.has_attachments
    assert (part.disposition, data) == ("inline", pdf)


def test_pdf_inside_a_forwarded_message_is_read_from_its_mime_downloaded_once(ms_emulator, graph_mailbox):
    inner = m.message(subject="Faktura przekazana")
    m.add_pdf(inner, pdf := m.pdf_bytes(), "fv_ąę.pdf")
    outer = m.message(subject="Fwd: Faktura")
    m.add_forwarded(outer, inner)
    ms_emulator.add_raw_message(MAILBOX, "inbox", m.as_bytes(outer))

    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        [message], _ = all_messages(mailbox, inbox)
        [part] = message.parts
        data = mailbox.fetch_part(inbox, message, part)

    assert (part.filename, part.content_type, part.in_forwarded) == ("fv_ąę.pdf", "application/pdf", True)
    assert data == pdf
    assert ms_emulator.count("GET", r"/attachments/[^/]+/\$value$") == 1


def forwarded_invoice(pdf: bytes, number: int = 1) -> bytes:
    inner = m.message(subject=f"Faktura {number}")
    m.add_pdf(inner, pdf, f"faktura-{number}.pdf")
    outer = m.message(subject=f"Fwd: Faktura {number}")
    m.add_forwarded(outer, inner)
    return m.as_bytes(outer)


def test_forwarded_part_is_sized_as_encoded_and_read_again_once_its_message_was_let_go(
    ms_emulator, graph_mailbox
):
    pdf = m.pdf_bytes(300_000)
    ms_emulator.add_raw_message(MAILBOX, "inbox", forwarded_invoice(pdf))

    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        [message], _ = all_messages(mailbox, inbox)
        [part] = message.parts
        first = mailbox.fetch_part(inbox, message, part)
        mailbox.forget(message)
        again = mailbox.fetch_part(inbox, message, part)

    assert (part.encoding, part.size > len(pdf) * 4 // 3) == ("base64", True)  # encoded octets, as IMAP
    assert first == again == pdf
    assert ms_emulator.count("GET", r"/attachments/[^/]+/\$value$") == 2


@pytest.mark.timeout(300)  # twelve 11 MB messages to put in the emulator, then read under tracemalloc
def test_a_check_of_forwarded_invoices_holds_about_one_message_in_memory(ms_emulator, graph_mailbox):
    largest = 0
    for number in range(12):
        raw = forwarded_invoice(m.pdf_bytes(8 * 1024 * 1024), number)
        largest = max(largest, len(raw))
        ms_emulator.add_raw_message(MAILBOX, "inbox", raw)
        del raw
    whitelist = SenderWhitelist([m.WHITELISTED])
    taken = []
    gc.collect()
    tracemalloc.start()
    try:
        with graph_mailbox() as mailbox:
            inbox = inbox_of(mailbox)
            for batch, _ in mailbox.new_messages(inbox, FolderCursor()):
                for _message, verdict in decide_all(mailbox, inbox, batch, whitelist, 50 * 1024 * 1024):
                    taken += [len(pdf.data) for pdf in verdict.pdfs]
                    verdict.pdfs = []  # handed to the writer, as the check does
                del batch
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert taken == [len(m.pdf_bytes(8 * 1024 * 1024))] * 12
    assert peak < 3 * largest, f"peak {peak / 2**20:.1f} MB, largest message {largest / 2**20:.1f} MB"


def test_server_error_on_one_message_is_its_error_but_three_in_a_row_are_an_outage(
    ms_emulator, graph_mailbox
):
    refs = [add_pdf_message(ms_emulator, subject=f"FV {number}") for number in range(6)]
    for ref in refs[:2] + refs[3:]:  # all but the third
        ms_emulator.fail_attachments(MAILBOX, ref, status=500)

    with graph_mailbox() as mailbox:
        messages, _ = all_messages(mailbox, inbox_of(mailbox))
        outcomes = []
        for message in messages:
            try:
                outcomes.append(len(message.parts))
            except MailboxError as error:
                outcomes.append((error.code, error.transient))

    one_message = (ErrorCode.MESSAGE_MISSING, False)
    assert outcomes == [
        one_message,
        one_message,
        1,
        one_message,
        one_message,
        (ErrorCode.GRAPH_UNAVAILABLE, True),
    ]


def test_message_gone_before_its_attachments_are_listed_is_a_message_error(ms_emulator, graph_mailbox):
    ref = add_pdf_message(ms_emulator)
    with graph_mailbox() as mailbox:
        [message], _ = all_messages(mailbox, inbox_of(mailbox))
        ms_emulator.delete_message(MAILBOX, ref)
        with pytest.raises(MailboxError) as raised:
            message.parts  # noqa: B018 - the access is what loads them

    assert raised.value.code == ErrorCode.MESSAGE_MISSING


def test_move_reports_new_ids_and_a_vanished_message_as_failed(ms_emulator, graph_mailbox):
    kept, vanished = add_pdf_message(ms_emulator), add_pdf_message(ms_emulator)
    with graph_mailbox() as mailbox:
        inbox = inbox_of(mailbox)
        messages, _ = all_messages(mailbox, inbox)
        year = mailbox.ensure_folder("eksiegowy2026")
        ms_emulator.delete_message(MAILBOX, vanished)
        outcome = mailbox.move(inbox, messages, year)

    [moved] = ms_emulator.messages(MAILBOX, "eksiegowy2026")
    assert outcome.moved == {kept: moved["id"]} and moved["id"] != kept
    assert list(outcome.failed) == [vanished]
    assert "zniknęła" in outcome.failed[vanished].polish()


# -- throttling and faults -------------------------------------------------------------------


def test_throttled_request_is_retried_after_retry_after(ms_emulator, graph_mailbox):
    waits = []
    ms_emulator.fail_next(r"/messages/delta$", 429, retry_after=7, times=2)
    add_pdf_message(ms_emulator)

    with graph_mailbox(sleep=waits.append) as mailbox:
        found, _ = all_messages(mailbox, inbox_of(mailbox))

    assert len(found) == 1 and waits == [7.0, 7.0]


def test_unavailable_without_retry_after_backs_off_exponentially(ms_emulator, graph_mailbox):
    waits = []
    ms_emulator.fail_next(r"/mailFolders$", 503, times=3)

    with graph_mailbox(sleep=waits.append) as mailbox:
        mailbox.list_folders()

    assert waits == [1.0, 2.0, 4.0]


def test_throttling_that_does_not_end_gives_up_as_throttled(ms_emulator, graph_mailbox):
    waits = []
    ms_emulator.fail_next(r"/mailFolders$", 429, retry_after=5, times=10)

    patient = graph_mailbox(sleep=waits.append, retry=RetryPolicy(max_retries=3, max_wait=60))
    with patient as mailbox, pytest.raises(MailboxError) as raised:
        mailbox.list_folders()

    assert (raised.value.code, raised.value.transient) == ("throttled", True)
    assert waits == [5.0, 5.0, 5.0]


def test_retry_after_longer_than_the_budget_gives_up_at_once(ms_emulator, graph_mailbox):
    waits = []
    ms_emulator.fail_next(r"/mailFolders$", 429, retry_after=3600)

    with graph_mailbox(sleep=waits.append) as mailbox, pytest.raises(MailboxError) as raised:
        mailbox.list_folders()

    assert raised.value.code == "throttled" and waits == []


def test_rejected_token_is_renewed_once(ms_emulator, graph_mailbox):
    with graph_mailbox() as mailbox:
        ms_emulator.expire_tokens()
        folders = mailbox.list_folders()

    assert folders
    assert ms_emulator.count("POST", TOKEN_PATH) == 2


def test_token_rejected_again_after_renewal_is_auth_failed(ms_emulator, graph_mailbox):
    ms_emulator.fail_next(r"/mailFolders", 401, times=2)

    with graph_mailbox() as mailbox, pytest.raises(MailboxError) as raised:
        mailbox.list_folders()

    assert raised.value.code == "auth_failed"


def test_missing_consent_is_classified(ms_emulator, graph_mailbox):
    ms_emulator.set_consent(CLIENT_ID, False)

    with graph_mailbox() as mailbox, pytest.raises(MailboxError) as raised:
        mailbox.list_folders()

    assert raised.value.code == "consent_missing"
    assert "zgody" in str(raised.value) and MAILBOX in str(raised.value)


def test_mailbox_outside_the_application_access_policy_is_classified(ms_emulator, graph_mailbox):
    ms_emulator.restrict_mailboxes(CLIENT_ID, ["inna@biuro-rachunkowe.onmicrosoft.com"])

    with graph_mailbox() as mailbox, pytest.raises(MailboxError) as raised:
        mailbox.list_folders()

    assert raised.value.code == "consent_missing" and "nie obejmują tej skrzynki" in str(raised.value)


def test_unknown_mailbox_is_classified(graph_mailbox):
    unknown = graph_mailbox(mailbox="nikt@biuro-rachunkowe.onmicrosoft.com")
    with unknown as mailbox, pytest.raises(MailboxError) as raised:
        mailbox.list_folders()

    assert raised.value.code == "mailbox_not_found"


@pytest.mark.parametrize(
    ("arrange", "overrides", "code", "words"),
    [
        (None, {"client_secret": "zly-klucz"}, "secret_invalid", "AADSTS7000215"),
        ("expire_secret", {}, "secret_expired", "wygasł"),
        (None, {"client_id": "11111111-2222-3333-4444-555555555555"}, "app_unknown", "AADSTS700016"),
        (None, {"tenant": "99999999-8888-7777-6666-555555555555"}, "tenant_unknown", "AADSTS90002"),
    ],
)
def test_login_failures_are_classified_by_aadsts_code(
    ms_emulator, graph_mailbox, arrange, overrides, code, words
):
    if arrange == "expire_secret":
        ms_emulator.add_app(CLIENT_ID, CLIENT_SECRET, TENANT_ID, secret_expired=True)

    with pytest.raises(MailboxError) as raised, graph_mailbox(**overrides):
        pass

    assert raised.value.code == code and words in str(raised.value)
    assert ms_emulator.count("GET", r"/v1\.0/") == 0


def test_untrusted_certificate_is_classified_even_with_requests_ca_bundle_set(
    ms_emulator, graph_mailbox, graph_settings, monkeypatch
):
    # The emulator's CA in REQUESTS_CA_BUNDLE must not make us trust it: only EKPANEL_CA_BUNDLE does.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ms_emulator.ca_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", ms_emulator.ca_path)
    settings = dataclasses.replace(graph_settings, ca_bundle=None)

    with pytest.raises(MailboxError) as raised, graph_mailbox(settings=settings):
        pass

    assert raised.value.code == "tls_untrusted"


def test_our_ca_bundle_holds_when_requests_ca_bundle_points_elsewhere(
    ms_emulator, graph_mailbox, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem")

    with graph_mailbox() as mailbox:
        assert mailbox.list_folders()


def test_office_proxy_from_the_environment_is_used(ms_emulator, graph_mailbox, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{free_port()}")  # nobody listens there

    with pytest.raises(MailboxError) as raised, graph_mailbox():
        pass

    assert raised.value.code == "proxy_failed"
    assert ms_emulator.requests == []


def test_no_proxy_exempts_a_host_from_the_office_proxy(graph_mailbox, monkeypatch):
    for name in ("NO_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("no_proxy", "127.0.0.1")

    with graph_mailbox() as mailbox:
        assert mailbox.list_folders()


# -- tokens ----------------------------------------------------------------------------------


def credentials(emulator, **fields) -> AppCredentials:
    values = {
        "server_id": 1,
        "client_id": CLIENT_ID,
        "tenant": TENANT_ID,
        "secret": CLIENT_SECRET,
        "login_url": emulator.login_url,
        "ca_bundle": emulator.ca_path,
        "timeout": 10.0,
    }
    values.update(fields)
    return AppCredentials(**values)


def test_one_application_per_server_reuses_its_token(ms_emulator, graph_mailbox):
    for _ in range(3):
        with graph_mailbox() as mailbox:
            mailbox.list_folders()

    assert ms_emulator.count("GET", DISCOVERY_PATH) == 1
    assert ms_emulator.count("POST", TOKEN_PATH) == 1


def test_two_servers_never_share_a_token_cache(ms_emulator):
    first = acquire_token(credentials(ms_emulator, server_id=1))
    second = acquire_token(credentials(ms_emulator, server_id=2))

    assert first != second
    assert ms_emulator.count("POST", TOKEN_PATH) == 2


def test_changed_secret_builds_a_new_application(ms_emulator):
    acquire_token(credentials(ms_emulator))
    ms_emulator.add_app(CLIENT_ID, "nowy-klucz", TENANT_ID)

    acquire_token(credentials(ms_emulator, secret="nowy-klucz"))

    assert ms_emulator.count("GET", DISCOVERY_PATH) == 2
    assert ms_emulator.count("POST", TOKEN_PATH) == 2
